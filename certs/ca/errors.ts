/** Stable codes for the organisation's CA; messages never hold a passphrase or key bytes. */
export type CaErrorCode =
  | "ca_bad_certificate" // the CA certificate cannot be parsed or is not a CA
  | "ca_bad_key" // the key cannot be read, the passphrase is wrong, or it is not the CA's key
  | "ca_bad_pkcs12" // a PKCS#12 file cannot be read (malformed, or a scheme sealgate lacks)
  | "ca_bad_address" // the address to issue for is not an e-mail address
  | "ca_missing" // no CA has been created or imported
  | "ca_exists" // a CA is already there and replacing it was not asked for
  | "ca_weak_passphrase"; // the passphrase protecting keys at rest is too short

export class CaError extends Error {
  override readonly name = "CaError";
  readonly code: CaErrorCode;

  constructor(code: CaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
