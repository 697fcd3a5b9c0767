/** Why the portal core refused a call. Messages name portal ids, never addresses or content. */
export type PortalErrorCode =
  /** A sealed body is not one, or fails authentication (altered, or moved to another row). */
  | "PORTAL_CORRUPT"
  /** setPassword without a code entered correctly within its lifetime. */
  | "PORTAL_NOT_VERIFIED"
  /** A password the portal does not accept (too short, too long). */
  | "PORTAL_WEAK_PASSWORD"
  /** Policy asks for a passphrase and its variable or file is missing or empty. */
  | "PORTAL_PASSPHRASE_UNAVAILABLE"
  /** The portal message is unknown, expired or revoked. */
  | "PORTAL_NOT_FOUND";

export class PortalError extends Error {
  override readonly name = "PortalError";
  readonly code: PortalErrorCode;

  constructor(code: PortalErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
