/**
 * The portal's tables behind one interface, like the queue's Store: SQLite (embedded) and
 * PostgreSQL (cluster). The store keeps what it is given; hashing, sealing and the rules
 * (lockout, expiry, who may read) live in gateway/portal. Addresses arrive lower-cased.
 */

export type PortalDirection = "received" | "sent";

export interface PortalMessageRecord {
  /** Portal id: random, 128 bits, shown to admins (`sealgate portal revoke ID`). */
  id: string;
  /** The queue id of the original message (received) or of the reply (sent). */
  queueId: string;
  /** Whose inbox it is in: the recipient (received) or the reply's author (sent). */
  owner: string;
  direction: PortalDirection;
  /** The original sender (received), or the address the reply went to (sent). */
  counterpart: string;
  counterpartName: string;
  /** The original subject when policy allows showing it; null: the neutral subject. */
  subject: string | null;
  /** SHA-256 of the notice link's token (received only). */
  tokenHash: string | null;
  createdAt: Date;
  expiresAt: Date;
  /** The data key sealed under the KEK (gateway/keys/kek.ts); null once deleted. */
  wrappedKey: string | null;
  /** The message sealed under the data key; null once deleted. */
  body: Buffer | null;
  /** scrypt hash of a per-message passphrase policy set, if any. */
  passphraseHash: string | null;
  /** For a sent reply: the portal id it answers. */
  inReplyTo: string | null;
}

export interface StoredPortalMessage extends PortalMessageRecord {
  revokedAt: Date | null;
  revokedBy: string | null;
  openedAt: Date | null;
}

export interface PortalAccount {
  address: string;
  passwordHash: string | null;
  codeFailures: number;
  passwordFailures: number;
  passphraseFailures: number;
  /**
   * Each kind locks on its own: wrong passwords typed by a stranger must not also stop the
   * owner from proving the address with a mailed code (and from resetting the password).
   */
  locks: Record<FailureKind, Date | null>;
}

export interface PortalCode {
  address: string;
  purpose: "register" | "reset";
  codeHash: string;
  expiresAt: Date;
  /** When the code was entered correctly; setPassword needs this. */
  verifiedAt: Date | null;
}

export interface PortalSessionRecord {
  /** SHA-256 of the session id in the cookie. */
  idHash: string;
  address: string;
  csrfToken: string;
  createdAt: Date;
  expiresAt: Date;
}

/** What was typed wrong: a mailed code, the account password, a message's passphrase. */
export type FailureKind = "code" | "password" | "passphrase";

export interface FailureCount {
  /** Failures since the last lock or success. */
  failures: number;
  /** Set when this failure reached the limit (the counter starts again at 0). */
  lockedUntil: Date | null;
}

export interface PortalStore {
  readonly kind: "sqlite" | "postgres";
  /**
   * Inserts or replaces the row with this id (a pipeline retry re-stores the same id with a
   * new token and body). Returns nothing; ids come from the caller.
   */
  putMessage(record: PortalMessageRecord): Promise<void>;
  getMessage(id: string): Promise<StoredPortalMessage | null>;
  /** The received row a pipeline run stored for this queue id and recipient, if any. */
  findReceived(queueId: string, owner: string): Promise<StoredPortalMessage | null>;
  /** The row a link token names, without body and key (a click never reads the body). */
  messageByToken(tokenHash: string): Promise<StoredPortalMessage | null>;
  /** Newest first; with owner, only that inbox. Rows come without body and key. */
  listMessages(options?: { owner?: string; limit?: number }): Promise<StoredPortalMessage[]>;
  /** Whether any received message is for this address. */
  hasMessagesFor(owner: string): Promise<boolean>;
  /** Sets openedAt if unset; true when this call set it (the first view). */
  markOpened(id: string, at: Date): Promise<boolean>;
  /** Marks it revoked and deletes body and key; false when unknown or already revoked. */
  revoke(id: string, by: string, at: Date): Promise<boolean>;
  /** Deletes body and key of every message expired by `now`; returns their ids and queue ids. */
  deleteExpiredBodies(now: Date): Promise<{ id: string; queueId: string }[]>;

  getAccount(address: string): Promise<PortalAccount | null>;
  /** Creates the account if needed, sets the hash, clears code and password failures and locks. */
  setPassword(address: string, passwordHash: string): Promise<void>;
  /**
   * Counts one code mail to the address in a window of `windowMs` starting at its first mail;
   * false (nothing counted) when `max` were already sent in the current window.
   */
  countCodeMail(address: string, now: Date, windowMs: number, max: number): Promise<boolean>;
  /** Adds one failure of this kind atomically; at `max` that kind locks until `lockUntil`. */
  recordFailure(
    address: string,
    kind: FailureKind,
    max: number,
    lockUntil: Date,
  ): Promise<FailureCount>;
  clearFailures(address: string, kind: FailureKind): Promise<void>;

  /** Replaces the address's code. */
  putCode(code: PortalCode): Promise<void>;
  getCode(address: string): Promise<PortalCode | null>;
  markCodeVerified(address: string, at: Date): Promise<void>;
  deleteCode(address: string): Promise<void>;

  putSession(session: PortalSessionRecord): Promise<void>;
  getSession(idHash: string): Promise<PortalSessionRecord | null>;
  deleteSession(idHash: string): Promise<void>;
  /** Ends every session of the address except `keepIdHash`; returns how many went. */
  deleteSessionsFor(address: string, keepIdHash?: string): Promise<number>;
  /** Records that this session entered the right passphrase for the message. */
  putUnlock(sessionIdHash: string, portalId: string, expiresAt: Date): Promise<void>;
  /** Whether this session entered the right passphrase for the message (and has not expired). */
  isUnlocked(sessionIdHash: string, portalId: string, now: Date): Promise<boolean>;
  /** Removes sessions, their unlocks and codes past their expiry; returns how many rows went. */
  deleteExpiredSessions(now: Date): Promise<number>;

  close(): Promise<void>;
}
