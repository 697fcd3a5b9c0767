export { PgpError, type PgpErrorCode } from "./errors.js";
export { splitMessage, parseFields, type RawField, type SplitMessage } from "./entity.js";
export {
  encryptPgpMime,
  encryptPgpMimeToBuffer,
  OUTER_HEADERS,
  type PgpMimeOptions,
} from "./mime.js";
export {
  checkPgpKey,
  normaliseAddress,
  readPublicKeys,
  type CheckOptions,
  type PgpUsability,
} from "./usable.js";
