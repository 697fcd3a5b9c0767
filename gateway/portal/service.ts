/**
 * What the portal's web pages (gateway/portal/web) ask of the portal core. Everything here
 * speaks in the portal's terms; storage, sealing and mail are behind it. Addresses are
 * compared lower-cased and trimmed; every read is checked against the signed-in address, so
 * a token or session for one address never opens another address's message.
 */

/** A link token from the notice, resolved: the message it names and the address it was for. */
export interface TokenTarget {
  portalId: string;
  address: string;
}

export type AccountStatus = "new" | "active";
export type CodePurpose = "register" | "reset";

export type CodeCheck =
  | { kind: "ok" }
  | { kind: "wrong"; remaining: number }
  | { kind: "locked"; until: Date }
  | { kind: "expired" };

/**
 * What sendCode did. Only a page that already knows the address has portal mail (the notice
 * link's pages) may tell these apart to the visitor; the reset page answers the same for all.
 */
export type CodeSend =
  | { kind: "sent" }
  /** No received portal message for this address: nothing sent. */
  | { kind: "no-mail" }
  /** Codes are locked after too many wrong ones: nothing sent. */
  | { kind: "locked"; until: Date }
  /** portal.maxCodeMailsPerHour reached for this address: nothing sent. */
  | { kind: "throttled" };

export type PassphraseCheck =
  | { kind: "ok" }
  | { kind: "wrong"; remaining: number }
  | { kind: "locked"; until: Date }
  | { kind: "not-found" };

export type PasswordCheck =
  | { kind: "ok" }
  | { kind: "wrong"; remaining: number }
  | { kind: "locked"; until: Date }
  /** No password set yet (a new account): the pages send the register flow. */
  | { kind: "no-account" };

export interface SessionInfo {
  address: string;
  csrfToken: string;
  expiresAt: Date;
}

export interface NewSession {
  /** Goes into the cookie; only its hash is stored. */
  sessionId: string;
  csrfToken: string;
  expiresAt: Date;
}

export type PortalStatus = "active" | "expired" | "revoked";

/** One line of the inbox: never the body, the subject only when policy allows it. */
export interface PortalSummary {
  portalId: string;
  /** "received": sent to this address; "sent": a reply this address wrote in the portal. */
  direction: "received" | "sent";
  senderName: string;
  senderAddress: string;
  /** The original subject when policy allows showing it, otherwise the neutral subject. */
  subject: string;
  sentAt: Date;
  expiresAt: Date;
  status: PortalStatus;
  /** A per-message passphrase is asked before opening. */
  passphrase: boolean;
}

export interface PortalMeta extends PortalSummary {
  /** The original queue id, for support ("reference …"). */
  queueId: string;
}

export type OpenResult =
  /** raw: the whole original message (RFC 5322 bytes); the pages parse and sanitise it. */
  | { kind: "ok"; raw: Buffer; meta: PortalMeta }
  | { kind: "expired"; meta: PortalMeta }
  | { kind: "revoked"; meta: PortalMeta }
  /** Unknown id, or a message of another address: the same answer, nothing to tell apart. */
  | { kind: "not-found" }
  /** Policy set a passphrase and this session has not entered it (unlock()). */
  | { kind: "passphrase-required"; meta: PortalMeta };

export interface ReplyAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

export interface ReplyRequest {
  portalId: string;
  /** The signed-in address: the reply's From. */
  address: string;
  /** Also to the original message's other To/Cc recipients. */
  replyAll: boolean;
  /** The session replying: a passphrase-protected message needs it unlocked. */
  session?: string | undefined;
  text: string;
  attachments: ReplyAttachment[];
}

export type ReplyResult =
  | { kind: "queued"; queueId: string; portalId: string }
  | { kind: "not-found" }
  | { kind: "expired" }
  | { kind: "revoked" }
  | { kind: "passphrase-required" };

export type RevokeResult = "revoked" | "already-revoked" | "not-found";

export interface PortalService {
  /** The notice link's token, or null when unknown; a revoked or expired message still resolves. */
  resolveToken(token: string): Promise<TokenTarget | null>;

  accountStatus(address: string): Promise<AccountStatus>;
  /**
   * Mails a one-time code to the address, unless it has no portal mail, its codes are locked,
   * or it was sent portal.maxCodeMailsPerHour codes within the hour; the answer says which.
   */
  sendCode(address: string, purpose: CodePurpose): Promise<CodeSend>;
  /** Five wrong tries (portal.maxCodeAttempts) lock the address for portal.lockMinutes. */
  verifyCode(address: string, code: string): Promise<CodeCheck>;
  /**
   * After a verifyCode "ok" within the code's lifetime; throws PortalError otherwise. Ends
   * every other session of the address (all but `keepSession`, the one setting it).
   */
  setPassword(
    address: string,
    password: string,
    options?: { keepSession?: string | undefined },
  ): Promise<void>;
  verifyPassword(address: string, password: string): Promise<PasswordCheck>;

  createSession(address: string): Promise<NewSession>;
  /** null when unknown or expired. */
  getSession(sessionId: string): Promise<SessionInfo | null>;
  endSession(sessionId: string): Promise<void>;

  /** Every portal message to and reply from this address, newest first. */
  inbox(address: string): Promise<PortalSummary[]>;
  /** Records portal:viewed (and portal:opened on the first view). */
  open(
    portalId: string,
    address: string,
    /**
     * view false: the frame or a download, not recorded as another view. session: the
     * session id asking, whose unlock() of a passphrase-protected message counts.
     */
    options?: { session?: string | undefined; view?: boolean },
  ): Promise<OpenResult>;
  /**
   * Checks a message's passphrase and, when right, unlocks the message for this session
   * (kept in the store, so every node and a restart see it). Wrong ones are audited and lock
   * after portal.maxPasswordAttempts.
   */
  unlock(
    portalId: string,
    address: string,
    session: string,
    passphrase: string,
  ): Promise<PassphraseCheck>;
  /** Records portal:downloaded; call after the pages checked open() said ok. */
  recordDownload(portalId: string, address: string, attachmentIndex: number): Promise<void>;
  submitReply(request: ReplyRequest): Promise<ReplyResult>;

  /** For the CLI and later the API: by names who asked (an admin name, never an address). */
  revoke(portalId: string, by: string): Promise<RevokeResult>;
  /** Deletes bodies and wrapped keys of expired messages, keeps metadata; returns how many. */
  sweepExpired(now?: Date): Promise<number>;
}
