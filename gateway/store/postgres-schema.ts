/**
 * Tables and row mapping of the PostgreSQL store. The layout mirrors the SQLite store's so the
 * two read alike; times are TIMESTAMPTZ, bodies BYTEA, recipient lists TEXT[] and event data
 * JSONB.
 */

import type {
  Delivery,
  MessageSummary,
  RecipientStatus,
  StoredEvent,
  StoredMessage,
} from "./types.js";

/**
 * Every statement is idempotent: all nodes of a cluster run it at start-up, serialised by an
 * advisory lock so two nodes starting together do not race on the catalogue.
 */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY,
  message_id TEXT,
  mail_from TEXT NOT NULL,
  rcpt_to TEXT[] NOT NULL,
  raw BYTEA NOT NULL,
  connector TEXT NOT NULL,
  client_ip TEXT NOT NULL,
  origin TEXT NOT NULL,
  eight_bit BOOLEAN NOT NULL,
  smtp_utf8 BOOLEAN NOT NULL,
  loop_route TEXT,
  loop_hops INTEGER,
  state TEXT NOT NULL,
  hold_reason TEXT,
  received_at TIMESTAMPTZ NOT NULL,
  lease_owner TEXT,
  lease_until TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS messages_state ON messages (state, received_at);
CREATE INDEX IF NOT EXISTS messages_message_id ON messages (message_id);

CREATE TABLE IF NOT EXISTS deliveries (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue_id TEXT NOT NULL REFERENCES messages (id),
  route TEXT NOT NULL,
  next_hop TEXT NOT NULL,
  sensitive BOOLEAN NOT NULL,
  raw BYTEA,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL,
  next_attempt_at TIMESTAMPTZ NOT NULL,
  lease_owner TEXT,
  lease_until TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries (queue_id);

CREATE TABLE IF NOT EXISTS delivery_recipients (
  delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
  position INTEGER NOT NULL,
  address TEXT NOT NULL,
  state TEXT NOT NULL,
  reply TEXT,
  PRIMARY KEY (delivery_id, address)
);

CREATE TABLE IF NOT EXISTS events (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue_id TEXT NOT NULL,
  name TEXT NOT NULL,
  recipient TEXT,
  data JSONB,
  at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS events_queue ON events (queue_id, id);
`;

/** Key of the advisory lock held while the schema is created ("sealgate" as ASCII). */
export const SCHEMA_LOCK_KEY = 0x7365616c67617465n;

/** Schema names are interpolated into DDL, so only plain lower-case identifiers are allowed. */
export function isSchemaName(name: string): boolean {
  return /^[a-z_][a-z0-9_]{0,62}$/.test(name);
}

export interface MessageRow {
  id: string;
  message_id: string | null;
  mail_from: string;
  rcpt_to: string[];
  raw: Buffer;
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
  recipient: string | null;
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
}

export function toMessage(row: MessageRow): StoredMessage {
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
  };
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
    recipient: row.recipient ?? undefined,
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
