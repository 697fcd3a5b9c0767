/** Stable codes for S/MIME failures; the message never holds an address, subject or body. */
export type SmimeErrorCode =
  | "smime_no_recipients" // encryptSmime was given no recipient certificate
  | "smime_bad_certificate" // a recipient or signer certificate cannot be parsed
  | "smime_unsupported_key" // a key algorithm or curve sealgate cannot encrypt to or sign with
  | "smime_empty_recipient_key" // a RecipientInfo came out without a wrapped key: fail closed
  | "smime_bad_key" // a private key cannot be read or does not match its certificate
  | "smime_bad_message"; // the entity to protect is not a MIME message

export class SmimeError extends Error {
  override readonly name = "SmimeError";
  readonly code: SmimeErrorCode;

  constructor(code: SmimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
