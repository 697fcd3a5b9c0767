import pg from "pg";
import { newQueueId } from "../ids.js";
import { StoreError } from "./errors.js";
import {
  byTimeThenId,
  type DeliveryRow,
  type EventRow,
  jsonText,
  lockDelivery,
  lockReceivedMessage,
  type MessageRow,
  type Queryable,
  selectRecipients,
  type SummaryRow,
  text,
  toDelivery,
  toEvent,
  toMessage,
  toRecord,
  toSummary,
} from "./postgres-rows.js";
import { openPostgresPool } from "./postgres-pool.js";
import { prepareSchema, rcptPositionSql } from "./postgres-schema.js";
import { holdCode } from "./held.js";
import { requireBytes, storedReply } from "./privacy.js";
import type {
  Deferral,
  Delivery,
  DeliveryOutcome,
  DeliveryPlan,
  HeldChange,
  HeldMessage,
  LeasedDelivery,
  LeaseOptions,
  MessageRecord,
  MessageState,
  MessageSummary,
  NewEvent,
  NewMessage,
  QueueStats,
  Release,
  Store,
  StoredEvent,
  StoredMessage,
} from "./types.js";

export interface PostgresStoreOptions {
  /** Connection string (postgres://user@host:5432/db); from store.url or SEALGATE_DATABASE_URL. */
  url: string | undefined;
  /**
   * Schema that holds the tables, created when missing and put first on every connection's
   * search_path. Default: none, the tables go where the server's search_path says (public).
   */
  schema?: string | undefined;
  /** Most connections this node holds open; default 10. */
  maxConnections?: number | undefined;
  /** How long to wait for a connection before failing; default 5000 ms. */
  connectTimeoutMs?: number | undefined;
  /**
   * Told when an idle connection breaks (server restart, network). The pool drops it and opens
   * a new one on the next call. Default: ignore.
   */
  onIdleError?: ((err: Error) => void) | undefined;
}

/**
 * A done message is never read again (no copy pending, nothing held): its bytes and those of
 * its copies are cleared in the transaction that made it done, as an MTA removes its queue
 * file. PostgreSQL keeps the old row version until VACUUM reclaims it (autovacuum does).
 */
async function clearIfDone(client: pg.PoolClient, queueId: string): Promise<void> {
  const { rowCount } = await client.query(
    "UPDATE messages SET raw = NULL WHERE id = $1 AND state = 'done' AND raw IS NOT NULL",
    [queueId],
  );
  if (rowCount) {
    await client.query("UPDATE deliveries SET raw = NULL WHERE queue_id = $1 AND raw IS NOT NULL", [
      queueId,
    ]);
  }
}

/**
 * The cluster store: several gateway nodes share one PostgreSQL database. Work is handed out
 * with row leases: a node picks due rows with `FOR UPDATE SKIP LOCKED` (so two nodes never pick
 * the same row at the same moment) and stamps them with its name and a lease end, so nobody
 * else takes them until the lease runs out. A node that dies loses its leases when they expire.
 * Lease times come from the caller's clock: run the nodes with synchronised clocks (NTP).
 */
export class PostgresStore implements Store {
  readonly kind = "postgres" as const;
  readonly #pool: pg.Pool;
  #closed = false;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** Opens a pool, checks the server answers and creates the tables if they are missing. */
  static async connect(options: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = await openPostgresPool(options, {
      defaultMax: 10,
      what: "store",
      setup: (pool) => prepareSchema(pool, options.schema),
    });
    return new PostgresStore(pool);
  }

  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    // A checked-out client reports a dropped connection as an 'error' event (its queries are
    // rejected too); without a listener that event would end the process.
    const onError = (err: Error) => (broken = err);
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch((rollbackErr: unknown) => {
        // A connection that cannot roll back is not given back to the pool.
        broken ??= rollbackErr instanceof Error ? rollbackErr : new Error("rollback failed");
      });
      throw err;
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  }

  async #insertMessage(db: Queryable, m: NewMessage, now: Date): Promise<string> {
    requireBytes(m);
    const id = newQueueId(now.getTime());
    await db.query(
      `INSERT INTO messages (id, message_id, mail_from, rcpt_to, raw, connector, client_ip,
         origin, eight_bit, smtp_utf8, loop_route, loop_hops, state, received_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'received', $13)`,
      [
        id,
        text(m.messageId),
        text(m.envelope.mailFrom),
        m.envelope.rcptTo.map(text),
        m.raw,
        text(m.connector),
        text(m.clientIp),
        m.origin,
        m.eightBit,
        m.smtpUtf8,
        m.loop?.route ?? null,
        m.loop?.hops ?? null,
        now,
      ],
    );
    return id;
  }

  /** The address is never stored: only its position in the message's envelope. */
  async #insertEvent(db: Queryable, e: NewEvent, now: Date): Promise<void> {
    await db.query(
      `INSERT INTO events (queue_id, name, rcpt, data, at)
       VALUES ($1, $2, (SELECT ${rcptPositionSql("rcpt_to", "$3::text")}
                          FROM messages WHERE id = $1), $4::jsonb, $5)`,
      [e.queueId, e.name, text(e.recipient) ?? null, jsonText(e.data), now],
    );
  }

  /** A single INSERT commits on its own; with synchronous_commit on (the default) it is durable. */
  async enqueue(message: NewMessage, received?: Record<string, unknown>): Promise<string> {
    const now = new Date();
    if (!received) return this.#insertMessage(this.#pool, message, now);
    return this.#transaction(async (client) => {
      const queueId = await this.#insertMessage(client, message, now);
      await this.#insertEvent(client, { queueId, name: "smtp:received", data: received }, now);
      return queueId;
    });
  }

  async leaseMessages(o: LeaseOptions): Promise<StoredMessage[]> {
    const now = o.now ?? new Date();
    const { rows } = await this.#pool.query<MessageRow>(
      `WITH picked AS (
         SELECT id FROM messages
          WHERE state = 'received' AND (lease_until IS NULL OR lease_until < $1)
          ORDER BY received_at, id LIMIT $2
          FOR UPDATE SKIP LOCKED)
       UPDATE messages m SET lease_owner = $3, lease_until = $4
         FROM picked WHERE m.id = picked.id
       RETURNING m.*`,
      [now, o.limit, o.owner, new Date(now.getTime() + o.leaseMs)],
    );
    return rows.sort(byTimeThenId("received_at")).map(toMessage);
  }

  async routeMessage(queueId: string, plans: DeliveryPlan[], events: NewEvent[] = []) {
    const now = new Date();
    await this.#transaction(async (client) => {
      await lockReceivedMessage(client, queueId);

      for (const plan of plans) {
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO deliveries (queue_id, route, next_hop, sensitive, raw, state, created_at,
             next_attempt_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6) RETURNING id`,
          [queueId, plan.route, text(plan.nextHop), plan.sensitive, plan.raw ?? null, now],
        );
        await client.query(
          `INSERT INTO delivery_recipients (delivery_id, position, address, state)
           SELECT $1, r.position, r.address, 'pending'
             FROM unnest($2::text[]) WITH ORDINALITY AS r(address, position)`,
          [rows[0]?.id, [...new Set(plan.recipients.map(text))]],
        );
      }
      for (const e of events) await this.#insertEvent(client, e, now);

      await client.query(
        "UPDATE messages SET state = $1, lease_owner = NULL, lease_until = NULL WHERE id = $2",
        [plans.length > 0 ? "routed" : "done", queueId],
      );
      if (plans.length === 0) await clearIfDone(client, queueId);
    });
  }

  async holdMessage(queueId: string, reason: string, dsn?: NewMessage): Promise<void> {
    const now = new Date();
    await this.#transaction(async (client) => {
      const { rowCount } = await client.query(
        `UPDATE messages SET state = 'held', hold_reason = $1, lease_owner = NULL,
           lease_until = NULL WHERE id = $2`,
        [text(reason), queueId],
      );
      if (rowCount === 0) throw new StoreError("STORE_NOT_FOUND", `no message ${queueId}`);
      await this.#insertEvent(client, { queueId, name: "pipeline:held", data: { reason } }, now);
      if (dsn) {
        const dsnId = await this.#insertMessage(client, dsn, now);
        const event = { queueId, name: "deliver:dsn" as const, data: { dsnQueueId: dsnId } };
        await this.#insertEvent(client, event, now);
      }
    });
  }

  async expireHeld(
    before: Date,
    limit: number,
    dsnFor?: (message: StoredMessage) => NewMessage | undefined,
  ): Promise<string[]> {
    const now = new Date();
    return this.#transaction(async (client) => {
      // RETURNING gives the row as updated: state done, bytes not yet cleared.
      const { rows } = await client.query<MessageRow>(
        `WITH picked AS (
           SELECT id FROM messages WHERE state = 'held' AND received_at < $1
            ORDER BY received_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE messages m SET state = 'done', lease_owner = NULL, lease_until = NULL
           FROM picked WHERE m.id = picked.id
         RETURNING m.*`,
        [before, limit],
      );
      rows.sort(byTimeThenId("received_at"));
      for (const r of rows) {
        const dsn = r.raw === null ? undefined : dsnFor?.(toMessage(r));
        await clearIfDone(client, r.id);
        const age = Math.round((now.getTime() - r.received_at.getTime()) / 1000);
        const event = { queueId: r.id, name: "pipeline:hold-expired" as const, data: { age } };
        await this.#insertEvent(client, event, now);
        if (dsn) {
          const dsnQueueId = await this.#insertMessage(client, dsn, now);
          const told = { queueId: r.id, name: "deliver:dsn" as const, data: { dsnQueueId } };
          await this.#insertEvent(client, told, now);
        }
      }
      return rows.map((r) => r.id);
    });
  }

  async heldMessages(limit: number): Promise<HeldMessage[]> {
    const { rows } = await this.#pool.query<{
      id: string;
      received_at: Date;
      hold_reason: string | null;
      recipient_count: number;
      connector: string;
      origin: string;
    }>(
      `SELECT id, received_at, hold_reason, cardinality(rcpt_to) AS recipient_count, connector,
              origin FROM messages WHERE state = 'held'
        ORDER BY received_at DESC, id DESC LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({
      id: r.id,
      receivedAt: r.received_at,
      holdReason: r.hold_reason,
      recipientCount: r.recipient_count,
      connector: r.connector,
      origin: r.origin as HeldMessage["origin"],
    }));
  }

  /** Locks the message row; "not held" answers leave it untouched. */
  async #lockHeld(
    client: pg.PoolClient,
    queueId: string,
  ): Promise<HeldChange | { kind: "held"; reason: string | null }> {
    const { rows } = await client.query<{ state: string; hold_reason: string | null }>(
      "SELECT state, hold_reason FROM messages WHERE id = $1 FOR UPDATE",
      [queueId],
    );
    const row = rows[0];
    if (!row) return { kind: "not-found" };
    if (row.state !== "held") return { kind: "not-held", state: row.state as MessageState };
    return { kind: "held", reason: row.hold_reason };
  }

  async releaseHeld(queueId: string, release: Release): Promise<HeldChange> {
    const now = new Date();
    return this.#transaction(async (client): Promise<HeldChange> => {
      const found = await this.#lockHeld(client, queueId);
      if (found.kind !== "held") return found;
      await client.query(
        `UPDATE messages SET state = 'received', release_as = $1, released_by = $2,
           lease_owner = NULL, lease_until = NULL WHERE id = $3`,
        [release.as, text(release.by), queueId],
      );
      const data = { by: release.by, as: release.as, reason: holdCode(found.reason) };
      await this.#insertEvent(client, { queueId, name: "pipeline:released", data }, now);
      return { kind: "done" };
    });
  }

  async dropHeld(
    queueId: string,
    drop: { by: string; dsn?: NewMessage | undefined },
  ): Promise<HeldChange> {
    const now = new Date();
    return this.#transaction(async (client): Promise<HeldChange> => {
      const found = await this.#lockHeld(client, queueId);
      if (found.kind !== "held") return found;
      await client.query(
        "UPDATE messages SET state = 'done', lease_owner = NULL, lease_until = NULL WHERE id = $1",
        [queueId],
      );
      await clearIfDone(client, queueId);
      const data = { by: drop.by, reason: holdCode(found.reason) };
      await this.#insertEvent(client, { queueId, name: "pipeline:dropped", data }, now);
      if (drop.dsn) {
        const dsnId = await this.#insertMessage(client, drop.dsn, now);
        const event = { queueId, name: "deliver:dsn" as const, data: { dsnQueueId: dsnId } };
        await this.#insertEvent(client, event, now);
      }
      return { kind: "done" };
    });
  }

  /** PostgreSQL manages its own write-ahead log; autovacuum reclaims cleared rows. */
  async checkpoint(): Promise<void> {
    return Promise.resolve();
  }

  async leaseDeliveries(o: LeaseOptions): Promise<LeasedDelivery[]> {
    const now = o.now ?? new Date();
    return this.#transaction(async (client) => {
      const { rows } = await client.query<DeliveryRow>(
        `WITH picked AS (
           SELECT id FROM deliveries
            WHERE state = 'pending' AND next_attempt_at <= $1
              AND (lease_until IS NULL OR lease_until < $1)
            ORDER BY next_attempt_at, id LIMIT $2
            FOR UPDATE SKIP LOCKED)
         UPDATE deliveries d SET lease_owner = $3, lease_until = $4
           FROM picked WHERE d.id = picked.id
         RETURNING d.*`,
        [now, o.limit, o.owner, new Date(now.getTime() + o.leaseMs)],
      );
      if (rows.length === 0) return [];
      rows.sort(byTimeThenId("next_attempt_at"));

      const recipients = await selectRecipients(client, rows);
      const messages = await client.query<MessageRow>(
        "SELECT * FROM messages WHERE id = ANY($1::text[])",
        [[...new Set(rows.map((r) => r.queue_id))]],
      );
      const byId = new Map(messages.rows.map((m) => [m.id, toMessage(m)]));
      return rows.map((row) => {
        const message = byId.get(row.queue_id);
        // The foreign key makes this impossible; refuse rather than send something else.
        if (!message) throw new StoreError("STORE_NOT_FOUND", `no message ${row.queue_id}`);
        return { ...toDelivery(row, recipients), message, raw: row.raw ?? message.raw };
      });
    });
  }

  async completeDelivery(id: number, outcome: DeliveryOutcome): Promise<void> {
    const now = new Date();
    await this.#transaction(async (client) => {
      const queueId = await lockDelivery(client, id);
      // Two nodes settling the last two copies of one message at once would each still see
      // the other's copy pending, and the message would never be done (nor its bytes cleared):
      // the message row serialises them.
      await client.query("SELECT 1 FROM messages WHERE id = $1 FOR UPDATE", [queueId]);

      const results = [
        ...outcome.sent.map((r) => ({ ...r, state: "sent" })),
        ...outcome.failed.map((r) => ({ ...r, state: "failed" })),
        ...outcome.deferred.map((r) => ({ ...r, state: "pending" })),
      ];
      await client.query(
        `UPDATE delivery_recipients r SET state = u.state, reply = u.reply
           FROM unnest($2::text[], $3::text[], $4::text[]) AS u(address, state, reply)
          WHERE r.delivery_id = $1 AND r.address = u.address`,
        [
          id,
          results.map((r) => text(r.address)),
          results.map((r) => r.state),
          results.map((r) => text(storedReply(r.reply))),
        ],
      );
      // A settled copy's own bytes (an encrypted or amended copy) are cleared at once.
      await client.query(
        `UPDATE deliveries SET
           state = CASE WHEN EXISTS (SELECT 1 FROM delivery_recipients
                                      WHERE delivery_id = $1 AND state = 'pending')
                        THEN 'pending' ELSE 'done' END,
           attempts = attempts + 1, next_attempt_at = $2, lease_owner = NULL, lease_until = NULL
         WHERE id = $1`,
        [id, outcome.nextAttemptAt ?? now],
      );
      await client.query("UPDATE deliveries SET raw = NULL WHERE id = $1 AND state = 'done'", [id]);

      for (const e of outcome.events ?? []) await this.#insertEvent(client, e, now);
      if (outcome.dsn) {
        const dsnId = await this.#insertMessage(client, outcome.dsn, now);
        const event = { queueId, name: "deliver:dsn" as const, data: { dsnQueueId: dsnId } };
        await this.#insertEvent(client, event, now);
      }
      await client.query(
        `UPDATE messages SET state = 'done' WHERE id = $1 AND state = 'routed' AND NOT EXISTS
           (SELECT 1 FROM deliveries WHERE queue_id = $1 AND state = 'pending')`,
        [queueId],
      );
      await clearIfDone(client, queueId);
    });
  }

  async deferDelivery(id: number, deferral: Deferral): Promise<void> {
    const now = new Date();
    await this.#transaction(async (client) => {
      await lockDelivery(client, id);
      await client.query(
        `UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = $2,
           lease_owner = NULL, lease_until = NULL WHERE id = $1`,
        [id, deferral.nextAttemptAt],
      );
      await client.query(
        "UPDATE delivery_recipients SET reply = $2 WHERE delivery_id = $1 AND state = 'pending'",
        [id, text(storedReply(deferral.reason))],
      );
      for (const e of deferral.events ?? []) await this.#insertEvent(client, e, now);
    });
  }

  /** An unleased message is due at the epoch (now, in effect), as in the SQLite store. */
  async nextDue(): Promise<Date | null> {
    const { rows } = await this.#pool.query<{ t: Date | null }>(
      `SELECT LEAST(
         (SELECT MIN(COALESCE(lease_until, 'epoch'::timestamptz)) FROM messages
           WHERE state = 'received'),
         (SELECT MIN(GREATEST(next_attempt_at, COALESCE(lease_until, 'epoch'::timestamptz)))
            FROM deliveries WHERE state = 'pending')) AS t`,
    );
    return rows[0]?.t ?? null;
  }

  async recordEvent(event: NewEvent): Promise<void> {
    await this.#insertEvent(this.#pool, event, new Date());
  }

  async events(queueId: string): Promise<StoredEvent[]> {
    const { rows } = await this.#pool.query<EventRow>(
      "SELECT * FROM events WHERE queue_id = $1 ORDER BY id",
      [queueId],
    );
    return rows.map(toEvent);
  }

  async deliveries(queueId: string): Promise<Delivery[]> {
    const { rows } = await this.#pool.query<DeliveryRow>(
      "SELECT * FROM deliveries WHERE queue_id = $1 ORDER BY id",
      [queueId],
    );
    const recipients = await selectRecipients(this.#pool, rows);
    return rows.map((row) => toDelivery(row, recipients));
  }

  async findMessages(reference: string): Promise<MessageSummary[]> {
    const ref = text(reference.trim().replace(/^<(.*)>$/, "$1"));
    const { rows } = await this.#pool.query<SummaryRow>(
      `SELECT id, message_id, state, received_at, hold_reason, mail_from, rcpt_to,
              cardinality(rcpt_to) AS recipient_count
         FROM messages WHERE id = $1 OR message_id = $2 ORDER BY received_at, id`,
      [ref.toUpperCase(), ref],
    );
    return rows.map(toSummary);
  }

  async getMessage(queueId: string): Promise<MessageRecord | null> {
    const { rows } = await this.#pool.query<MessageRow>("SELECT * FROM messages WHERE id = $1", [
      queueId,
    ]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async stats(): Promise<QueueStats> {
    const counts = await this.#pool.query<{ state: string; n: number }>(
      "SELECT state, COUNT(*)::int AS n FROM messages GROUP BY state",
    );
    const byState = Object.fromEntries(counts.rows.map((c) => [c.state, c.n]));
    const pending = await this.#pool.query<{ n: number }>(
      "SELECT COUNT(*)::int AS n FROM deliveries WHERE state = 'pending'",
    );
    return {
      received: byState.received ?? 0,
      routed: byState.routed ?? 0,
      held: byState.held ?? 0,
      done: byState.done ?? 0,
      pendingDeliveries: pending.rows[0]?.n ?? 0,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
