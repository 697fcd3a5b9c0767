import type Database from "better-sqlite3";
import type {
  FailureCount,
  FailureKind,
  PortalAccount,
  PortalCode,
  PortalMessageRecord,
  PortalSessionRecord,
  PortalStore,
  StoredPortalMessage,
} from "./portal-types.js";
import { openSqliteFile } from "./sqlite-file.js";

/**
 * Portal tables in the embedded store's file. Bodies and wrapped keys sit in one row so that
 * deleting them is one UPDATE; the rest of the row stays for the audit trail.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS portal_messages (
  id TEXT PRIMARY KEY,
  queue_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  direction TEXT NOT NULL,
  counterpart TEXT NOT NULL,
  counterpart_name TEXT NOT NULL,
  subject TEXT,
  token_hash TEXT UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
  revoked_by TEXT,
  opened_at INTEGER,
  wrapped_key TEXT,
  body BLOB,
  passphrase_hash TEXT,
  in_reply_to TEXT
);
CREATE INDEX IF NOT EXISTS portal_messages_owner ON portal_messages(owner, created_at);
CREATE INDEX IF NOT EXISTS portal_messages_queue ON portal_messages(queue_id, owner);
CREATE INDEX IF NOT EXISTS portal_messages_expiry ON portal_messages(expires_at);

CREATE TABLE IF NOT EXISTS portal_accounts (
  address TEXT PRIMARY KEY,
  password_hash TEXT,
  code_failures INTEGER NOT NULL DEFAULT 0,
  password_failures INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER
);

CREATE TABLE IF NOT EXISTS portal_unlocks (
  session_hash TEXT NOT NULL,
  portal_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (session_hash, portal_id)
);

CREATE TABLE IF NOT EXISTS portal_codes (
  address TEXT PRIMARY KEY,
  purpose TEXT NOT NULL,
  code_hash TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  verified_at INTEGER
);

CREATE TABLE IF NOT EXISTS portal_sessions (
  id_hash TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
`;

interface MessageRow {
  id: string;
  queue_id: string;
  owner: string;
  direction: string;
  counterpart: string;
  counterpart_name: string;
  subject: string | null;
  token_hash: string | null;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoked_by: string | null;
  opened_at: number | null;
  wrapped_key: string | null;
  body: Buffer | null;
  passphrase_hash: string | null;
  in_reply_to: string | null;
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

function toMessage(r: MessageRow): StoredPortalMessage {
  return {
    id: r.id,
    queueId: r.queue_id,
    owner: r.owner,
    direction: r.direction as StoredPortalMessage["direction"],
    counterpart: r.counterpart,
    counterpartName: r.counterpart_name,
    subject: r.subject,
    tokenHash: r.token_hash,
    createdAt: new Date(r.created_at),
    expiresAt: new Date(r.expires_at),
    revokedAt: date(r.revoked_at),
    revokedBy: r.revoked_by,
    openedAt: date(r.opened_at),
    wrappedKey: r.wrapped_key,
    body: r.body,
    passphraseHash: r.passphrase_hash,
    inReplyTo: r.in_reply_to,
  };
}

/** Lists leave the sealed parts out: an inbox never needs them. */
const LIST_COLUMNS = `id, queue_id, owner, direction, counterpart, counterpart_name, subject,
  token_hash, created_at, expires_at, revoked_at, revoked_by, opened_at,
  NULL AS wrapped_key, NULL AS body, passphrase_hash, in_reply_to`;

/**
 * Columns added after the first release of these tables: each kind of failure has its own
 * counter and lock (locked_until is no longer read), and code mails are counted per address.
 */
const ADDED_ACCOUNT_COLUMNS: Record<string, string> = {
  passphrase_failures: "INTEGER NOT NULL DEFAULT 0",
  code_locked_until: "INTEGER",
  password_locked_until: "INTEGER",
  passphrase_locked_until: "INTEGER",
  code_mails: "INTEGER NOT NULL DEFAULT 0",
  code_mail_window: "INTEGER",
};

const FAILURE_COLUMN: Record<FailureKind, { count: string; lock: string }> = {
  code: { count: "code_failures", lock: "code_locked_until" },
  password: { count: "password_failures", lock: "password_locked_until" },
  passphrase: { count: "passphrase_failures", lock: "passphrase_locked_until" },
};

interface AccountRow {
  address: string;
  password_hash: string | null;
  code_failures: number;
  password_failures: number;
  passphrase_failures: number;
  code_locked_until: number | null;
  password_locked_until: number | null;
  passphrase_locked_until: number | null;
}

export interface SqlitePortalStoreOptions {
  /** Folder holding sealgate.db (the embedded store's file). */
  dataDir: string;
}

/** The portal tables of the embedded store, on their own connection (WAL shares the file). */
export class SqlitePortalStore implements PortalStore {
  readonly kind = "sqlite" as const;
  readonly #db: Database.Database;

  constructor(options: SqlitePortalStoreOptions) {
    // The one opener of the embedded file: 0700 folder, 0600 file, whichever store opens first.
    this.#db = openSqliteFile(options.dataDir);
    // Deleted bodies and keys are overwritten with zeros in the file, not left in free pages
    // (https://sqlite.org/pragma.html#pragma_secure_delete). The pragma is per connection, and
    // every write to these tables goes through this one.
    this.#db.pragma("secure_delete = ON");
    this.#db.exec(SCHEMA);
    const have = new Set(
      (this.#db.pragma("table_info(portal_accounts)") as { name: string }[]).map((c) => c.name),
    );
    for (const [column, type] of Object.entries(ADDED_ACCOUNT_COLUMNS)) {
      if (!have.has(column)) {
        this.#db.exec(`ALTER TABLE portal_accounts ADD COLUMN ${column} ${type}`);
      }
    }
  }

  /**
   * Copies the WAL's pages (the zeroed ones included) into the file and empties the WAL, so
   * the old bytes do not live on in it until the next automatic checkpoint. Best effort: a
   * reader on another connection can hold it back, and the next checkpoint finishes it.
   */
  #checkpoint(): void {
    try {
      this.#db.pragma("wal_checkpoint(TRUNCATE)");
    } catch {
      // SQLITE_BUSY: another connection is writing; its checkpoint will do the same.
    }
  }

  async putMessage(m: PortalMessageRecord): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO portal_messages (id, queue_id, owner, direction, counterpart,
           counterpart_name, subject, token_hash, created_at, expires_at, wrapped_key, body,
           passphrase_hash, in_reply_to)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash,
           subject = excluded.subject, expires_at = excluded.expires_at,
           wrapped_key = excluded.wrapped_key, body = excluded.body,
           passphrase_hash = excluded.passphrase_hash`,
      )
      .run(
        m.id,
        m.queueId,
        m.owner,
        m.direction,
        m.counterpart,
        m.counterpartName,
        m.subject,
        m.tokenHash,
        m.createdAt.getTime(),
        m.expiresAt.getTime(),
        m.wrappedKey,
        m.body,
        m.passphraseHash,
        m.inReplyTo,
      );
  }

  async getMessage(id: string): Promise<StoredPortalMessage | null> {
    const row = this.#db.prepare("SELECT * FROM portal_messages WHERE id = ?").get(id);
    return row ? toMessage(row as MessageRow) : null;
  }

  async findReceived(queueId: string, owner: string): Promise<StoredPortalMessage | null> {
    const row = this.#db
      .prepare(
        `SELECT * FROM portal_messages WHERE queue_id = ? AND owner = ?
           AND direction = 'received'`,
      )
      .get(queueId, owner);
    return row ? toMessage(row as MessageRow) : null;
  }

  async messageByToken(tokenHash: string): Promise<StoredPortalMessage | null> {
    const row = this.#db
      .prepare(`SELECT ${LIST_COLUMNS} FROM portal_messages WHERE token_hash = ?`)
      .get(tokenHash);
    return row ? toMessage(row as MessageRow) : null;
  }

  async listMessages(o: { owner?: string; limit?: number } = {}): Promise<StoredPortalMessage[]> {
    const where = o.owner === undefined ? "" : "WHERE owner = ?";
    const rows = this.#db
      .prepare(
        `SELECT ${LIST_COLUMNS} FROM portal_messages ${where}
          ORDER BY created_at DESC, id LIMIT ?`,
      )
      .all(...(o.owner === undefined ? [] : [o.owner]), o.limit ?? 1000) as MessageRow[];
    return rows.map(toMessage);
  }

  async hasMessagesFor(owner: string): Promise<boolean> {
    const row = this.#db
      .prepare("SELECT 1 FROM portal_messages WHERE owner = ? AND direction = 'received' LIMIT 1")
      .get(owner);
    return row !== undefined;
  }

  async markOpened(id: string, at: Date): Promise<boolean> {
    const r = this.#db
      .prepare("UPDATE portal_messages SET opened_at = ? WHERE id = ? AND opened_at IS NULL")
      .run(at.getTime(), id);
    return r.changes > 0;
  }

  async revoke(id: string, by: string, at: Date): Promise<boolean> {
    const r = this.#db
      .prepare(
        `UPDATE portal_messages SET revoked_at = ?, revoked_by = ?, wrapped_key = NULL,
           body = NULL WHERE id = ? AND revoked_at IS NULL`,
      )
      .run(at.getTime(), by, id);
    if (r.changes > 0) this.#checkpoint();
    return r.changes > 0;
  }

  async deleteExpiredBodies(now: Date): Promise<{ id: string; queueId: string }[]> {
    const gone = this.#db.transaction(() => {
      const rows = this.#db
        .prepare(
          `SELECT id, queue_id FROM portal_messages
            WHERE expires_at <= ? AND (body IS NOT NULL OR wrapped_key IS NOT NULL)`,
        )
        .all(now.getTime()) as { id: string; queue_id: string }[];
      const clear = this.#db.prepare(
        "UPDATE portal_messages SET body = NULL, wrapped_key = NULL WHERE id = ?",
      );
      for (const row of rows) clear.run(row.id);
      return rows.map((r) => ({ id: r.id, queueId: r.queue_id }));
    })();
    if (gone.length > 0) this.#checkpoint();
    return gone;
  }

  async getAccount(address: string): Promise<PortalAccount | null> {
    const row = this.#db.prepare("SELECT * FROM portal_accounts WHERE address = ?").get(address) as
      AccountRow | undefined;
    if (!row) return null;
    return {
      address: row.address,
      passwordHash: row.password_hash,
      codeFailures: row.code_failures,
      passwordFailures: row.password_failures,
      passphraseFailures: row.passphrase_failures,
      locks: {
        code: date(row.code_locked_until),
        password: date(row.password_locked_until),
        passphrase: date(row.passphrase_locked_until),
      },
    };
  }

  async setPassword(address: string, passwordHash: string): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO portal_accounts (address, password_hash) VALUES (?, ?)
         ON CONFLICT (address) DO UPDATE SET password_hash = excluded.password_hash,
           code_failures = 0, password_failures = 0, code_locked_until = NULL,
           password_locked_until = NULL`,
      )
      .run(address, passwordHash);
  }

  async countCodeMail(address: string, now: Date, windowMs: number, max: number) {
    const t = now.getTime();
    return this.#db.transaction(() => {
      this.#db
        .prepare("INSERT INTO portal_accounts (address) VALUES (?) ON CONFLICT DO NOTHING")
        .run(address);
      const r = this.#db
        .prepare(
          `UPDATE portal_accounts SET
             code_mails = CASE WHEN code_mail_window IS NULL OR code_mail_window <= ?
               THEN 1 ELSE code_mails + 1 END,
             code_mail_window = CASE WHEN code_mail_window IS NULL OR code_mail_window <= ?
               THEN ? ELSE code_mail_window END
           WHERE address = ? AND (code_mail_window IS NULL OR code_mail_window <= ?
             OR code_mails < ?)`,
        )
        .run(t - windowMs, t - windowMs, t, address, t - windowMs, max);
      return r.changes > 0;
    })();
  }

  async recordFailure(
    address: string,
    kind: FailureKind,
    max: number,
    lockUntil: Date,
  ): Promise<FailureCount> {
    const { count: col, lock } = FAILURE_COLUMN[kind];
    const row = this.#db.transaction(() => {
      this.#db
        .prepare("INSERT INTO portal_accounts (address) VALUES (?) ON CONFLICT DO NOTHING")
        .run(address);
      return this.#db
        .prepare(
          `UPDATE portal_accounts SET
             ${lock} = CASE WHEN ${col} + 1 >= ? THEN ? ELSE ${lock} END,
             ${col} = CASE WHEN ${col} + 1 >= ? THEN 0 ELSE ${col} + 1 END
           WHERE address = ? RETURNING ${col} AS failures, ${lock} AS locked_until`,
        )
        .get(max, lockUntil.getTime(), max, address) as {
        failures: number;
        locked_until: number | null;
      };
    })();
    const locked = row.failures === 0 ? date(row.locked_until) : null;
    return { failures: locked ? max : row.failures, lockedUntil: locked };
  }

  async clearFailures(address: string, kind: FailureKind): Promise<void> {
    const col = FAILURE_COLUMN[kind].count;
    this.#db.prepare(`UPDATE portal_accounts SET ${col} = 0 WHERE address = ?`).run(address);
  }

  async putCode(c: PortalCode): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO portal_codes (address, purpose, code_hash, expires_at, verified_at)
         VALUES (?, ?, ?, ?, NULL)
         ON CONFLICT (address) DO UPDATE SET purpose = excluded.purpose,
           code_hash = excluded.code_hash, expires_at = excluded.expires_at, verified_at = NULL`,
      )
      .run(c.address, c.purpose, c.codeHash, c.expiresAt.getTime());
  }

  async getCode(address: string): Promise<PortalCode | null> {
    const row = this.#db.prepare("SELECT * FROM portal_codes WHERE address = ?").get(address) as
      | {
          address: string;
          purpose: string;
          code_hash: string;
          expires_at: number;
          verified_at: number | null;
        }
      | undefined;
    if (!row) return null;
    return {
      address: row.address,
      purpose: row.purpose as PortalCode["purpose"],
      codeHash: row.code_hash,
      expiresAt: new Date(row.expires_at),
      verifiedAt: date(row.verified_at),
    };
  }

  async markCodeVerified(address: string, at: Date): Promise<void> {
    this.#db
      .prepare("UPDATE portal_codes SET verified_at = ? WHERE address = ?")
      .run(at.getTime(), address);
  }

  async deleteCode(address: string): Promise<void> {
    this.#db.prepare("DELETE FROM portal_codes WHERE address = ?").run(address);
  }

  async putSession(s: PortalSessionRecord): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO portal_sessions (id_hash, address, csrf_token, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?)`,
      )
      .run(s.idHash, s.address, s.csrfToken, s.createdAt.getTime(), s.expiresAt.getTime());
  }

  async getSession(idHash: string): Promise<PortalSessionRecord | null> {
    const row = this.#db.prepare("SELECT * FROM portal_sessions WHERE id_hash = ?").get(idHash) as
      | {
          id_hash: string;
          address: string;
          csrf_token: string;
          created_at: number;
          expires_at: number;
        }
      | undefined;
    if (!row) return null;
    return {
      idHash: row.id_hash,
      address: row.address,
      csrfToken: row.csrf_token,
      createdAt: new Date(row.created_at),
      expiresAt: new Date(row.expires_at),
    };
  }

  async deleteSession(idHash: string): Promise<void> {
    this.#db.transaction(() => {
      this.#db.prepare("DELETE FROM portal_sessions WHERE id_hash = ?").run(idHash);
      this.#db.prepare("DELETE FROM portal_unlocks WHERE session_hash = ?").run(idHash);
    })();
  }

  async deleteSessionsFor(address: string, keepIdHash?: string): Promise<number> {
    return this.#db.transaction(() => {
      const keep = keepIdHash ?? "";
      this.#db
        .prepare(
          `DELETE FROM portal_unlocks WHERE session_hash <> ? AND session_hash IN
             (SELECT id_hash FROM portal_sessions WHERE address = ?)`,
        )
        .run(keep, address);
      return this.#db
        .prepare("DELETE FROM portal_sessions WHERE address = ? AND id_hash <> ?")
        .run(address, keep).changes;
    })();
  }

  async putUnlock(sessionIdHash: string, portalId: string, expiresAt: Date): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO portal_unlocks (session_hash, portal_id, expires_at) VALUES (?, ?, ?)
         ON CONFLICT DO UPDATE SET expires_at = excluded.expires_at`,
      )
      .run(sessionIdHash, portalId, expiresAt.getTime());
  }

  async isUnlocked(sessionIdHash: string, portalId: string, now: Date): Promise<boolean> {
    const row = this.#db
      .prepare(
        `SELECT 1 FROM portal_unlocks WHERE session_hash = ? AND portal_id = ?
           AND expires_at > ?`,
      )
      .get(sessionIdHash, portalId, now.getTime());
    return row !== undefined;
  }

  async deleteExpiredSessions(now: Date): Promise<number> {
    return this.#db.transaction(() => {
      const a = this.#db.prepare("DELETE FROM portal_sessions WHERE expires_at <= ?");
      const b = this.#db.prepare("DELETE FROM portal_codes WHERE expires_at <= ?");
      const c = this.#db.prepare("DELETE FROM portal_unlocks WHERE expires_at <= ?");
      const t = now.getTime();
      return a.run(t).changes + b.run(t).changes + c.run(t).changes;
    })();
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
