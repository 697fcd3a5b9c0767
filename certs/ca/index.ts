/** The organisation's issuing CA: create or import it, issue S/MIME certificates for staff. */
export { createCa, importCa, issueCertificate } from "./ca.js";
export type { CaMaterial, CreateCaOptions, IssueOptions, IssuedCertificate } from "./ca.js";
export { CaError, type CaErrorCode } from "./errors.js";
export { encryptPrivateKey, readPrivateKey, MIN_PASSPHRASE, type KeyAlgorithm } from "./keys.js";
export { toPkcs12 } from "./pkcs12.js";
export {
  issuedStoredKey,
  loadCaFiles,
  loadCaFromRepository,
  saveCaFiles,
  saveCaToRepository,
} from "./files.js";
export type { Pkcs12Options } from "./pkcs12.js";
