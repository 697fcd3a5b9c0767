/** Rows of the PostgreSQL store, their mapping to the store's types, and shared statements. */

import type pg from "pg";
import { StoreError } from "./errors.js";
import { releaseOf } from "./held.js";
import type {
  Delivery,
  MessageRecord,
  MessageSummary,
  RecipientStatus,
  StoredEvent,
  StoredMessage,
} from "./types.js";

export type Queryable = pg.Pool | pg.PoolClient;

export interface MessageRow {
  id: string;
  message_id: string | null;
  mail_from: string;
  rcpt_to: string[];
  raw: Buffer | null;
  connector: string;
  client_ip: string;
  origin: string;
  eight_bit: boolean;
  smtp_utf8: boolean;
  loop_route: string | null;
  loop_hops: number | null;
  state: string;
  hold_reason: string | null;
  received_at: Date;
  release_as: string | null;
  released_by: string | null;
}

export interface DeliveryRow {
  /** BIGINT arrives as a string from pg. */
  id: string;
  queue_id: string;
  route: string;
  next_hop: string;
  sensitive: boolean;
  raw: Buffer | null;
  state: string;
  attempts: number;
  created_at: Date;
  next_attempt_at: Date;
}

export interface RecipientRow extends RecipientStatus {
  delivery_id: string;
}

export interface EventRow {
  id: string;
  queue_id: string;
  name: string;
  rcpt: number | null;
  data: Record<string, unknown> | null;
  at: Date;
}

export interface SummaryRow {
  id: string;
  message_id: string | null;
  state: string;
  received_at: Date;
  hold_reason: string | null;
  recipient_count: number;
  mail_from: string;
  rcpt_to: string[];
}

export function toRecord(row: MessageRow): MessageRecord {
  return {
    id: row.id,
    messageId: row.message_id,
    envelope: { mailFrom: row.mail_from, rcptTo: row.rcpt_to },
    raw: row.raw,
    connector: row.connector,
    clientIp: row.client_ip,
    origin: row.origin as StoredMessage["origin"],
    eightBit: row.eight_bit,
    smtpUtf8: row.smtp_utf8,
    loop:
      row.loop_route === null
        ? undefined
        : { route: row.loop_route as "sensitive" | "clean", hops: row.loop_hops ?? 0 },
    state: row.state as StoredMessage["state"],
    holdReason: row.hold_reason,
    receivedAt: row.received_at,
    release: releaseOf(row.release_as, row.released_by),
  };
}

/** A message that is still to be processed or delivered, which always has its bytes. */
export function toMessage(row: MessageRow): StoredMessage {
  const record = toRecord(row);
  if (record.raw === null) {
    // Cleared only when done, and done messages are not leased: refuse rather than send nothing.
    throw new StoreError("STORE_CONFLICT", `message ${row.id} has no bytes left (${row.state})`);
  }
  return { ...record, raw: record.raw };
}

export function toDelivery(row: DeliveryRow, recipients: RecipientRow[]): Delivery {
  return {
    id: Number(row.id),
    queueId: row.queue_id,
    route: row.route as Delivery["route"],
    nextHop: row.next_hop,
    sensitive: row.sensitive,
    state: row.state as Delivery["state"],
    attempts: row.attempts,
    createdAt: row.created_at,
    nextAttemptAt: row.next_attempt_at,
    recipients: recipients
      .filter((r) => r.delivery_id === row.id)
      .map((r) => ({ address: r.address, state: r.state, reply: r.reply })),
  };
}

export function toEvent(row: EventRow): StoredEvent {
  return {
    id: Number(row.id),
    queueId: row.queue_id,
    name: row.name as StoredEvent["name"],
    rcpt: row.rcpt ?? undefined,
    data: row.data ?? undefined,
    at: row.at,
  };
}

export function toSummary(row: SummaryRow): MessageSummary {
  return {
    id: row.id,
    messageId: row.message_id,
    state: row.state as MessageSummary["state"],
    receivedAt: row.received_at,
    holdReason: row.hold_reason,
    recipientCount: row.recipient_count,
    envelope: { mailFrom: row.mail_from, rcptTo: row.rcpt_to },
  };
}

/**
 * PostgreSQL text and JSONB cannot hold U+0000, which SQLite stores without complaint. Remote
 * replies and header values are not ours to trust, so NUL becomes U+FFFD rather than turning
 * a delivery's outcome into an error that would retry it forever.
 */
export function text<T extends string | null | undefined>(value: T): T {
  return (typeof value === "string" ? value.replaceAll("\0", "\uFFFD") : value) as T;
}

export function jsonText(data: Record<string, unknown> | undefined): string | null {
  if (data === undefined) return null;
  return JSON.stringify(data, (_key, value: unknown) =>
    typeof value === "string" ? text(value) : value,
  );
}

/** Locks the message for routing; it must exist and still wait for the pipeline. */
export async function lockReceivedMessage(client: pg.PoolClient, queueId: string): Promise<void> {
  const { rows } = await client.query<{ state: string }>(
    "SELECT state FROM messages WHERE id = $1 FOR UPDATE",
    [queueId],
  );
  const state = rows[0]?.state;
  if (state === undefined) throw new StoreError("STORE_NOT_FOUND", `no message ${queueId}`);
  if (state !== "received") {
    throw new StoreError("STORE_CONFLICT", `message ${queueId} is already ${state}`);
  }
}

/** Locks a delivery row for an update and returns its queue id. */
export async function lockDelivery(client: pg.PoolClient, id: number): Promise<string> {
  const { rows } = await client.query<{ queue_id: string }>(
    "SELECT queue_id FROM deliveries WHERE id = $1 FOR UPDATE",
    [id],
  );
  const queueId = rows[0]?.queue_id;
  if (queueId === undefined) throw new StoreError("STORE_NOT_FOUND", `no delivery ${id}`);
  return queueId;
}

export async function selectRecipients(
  db: Queryable,
  rows: DeliveryRow[],
): Promise<RecipientRow[]> {
  if (rows.length === 0) return [];
  const result = await db.query<RecipientRow>(
    `SELECT delivery_id, address, state, reply FROM delivery_recipients
      WHERE delivery_id = ANY($1::bigint[]) ORDER BY delivery_id, position`,
    [rows.map((r) => r.id)],
  );
  return result.rows;
}

export function byTimeThenId<K extends "received_at" | "next_attempt_at">(key: K) {
  return (a: { id: string } & Record<K, Date>, b: { id: string } & Record<K, Date>): number =>
    a[key].getTime() - b[key].getTime() || compareIds(a.id, b.id);
}

/** Queue ids are fixed-length text; delivery ids are BIGINT digits of varying length. */
function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
