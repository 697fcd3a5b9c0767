import { LRUCache } from "lru-cache";
import type Database from "better-sqlite3";
import { newQueueId } from "../ids.js";
import { StoreError } from "./errors.js";
import { rcptPosition, requireBytes, storedReply } from "./privacy.js";
import { prepareSchema } from "./sqlite-schema.js";
import { openSqliteFile, relaxed } from "./sqlite-file.js";
import { holdCode, releaseOf } from "./held.js";
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
  MessageSummary,
  NewEvent,
  NewMessage,
  QueueStats,
  RecipientStatus,
  Release,
  Store,
  StoredEvent,
  StoredMessage,
} from "./types.js";

interface MessageRow {
  id: string;
  message_id: string | null;
  mail_from: string;
  rcpt_to: string;
  raw: Buffer | null;
  connector: string;
  client_ip: string;
  origin: string;
  eight_bit: number;
  smtp_utf8: number;
  loop_route: string | null;
  loop_hops: number | null;
  state: string;
  hold_reason: string | null;
  received_at: number;
  release_as: string | null;
  released_by: string | null;
}

interface DeliveryRow {
  id: number;
  queue_id: string;
  route: string;
  next_hop: string;
  sensitive: number;
  raw: Buffer | null;
  state: string;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
}

function toRecord(row: MessageRow): MessageRecord {
  return {
    id: row.id,
    messageId: row.message_id,
    envelope: { mailFrom: row.mail_from, rcptTo: JSON.parse(row.rcpt_to) as string[] },
    raw: row.raw,
    connector: row.connector,
    clientIp: row.client_ip,
    origin: row.origin as StoredMessage["origin"],
    eightBit: row.eight_bit === 1,
    smtpUtf8: row.smtp_utf8 === 1,
    loop:
      row.loop_route === null
        ? undefined
        : { route: row.loop_route as "sensitive" | "clean", hops: row.loop_hops ?? 0 },
    state: row.state as StoredMessage["state"],
    holdReason: row.hold_reason,
    receivedAt: new Date(row.received_at),
    release: releaseOf(row.release_as, row.released_by),
  };
}

/** A message that is still to be processed or delivered, which always has its bytes. */
function toMessage(row: MessageRow): StoredMessage {
  const record = toRecord(row);
  if (record.raw === null) {
    // Cleared only when done, and done messages are not leased: refuse rather than send nothing.
    throw new StoreError("STORE_CONFLICT", `message ${row.id} has no bytes left (${row.state})`);
  }
  return { ...record, raw: record.raw };
}

interface PendingEnqueue {
  message: NewMessage;
  received: Record<string, unknown> | undefined;
  resolve(queueId: string): void;
  reject(err: unknown): void;
}

export interface SqliteStoreOptions {
  /** Folder holding sealgate.db. */
  dataDir: string;
  /**
   * Leave existing leases alone: this is a command (`sealgate queue`) working beside a gateway
   * that may be running on the same file, not the gateway that owns it. Default false: the
   * owner voids the leases a crashed run left.
   */
  keepLeases?: boolean | undefined;
}

/**
 * The embedded store: one SQLite file in WAL mode. enqueue() commits with synchronous=FULL, so
 * the message has reached the disk before it resolves and a `250` is sent; later state changes
 * commit `relaxed()` (no fsync of their own; see sqlite-file.ts). One gateway process owns the
 * file; leases still expire so a crashed worker's messages are picked up again.
 */
export class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();

  /** A prepared statement, compiled once per text: preparing it on every call cost ~7 % CPU. */
  #sql(text: string): Database.Statement {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  constructor(options: SqliteStoreOptions) {
    this.#db = openSqliteFile(options.dataDir);
    prepareSchema(this.#db);
    if (options.keepLeases === true) return;
    // A single process owns the file, so leases left by a previous (crashed) run are void.
    this.#db.exec("UPDATE messages SET lease_owner = NULL, lease_until = NULL");
    this.#db.exec("UPDATE deliveries SET lease_owner = NULL, lease_until = NULL");
  }

  #insertMessage(m: NewMessage, now: number): string {
    requireBytes(m);
    const id = newQueueId(now);
    this.#sql(
      `INSERT INTO messages (id, message_id, mail_from, rcpt_to, raw, connector, client_ip,
           origin, eight_bit, smtp_utf8, loop_route, loop_hops, state, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?)`,
    ).run(
      id,
      m.messageId,
      m.envelope.mailFrom,
      JSON.stringify(m.envelope.rcptTo),
      m.raw,
      m.connector,
      m.clientIp,
      m.origin,
      m.eightBit ? 1 : 0,
      m.smtpUtf8 ? 1 : 0,
      m.loop?.route ?? null,
      m.loop?.hops ?? null,
      now,
    );
    return id;
  }

  /**
   * A message's envelope recipients, read once: they never change after the enqueue, and a
   * message records an event per recipient at each stage (route, delivery).
   */
  #rcptTo(queueId: string): string[] | undefined {
    let rcptTo = this.#envelopes.get(queueId);
    if (!rcptTo) {
      const row = this.#sql("SELECT rcpt_to FROM messages WHERE id = ?").get(queueId) as
        { rcpt_to: string } | undefined;
      if (!row) return undefined;
      rcptTo = JSON.parse(row.rcpt_to) as string[];
      this.#envelopes.set(queueId, rcptTo);
    }
    return rcptTo;
  }

  readonly #envelopes = new LRUCache<string, string[]>({ max: 1024 });

  /** The address is never stored: only its position in the message's envelope. */
  #insertEvent(e: NewEvent, now: number): void {
    let rcpt: number | undefined;
    if (e.recipient !== undefined) {
      const rcptTo = this.#rcptTo(e.queueId);
      if (rcptTo) rcpt = rcptPosition(rcptTo, e.recipient);
    }
    this.#sql("INSERT INTO events (queue_id, name, rcpt, data, at) VALUES (?, ?, ?, ?, ?)").run(
      e.queueId,
      e.name,
      rcpt ?? null,
      e.data ? JSON.stringify(e.data) : null,
      now,
    );
  }

  /**
   * Group commit: enqueues that arrive in the same turn of the event loop share one
   * transaction and one fsync, and each promise resolves once that commit is on disk. While
   * one sync blocks the loop, the other sessions' messages gather for the next.
   */
  async enqueue(message: NewMessage, received?: Record<string, unknown>): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.#pending.push({ message, received, resolve, reject });
      if (this.#pending.length === 1) {
        setImmediate(() => {
          if (this.#pending.length > 0) this.#flush();
        });
      }
    });
  }

  readonly #pending: PendingEnqueue[] = [];

  #insertOne(p: PendingEnqueue, now: number): string {
    const queueId = this.#insertMessage(p.message, now);
    if (p.received) this.#insertEvent({ queueId, name: "smtp:received", data: p.received }, now);
    return queueId;
  }

  #flush(): void {
    const batch = this.#pending.splice(0);
    let ids: string[];
    try {
      ids = this.#db.transaction(() => {
        const now = Date.now();
        return batch.map((p) => this.#insertOne(p, now));
      })();
    } catch {
      // One message the database refuses must not fail the others: one commit each.
      for (const p of batch) {
        try {
          p.resolve(this.#db.transaction(() => this.#insertOne(p, Date.now()))());
        } catch (err) {
          p.reject(err);
        }
      }
      return;
    }
    batch.forEach((p, i) => p.resolve(ids[i] ?? ""));
  }

  async leaseMessages(o: LeaseOptions): Promise<StoredMessage[]> {
    return relaxed(this.#db, () => {
      const now = (o.now ?? new Date()).getTime();
      return this.#db.transaction(() => {
        const rows = this.#sql(
          `SELECT * FROM messages WHERE state = 'received'
               AND (lease_until IS NULL OR lease_until < ?) ORDER BY received_at LIMIT ?`,
        ).all(now, o.limit) as MessageRow[];
        const lease = this.#sql(
          "UPDATE messages SET lease_owner = ?, lease_until = ? WHERE id = ?",
        );
        for (const row of rows) lease.run(o.owner, now + o.leaseMs, row.id);
        return rows.map(toMessage);
      })();
    });
  }

  async routeMessage(queueId: string, plans: DeliveryPlan[], events: NewEvent[] = []) {
    return relaxed(this.#db, () => {
      const now = Date.now();
      this.#db.transaction(() => {
        this.#requireReceived(queueId);
        const insertDelivery = this.#sql(
          `INSERT INTO deliveries (queue_id, route, next_hop, sensitive, raw, state, created_at,
             next_attempt_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
        );
        const insertRecipient = this.#sql(
          "INSERT INTO delivery_recipients (delivery_id, address, state) VALUES (?, ?, 'pending')",
        );
        for (const plan of plans) {
          const { lastInsertRowid } = insertDelivery.run(
            queueId,
            plan.route,
            plan.nextHop,
            plan.sensitive ? 1 : 0,
            plan.raw ?? null,
            now,
            now,
          );
          for (const rcpt of new Set(plan.recipients)) insertRecipient.run(lastInsertRowid, rcpt);
        }
        for (const e of events) this.#insertEvent(e, now);
        this.#sql(
          `UPDATE messages SET state = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?`,
        ).run(plans.length > 0 ? "routed" : "done", queueId);
        if (plans.length === 0) this.#clearIfDone(queueId);
      })();
    });
  }

  /** Routing twice (a worker whose lease ran out) would send twice: only one may route. */
  #requireReceived(queueId: string): void {
    const row = this.#sql("SELECT state FROM messages WHERE id = ?").get(queueId) as
      { state: string } | undefined;
    if (!row) throw new StoreError("STORE_NOT_FOUND", `no message ${queueId}`);
    if (row.state !== "received") {
      throw new StoreError("STORE_CONFLICT", `message ${queueId} is already ${row.state}`);
    }
  }

  #requireDelivery(id: number): string {
    const row = this.#sql("SELECT queue_id FROM deliveries WHERE id = ?").get(id) as
      { queue_id: string } | undefined;
    if (!row) throw new StoreError("STORE_NOT_FOUND", `no delivery ${id}`);
    return row.queue_id;
  }

  async holdMessage(queueId: string, reason: string, dsn?: NewMessage): Promise<void> {
    return relaxed(this.#db, () => {
      const now = Date.now();
      this.#db.transaction(() => {
        const { changes } = this.#sql(
          `UPDATE messages SET state = 'held', hold_reason = ?, lease_owner = NULL,
               lease_until = NULL WHERE id = ?`,
        ).run(reason, queueId);
        if (changes === 0) throw new StoreError("STORE_NOT_FOUND", `no message ${queueId}`);
        this.#insertEvent({ queueId, name: "pipeline:held", data: { reason } }, now);
        if (dsn) {
          const dsnId = this.#insertMessage(dsn, now);
          this.#insertEvent({ queueId, name: "deliver:dsn", data: { dsnQueueId: dsnId } }, now);
        }
      })();
    });
  }

  async expireHeld(
    before: Date,
    limit: number,
    dsnFor?: (message: StoredMessage) => NewMessage | undefined,
  ): Promise<string[]> {
    return relaxed(this.#db, () => {
      const now = Date.now();
      return this.#db.transaction(() => {
        const rows = this.#sql(
          `SELECT * FROM messages WHERE state = 'held' AND received_at < ?
               ORDER BY received_at LIMIT ?`,
        ).all(before.getTime(), limit) as MessageRow[];
        const expire = this.#sql(
          "UPDATE messages SET state = 'done', lease_owner = NULL, lease_until = NULL WHERE id = ?",
        );
        for (const r of rows) {
          expire.run(r.id);
          this.#clearIfDone(r.id);
          const age = Math.round((now - r.received_at) / 1000);
          this.#insertEvent({ queueId: r.id, name: "pipeline:hold-expired", data: { age } }, now);
          const dsn = r.raw === null ? undefined : dsnFor?.(toMessage(r));
          if (dsn) {
            const dsnQueueId = this.#insertMessage(dsn, now);
            this.#insertEvent({ queueId: r.id, name: "deliver:dsn", data: { dsnQueueId } }, now);
          }
        }
        return rows.map((r) => r.id);
      })();
    });
  }

  async heldMessages(limit: number): Promise<HeldMessage[]> {
    const rows = this.#sql(
      `SELECT id, received_at, hold_reason, rcpt_to, connector, origin FROM messages
           WHERE state = 'held' ORDER BY received_at DESC, id DESC LIMIT ?`,
    ).all(limit) as MessageRow[];
    return rows.map((r) => ({
      id: r.id,
      receivedAt: new Date(r.received_at),
      holdReason: r.hold_reason,
      recipientCount: (JSON.parse(r.rcpt_to) as string[]).length,
      connector: r.connector,
      origin: r.origin as HeldMessage["origin"],
    }));
  }

  /** The message's state inside a transaction; "not held" answers leave it untouched. */
  #heldState(queueId: string): HeldChange | { kind: "held"; reason: string | null } {
    const row = this.#sql("SELECT state, hold_reason FROM messages WHERE id = ?").get(queueId) as
      { state: string; hold_reason: string | null } | undefined;
    if (!row) return { kind: "not-found" };
    if (row.state !== "held") {
      return { kind: "not-held", state: row.state as MessageRecord["state"] };
    }
    return { kind: "held", reason: row.hold_reason };
  }

  async releaseHeld(queueId: string, release: Release): Promise<HeldChange> {
    return relaxed(this.#db, () => {
      const now = Date.now();
      return this.#db.transaction((): HeldChange => {
        const found = this.#heldState(queueId);
        if (found.kind !== "held") return found;
        this.#sql(
          `UPDATE messages SET state = 'received', release_as = ?, released_by = ?,
               lease_owner = NULL, lease_until = NULL WHERE id = ?`,
        ).run(release.as, release.by, queueId);
        const data = { by: release.by, as: release.as, reason: holdCode(found.reason) };
        this.#insertEvent({ queueId, name: "pipeline:released", data }, now);
        return { kind: "done" };
      })();
    });
  }

  async dropHeld(queueId: string, drop: { by: string; dsn?: NewMessage | undefined }) {
    return relaxed(this.#db, () => {
      const now = Date.now();
      return this.#db.transaction((): HeldChange => {
        const found = this.#heldState(queueId);
        if (found.kind !== "held") return found;
        this.#sql(
          "UPDATE messages SET state = 'done', lease_owner = NULL, lease_until = NULL WHERE id = ?",
        ).run(queueId);
        this.#clearIfDone(queueId);
        const data = { by: drop.by, reason: holdCode(found.reason) };
        this.#insertEvent({ queueId, name: "pipeline:dropped", data }, now);
        if (drop.dsn) {
          const dsnId = this.#insertMessage(drop.dsn, now);
          this.#insertEvent({ queueId, name: "deliver:dsn", data: { dsnQueueId: dsnId } }, now);
        }
        return { kind: "done" };
      })();
    });
  }

  /**
   * Folds the write-ahead log into the database and cuts it to zero bytes. SQLite checkpoints
   * on its own only once the log reaches 1000 pages, so on a quiet gateway the frames of the
   * last changes (the bytes of messages since cleared among them) would stay in the -wal file.
   */
  async checkpoint(): Promise<void> {
    this.#db.pragma("wal_checkpoint(TRUNCATE)");
  }

  #recipients(deliveryId: number): RecipientStatus[] {
    return this.#sql(
      "SELECT address, state, reply FROM delivery_recipients WHERE delivery_id = ? ORDER BY rowid",
    ).all(deliveryId) as RecipientStatus[];
  }

  #toDelivery(row: DeliveryRow): Delivery {
    return {
      id: row.id,
      queueId: row.queue_id,
      route: row.route as Delivery["route"],
      nextHop: row.next_hop,
      sensitive: row.sensitive === 1,
      state: row.state as Delivery["state"],
      attempts: row.attempts,
      createdAt: new Date(row.created_at),
      nextAttemptAt: new Date(row.next_attempt_at),
      recipients: this.#recipients(row.id),
    };
  }

  async leaseDeliveries(o: LeaseOptions): Promise<LeasedDelivery[]> {
    return relaxed(this.#db, () => {
      const now = (o.now ?? new Date()).getTime();
      return this.#db.transaction(() => {
        const rows = this.#sql(
          `SELECT * FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?
               AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at LIMIT ?`,
        ).all(now, now, o.limit) as DeliveryRow[];
        const lease = this.#sql(
          "UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE id = ?",
        );
        const getMessage = this.#sql("SELECT * FROM messages WHERE id = ?");
        return rows.map((row) => {
          lease.run(o.owner, now + o.leaseMs, row.id);
          const message = toMessage(getMessage.get(row.queue_id) as MessageRow);
          return { ...this.#toDelivery(row), message, raw: row.raw ?? message.raw };
        });
      })();
    });
  }

  async completeDelivery(id: number, outcome: DeliveryOutcome): Promise<void> {
    return relaxed(this.#db, () => {
      const now = Date.now();
      this.#db.transaction(() => {
        const queueId = this.#requireDelivery(id);
        const setRcpt = this.#sql(
          "UPDATE delivery_recipients SET state = ?, reply = ? WHERE delivery_id = ? AND address = ?",
        );
        const set = (state: string, r: { address: string; reply: string }) =>
          setRcpt.run(state, storedReply(r.reply), id, r.address);
        for (const r of outcome.sent) set("sent", r);
        for (const r of outcome.failed) set("failed", r);
        for (const r of outcome.deferred) set("pending", r);
        const pending = this.#sql(
          "SELECT COUNT(*) AS n FROM delivery_recipients WHERE delivery_id = ? AND state = 'pending'",
        ).get(id) as { n: number };
        const next = outcome.nextAttemptAt?.getTime() ?? now;
        this.#sql(
          `UPDATE deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?,
               lease_owner = NULL, lease_until = NULL WHERE id = ?`,
        ).run(pending.n > 0 ? "pending" : "done", next, id);
        for (const e of outcome.events ?? []) this.#insertEvent(e, now);
        if (outcome.dsn) {
          const dsnId = this.#insertMessage(outcome.dsn, now);
          this.#insertEvent({ queueId, name: "deliver:dsn", data: { dsnQueueId: dsnId } }, now);
        }
        if (pending.n === 0) {
          // This copy is settled: its own bytes (an encrypted or amended copy) go now.
          this.#sql("UPDATE deliveries SET raw = NULL WHERE id = ?").run(id);
        }
        this.#sql(
          `UPDATE messages SET state = 'done' WHERE id = ? AND state = 'routed'
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.queue_id = messages.id
                                 AND d.state = 'pending')`,
        ).run(queueId);
        this.#clearIfDone(queueId);
      })();
    });
  }

  /**
   * A done message is never read again (no copy pending, nothing held): its bytes and those
   * of its copies are cleared, as an MTA removes its queue file once the last copy is settled.
   * Runs inside the transaction that made it done; secure_delete zeroes the freed space.
   */
  #clearIfDone(queueId: string): void {
    const { changes } = this.#sql(
      "UPDATE messages SET raw = NULL WHERE id = ? AND state = 'done' AND raw IS NOT NULL",
    ).run(queueId);
    if (changes > 0) {
      this.#sql("UPDATE deliveries SET raw = NULL WHERE queue_id = ? AND raw IS NOT NULL").run(
        queueId,
      );
    }
  }

  async deferDelivery(id: number, deferral: Deferral): Promise<void> {
    return relaxed(this.#db, () => {
      const now = Date.now();
      this.#db.transaction(() => {
        this.#requireDelivery(id);
        this.#sql(
          `UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?,
               lease_owner = NULL, lease_until = NULL WHERE id = ?`,
        ).run(deferral.nextAttemptAt.getTime(), id);
        this.#sql(
          "UPDATE delivery_recipients SET reply = ? WHERE delivery_id = ? AND state = 'pending'",
        ).run(storedReply(deferral.reason), id);
        for (const e of deferral.events ?? []) this.#insertEvent(e, now);
      })();
    });
  }

  async nextDue(): Promise<Date | null> {
    const received = this.#sql(
      "SELECT MIN(COALESCE(lease_until, 0)) AS t FROM messages WHERE state = 'received'",
    ).get() as { t: number | null };
    const pending = this.#sql(
      `SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, 0))) AS t FROM deliveries
           WHERE state = 'pending'`,
    ).get() as { t: number | null };
    const times = [received.t, pending.t].filter((t): t is number => t !== null);
    return times.length === 0 ? null : new Date(Math.min(...times));
  }

  async recordEvent(event: NewEvent): Promise<void> {
    return relaxed(this.#db, () => {
      this.#insertEvent(event, Date.now());
    });
  }

  async events(queueId: string): Promise<StoredEvent[]> {
    const rows = this.#sql("SELECT * FROM events WHERE queue_id = ? ORDER BY id").all(queueId) as {
      id: number;
      queue_id: string;
      name: string;
      rcpt: number | null;
      data: string | null;
      at: number;
    }[];
    return rows.map((r) => ({
      id: r.id,
      queueId: r.queue_id,
      name: r.name as StoredEvent["name"],
      rcpt: r.rcpt ?? undefined,
      data: r.data ? (JSON.parse(r.data) as Record<string, unknown>) : undefined,
      at: new Date(r.at),
    }));
  }

  async deliveries(queueId: string): Promise<Delivery[]> {
    const rows = this.#sql("SELECT * FROM deliveries WHERE queue_id = ? ORDER BY id").all(
      queueId,
    ) as DeliveryRow[];
    return rows.map((r) => this.#toDelivery(r));
  }

  async findMessages(reference: string): Promise<MessageSummary[]> {
    const ref = reference.trim().replace(/^<(.*)>$/, "$1");
    const rows = this.#sql(
      `SELECT id, message_id, state, received_at, hold_reason, mail_from, rcpt_to FROM messages
           WHERE id = ? OR message_id = ? ORDER BY received_at`,
    ).all(ref.toUpperCase(), ref) as MessageRow[];
    return rows.map((r) => {
      const rcptTo = JSON.parse(r.rcpt_to) as string[];
      return {
        id: r.id,
        messageId: r.message_id,
        state: r.state as MessageSummary["state"],
        receivedAt: new Date(r.received_at),
        holdReason: r.hold_reason,
        recipientCount: rcptTo.length,
        envelope: { mailFrom: r.mail_from, rcptTo },
      };
    });
  }

  async getMessage(queueId: string): Promise<MessageRecord | null> {
    const row = this.#sql("SELECT * FROM messages WHERE id = ?").get(queueId) as
      MessageRow | undefined;
    return row ? toRecord(row) : null;
  }

  async stats(): Promise<QueueStats> {
    const counts = this.#sql("SELECT state, COUNT(*) AS n FROM messages GROUP BY state").all() as {
      state: string;
      n: number;
    }[];
    const byState = Object.fromEntries(counts.map((c) => [c.state, c.n]));
    const pending = this.#sql(
      "SELECT COUNT(*) AS n FROM deliveries WHERE state = 'pending'",
    ).get() as { n: number };
    return {
      received: byState.received ?? 0,
      routed: byState.routed ?? 0,
      held: byState.held ?? 0,
      done: byState.done ?? 0,
      pendingDeliveries: pending.n,
    };
  }

  async close(): Promise<void> {
    if (this.#pending.length > 0) this.#flush();
    this.#db.close();
  }
}
