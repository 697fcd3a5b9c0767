/** Why a key-encryption key could not be loaded or a sealed private key could not be opened. */
export type KekErrorCode =
  /** Cluster mode without a shared key: set SEALGATE_KEK or keys.kekFile. */
  | "KEK_MISSING"
  /** The configured key is unreadable or not 32 bytes of base64. */
  | "KEK_INVALID"
  /** The value was sealed with a different key-encryption key than the configured one. */
  | "KEK_MISMATCH"
  /** Not a sealed value, an unknown version, or it fails authentication (altered or moved). */
  | "KEK_CORRUPT";

/** Messages name key ids and files, never key material. */
export class KekError extends Error {
  override readonly name = "KekError";
  readonly code: KekErrorCode;

  constructor(code: KekErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
