/** Why a store refused or failed a call. Messages name queue and delivery ids, never content. */
export type StoreErrorCode =
  /** The queue id or delivery id does not exist. */
  | "STORE_NOT_FOUND"
  /** The message is no longer in the state the call expects (another worker got there first). */
  | "STORE_CONFLICT"
  /** The configuration does not describe a usable store. */
  | "STORE_CONFIG"
  /** The database could not be reached or prepared. */
  | "STORE_UNAVAILABLE"
  /** The record cannot be stored as given (a key without an id or a valid date). */
  | "STORE_INVALID";

export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
