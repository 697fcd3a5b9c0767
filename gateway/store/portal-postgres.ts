import pg from "pg";
import { openPostgresPool } from "./postgres-pool.js";
import { SCHEMA_LOCK_KEY } from "./postgres-schema.js";
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

/** Mirrors the SQLite portal tables (gateway/store/portal-sqlite.ts). */
const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS portal_messages (
  id TEXT PRIMARY KEY,
  queue_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  direction TEXT NOT NULL,
  counterpart TEXT NOT NULL,
  counterpart_name TEXT NOT NULL,
  subject TEXT,
  token_hash TEXT UNIQUE,
  created_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  revoked_at TIMESTAMPTZ,
  revoked_by TEXT,
  opened_at TIMESTAMPTZ,
  wrapped_key TEXT,
  body BYTEA,
  passphrase_hash TEXT,
  in_reply_to TEXT
);
CREATE INDEX IF NOT EXISTS portal_messages_owner ON portal_messages (owner, created_at);
CREATE INDEX IF NOT EXISTS portal_messages_queue ON portal_messages (queue_id, owner);
CREATE INDEX IF NOT EXISTS portal_messages_expiry ON portal_messages (expires_at);

CREATE TABLE IF NOT EXISTS portal_accounts (
  address TEXT PRIMARY KEY,
  password_hash TEXT,
  code_failures INTEGER NOT NULL DEFAULT 0,
  password_failures INTEGER NOT NULL DEFAULT 0,
  locked_until TIMESTAMPTZ
);
-- Added later: a counter and a lock per kind of failure, and code mails counted per address.
-- Checked first: ALTER TABLE takes an exclusive lock even when there is nothing to add, and
-- every node runs this at start.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                   AND table_name = 'portal_accounts' AND column_name = 'code_mail_window') THEN
    ALTER TABLE portal_accounts ADD COLUMN IF NOT EXISTS passphrase_failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE portal_accounts ADD COLUMN IF NOT EXISTS code_locked_until TIMESTAMPTZ;
    ALTER TABLE portal_accounts ADD COLUMN IF NOT EXISTS password_locked_until TIMESTAMPTZ;
    ALTER TABLE portal_accounts ADD COLUMN IF NOT EXISTS passphrase_locked_until TIMESTAMPTZ;
    ALTER TABLE portal_accounts ADD COLUMN IF NOT EXISTS code_mails INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE portal_accounts ADD COLUMN IF NOT EXISTS code_mail_window TIMESTAMPTZ;
  END IF;
END $$;

CREATE TABLE IF NOT EXISTS portal_unlocks (
  session_hash TEXT NOT NULL,
  portal_id TEXT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (session_hash, portal_id)
);

CREATE TABLE IF NOT EXISTS portal_codes (
  address TEXT PRIMARY KEY,
  purpose TEXT NOT NULL,
  code_hash TEXT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  verified_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS portal_sessions (
  id_hash TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  csrf_token TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
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
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_by: string | null;
  opened_at: Date | null;
  wrapped_key: string | null;
  body: Buffer | null;
  passphrase_hash: string | null;
  in_reply_to: string | null;
}

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
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    revokedBy: r.revoked_by,
    openedAt: r.opened_at,
    wrappedKey: r.wrapped_key,
    body: r.body,
    passphraseHash: r.passphrase_hash,
    inReplyTo: r.in_reply_to,
  };
}

const LIST_COLUMNS = `id, queue_id, owner, direction, counterpart, counterpart_name, subject,
  token_hash, created_at, expires_at, revoked_at, revoked_by, opened_at,
  NULL::text AS wrapped_key, NULL::bytea AS body, passphrase_hash, in_reply_to`;

const FAILURE_COLUMN: Record<FailureKind, { count: string; lock: string }> = {
  code: { count: "code_failures", lock: "code_locked_until" },
  password: { count: "password_failures", lock: "password_locked_until" },
  passphrase: { count: "passphrase_failures", lock: "passphrase_locked_until" },
};

export interface PostgresPortalStoreOptions {
  /** Connection string; from store.url or SEALGATE_DATABASE_URL. */
  url: string | undefined;
  /** Schema holding the tables, as PostgresStoreOptions.schema. Default: the search_path's. */
  schema?: string | undefined;
  /** Most connections held open; default 4 (page views are short queries). */
  maxConnections?: number | undefined;
  /** How long to wait for a connection before failing; default 5000 ms. */
  connectTimeoutMs?: number | undefined;
}

/** The portal tables of the cluster store: any node can serve any portal link. */
export class PostgresPortalStore implements PortalStore {
  readonly kind = "postgres" as const;
  readonly #pool: pg.Pool;
  #closed = false;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  static async connect(options: PostgresPortalStoreOptions): Promise<PostgresPortalStore> {
    const schema = options.schema;
    const pool = await openPostgresPool(options, {
      defaultMax: 4,
      what: "portal tables",
      setup: async (pool) => {
        const client = await pool.connect();
        try {
          await client.query("BEGIN");
          // The store's lock: nodes starting together create the tables in turn.
          await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [
            SCHEMA_LOCK_KEY.toString(),
          ]);
          if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
          await client.query(SCHEMA_SQL);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw err;
        } finally {
          client.release();
        }
      },
    });
    return new PostgresPortalStore(pool);
  }

  async #one<T extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<T | null> {
    const { rows } = await this.#pool.query<T>(sql, values);
    return rows[0] ?? null;
  }

  async putMessage(m: PortalMessageRecord): Promise<void> {
    await this.#pool.query(
      `INSERT INTO portal_messages (id, queue_id, owner, direction, counterpart,
         counterpart_name, subject, token_hash, created_at, expires_at, wrapped_key, body,
         passphrase_hash, in_reply_to)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash,
         subject = excluded.subject, expires_at = excluded.expires_at,
         wrapped_key = excluded.wrapped_key, body = excluded.body,
         passphrase_hash = excluded.passphrase_hash`,
      [
        m.id,
        m.queueId,
        m.owner,
        m.direction,
        m.counterpart,
        m.counterpartName,
        m.subject,
        m.tokenHash,
        m.createdAt,
        m.expiresAt,
        m.wrappedKey,
        m.body,
        m.passphraseHash,
        m.inReplyTo,
      ],
    );
  }

  async getMessage(id: string): Promise<StoredPortalMessage | null> {
    const row = await this.#one<MessageRow>("SELECT * FROM portal_messages WHERE id = $1", [id]);
    return row && toMessage(row);
  }

  async findReceived(queueId: string, owner: string): Promise<StoredPortalMessage | null> {
    const row = await this.#one<MessageRow>(
      `SELECT * FROM portal_messages WHERE queue_id = $1 AND owner = $2
         AND direction = 'received'`,
      [queueId, owner],
    );
    return row && toMessage(row);
  }

  async messageByToken(tokenHash: string): Promise<StoredPortalMessage | null> {
    const row = await this.#one<MessageRow>(
      `SELECT ${LIST_COLUMNS} FROM portal_messages WHERE token_hash = $1`,
      [tokenHash],
    );
    return row && toMessage(row);
  }

  async listMessages(o: { owner?: string; limit?: number } = {}): Promise<StoredPortalMessage[]> {
    const { rows } = await this.#pool.query<MessageRow>(
      `SELECT ${LIST_COLUMNS} FROM portal_messages WHERE $1::text IS NULL OR owner = $1
        ORDER BY created_at DESC, id LIMIT $2`,
      [o.owner ?? null, o.limit ?? 1000],
    );
    return rows.map(toMessage);
  }

  async hasMessagesFor(owner: string): Promise<boolean> {
    const row = await this.#one(
      "SELECT 1 FROM portal_messages WHERE owner = $1 AND direction = 'received' LIMIT 1",
      [owner],
    );
    return row !== null;
  }

  async markOpened(id: string, at: Date): Promise<boolean> {
    const r = await this.#pool.query(
      "UPDATE portal_messages SET opened_at = $1 WHERE id = $2 AND opened_at IS NULL",
      [at, id],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async revoke(id: string, by: string, at: Date): Promise<boolean> {
    const r = await this.#pool.query(
      `UPDATE portal_messages SET revoked_at = $1, revoked_by = $2, wrapped_key = NULL,
         body = NULL WHERE id = $3 AND revoked_at IS NULL`,
      [at, by, id],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async deleteExpiredBodies(now: Date): Promise<{ id: string; queueId: string }[]> {
    const { rows } = await this.#pool.query<{ id: string; queue_id: string }>(
      `UPDATE portal_messages SET body = NULL, wrapped_key = NULL
        WHERE expires_at <= $1 AND (body IS NOT NULL OR wrapped_key IS NOT NULL)
        RETURNING id, queue_id`,
      [now],
    );
    return rows.map((r) => ({ id: r.id, queueId: r.queue_id }));
  }

  async getAccount(address: string): Promise<PortalAccount | null> {
    const row = await this.#one<{
      address: string;
      password_hash: string | null;
      code_failures: number;
      password_failures: number;
      passphrase_failures: number;
      code_locked_until: Date | null;
      password_locked_until: Date | null;
      passphrase_locked_until: Date | null;
    }>("SELECT * FROM portal_accounts WHERE address = $1", [address]);
    if (!row) return null;
    return {
      address: row.address,
      passwordHash: row.password_hash,
      codeFailures: row.code_failures,
      passwordFailures: row.password_failures,
      passphraseFailures: row.passphrase_failures,
      locks: {
        code: row.code_locked_until,
        password: row.password_locked_until,
        passphrase: row.passphrase_locked_until,
      },
    };
  }

  async setPassword(address: string, passwordHash: string): Promise<void> {
    await this.#pool.query(
      `INSERT INTO portal_accounts (address, password_hash) VALUES ($1, $2)
       ON CONFLICT (address) DO UPDATE SET password_hash = excluded.password_hash,
         code_failures = 0, password_failures = 0, code_locked_until = NULL,
         password_locked_until = NULL`,
      [address, passwordHash],
    );
  }

  /** One statement, so nodes counting mails for one address together cannot pass `max`. */
  async countCodeMail(address: string, now: Date, windowMs: number, max: number) {
    const start = new Date(now.getTime() - windowMs);
    const r = await this.#pool.query(
      `INSERT INTO portal_accounts AS a (address, code_mails, code_mail_window)
       VALUES ($1, 1, $2)
       ON CONFLICT (address) DO UPDATE SET
         code_mails = CASE WHEN a.code_mail_window IS NULL OR a.code_mail_window <= $3
           THEN 1 ELSE a.code_mails + 1 END,
         code_mail_window = CASE WHEN a.code_mail_window IS NULL OR a.code_mail_window <= $3
           THEN $2 ELSE a.code_mail_window END
       WHERE a.code_mail_window IS NULL OR a.code_mail_window <= $3 OR a.code_mails < $4`,
      [address, now, start, max],
    );
    return (r.rowCount ?? 0) > 0;
  }

  /** One statement: two nodes counting failures for one address cannot both miss the limit. */
  async recordFailure(
    address: string,
    kind: FailureKind,
    max: number,
    lockUntil: Date,
  ): Promise<FailureCount> {
    const { count: col, lock } = FAILURE_COLUMN[kind];
    const row = await this.#one<{ failures: number; locked_until: Date | null }>(
      `INSERT INTO portal_accounts AS a (address, ${col}, ${lock})
       VALUES ($1, CASE WHEN 1 >= $2 THEN 0 ELSE 1 END,
               CASE WHEN 1 >= $2 THEN $3::timestamptz END)
       ON CONFLICT (address) DO UPDATE SET
         ${lock} = CASE WHEN a.${col} + 1 >= $2 THEN $3::timestamptz ELSE a.${lock} END,
         ${col} = CASE WHEN a.${col} + 1 >= $2 THEN 0 ELSE a.${col} + 1 END
       RETURNING ${col} AS failures, ${lock} AS locked_until`,
      [address, max, lockUntil],
    );
    const locked = row && row.failures === 0 ? row.locked_until : null;
    return { failures: locked ? max : (row?.failures ?? 0), lockedUntil: locked };
  }

  async clearFailures(address: string, kind: FailureKind): Promise<void> {
    const col = FAILURE_COLUMN[kind].count;
    await this.#pool.query(`UPDATE portal_accounts SET ${col} = 0 WHERE address = $1`, [address]);
  }

  async putCode(c: PortalCode): Promise<void> {
    await this.#pool.query(
      `INSERT INTO portal_codes (address, purpose, code_hash, expires_at, verified_at)
       VALUES ($1, $2, $3, $4, NULL)
       ON CONFLICT (address) DO UPDATE SET purpose = excluded.purpose,
         code_hash = excluded.code_hash, expires_at = excluded.expires_at, verified_at = NULL`,
      [c.address, c.purpose, c.codeHash, c.expiresAt],
    );
  }

  async getCode(address: string): Promise<PortalCode | null> {
    const row = await this.#one<{
      address: string;
      purpose: string;
      code_hash: string;
      expires_at: Date;
      verified_at: Date | null;
    }>("SELECT * FROM portal_codes WHERE address = $1", [address]);
    if (!row) return null;
    return {
      address: row.address,
      purpose: row.purpose as PortalCode["purpose"],
      codeHash: row.code_hash,
      expiresAt: row.expires_at,
      verifiedAt: row.verified_at,
    };
  }

  async markCodeVerified(address: string, at: Date): Promise<void> {
    await this.#pool.query("UPDATE portal_codes SET verified_at = $1 WHERE address = $2", [
      at,
      address,
    ]);
  }

  async deleteCode(address: string): Promise<void> {
    await this.#pool.query("DELETE FROM portal_codes WHERE address = $1", [address]);
  }

  async putSession(s: PortalSessionRecord): Promise<void> {
    await this.#pool.query(
      `INSERT INTO portal_sessions (id_hash, address, csrf_token, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [s.idHash, s.address, s.csrfToken, s.createdAt, s.expiresAt],
    );
  }

  async getSession(idHash: string): Promise<PortalSessionRecord | null> {
    const row = await this.#one<{
      id_hash: string;
      address: string;
      csrf_token: string;
      created_at: Date;
      expires_at: Date;
    }>("SELECT * FROM portal_sessions WHERE id_hash = $1", [idHash]);
    if (!row) return null;
    return {
      idHash: row.id_hash,
      address: row.address,
      csrfToken: row.csrf_token,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    };
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.#pool.query(
      `WITH s AS (DELETE FROM portal_sessions WHERE id_hash = $1)
       DELETE FROM portal_unlocks WHERE session_hash = $1`,
      [idHash],
    );
  }

  async deleteSessionsFor(address: string, keepIdHash?: string): Promise<number> {
    const { rows } = await this.#pool.query<{ n: string }>(
      `WITH gone AS (
         DELETE FROM portal_sessions WHERE address = $1 AND id_hash <> $2 RETURNING id_hash
       ), u AS (
         DELETE FROM portal_unlocks WHERE session_hash IN (SELECT id_hash FROM gone)
       )
       SELECT count(*) AS n FROM gone`,
      [address, keepIdHash ?? ""],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async putUnlock(sessionIdHash: string, portalId: string, expiresAt: Date): Promise<void> {
    await this.#pool.query(
      `INSERT INTO portal_unlocks (session_hash, portal_id, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (session_hash, portal_id) DO UPDATE SET expires_at = excluded.expires_at`,
      [sessionIdHash, portalId, expiresAt],
    );
  }

  async isUnlocked(sessionIdHash: string, portalId: string, now: Date): Promise<boolean> {
    const row = await this.#one(
      `SELECT 1 FROM portal_unlocks WHERE session_hash = $1 AND portal_id = $2
         AND expires_at > $3`,
      [sessionIdHash, portalId, now],
    );
    return row !== null;
  }

  async deleteExpiredSessions(now: Date): Promise<number> {
    const a = await this.#pool.query("DELETE FROM portal_sessions WHERE expires_at <= $1", [now]);
    const b = await this.#pool.query("DELETE FROM portal_codes WHERE expires_at <= $1", [now]);
    const c = await this.#pool.query("DELETE FROM portal_unlocks WHERE expires_at <= $1", [now]);
    return (a.rowCount ?? 0) + (b.rowCount ?? 0) + (c.rowCount ?? 0);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
