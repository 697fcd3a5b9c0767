export { KekError, type KekErrorCode } from "./errors.js";
export {
  GENERATED_KEK_FILE,
  kekId,
  loadKek,
  openPrivate,
  sealPrivate,
  type KekConfig,
  type LoadKekOptions,
  type SealOptions,
} from "./kek.js";
