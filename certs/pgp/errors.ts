/** Stable codes for what can go wrong with OpenPGP material; messages never carry addresses. */
export type PgpErrorCode =
  | "pgp-unreadable" // not an OpenPGP key or message we can parse
  | "pgp-no-recipients" // encryption asked for without a single recipient key
  | "pgp-header-too-large" // the message's header block exceeds the bound
  | "pgp-encrypt-failed"; // openpgp refused or failed while encrypting

export class PgpError extends Error {
  override readonly name = "PgpError";
  readonly code: PgpErrorCode;

  constructor(code: PgpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
