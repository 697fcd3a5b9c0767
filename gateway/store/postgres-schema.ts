/**
 * Tables of the PostgreSQL store. The layout mirrors the SQLite store's so the two read alike;
 * times are TIMESTAMPTZ, bodies BYTEA, recipient lists TEXT[] and event data JSONB.
 */

import type pg from "pg";
import { StoreError } from "./errors.js";

/**
 * Every statement is idempotent: all nodes of a cluster run it at start-up, serialised by an
 * advisory lock so two nodes starting together do not race on the catalogue.
 */
const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY,
  message_id TEXT,
  mail_from TEXT NOT NULL,
  rcpt_to TEXT[] NOT NULL,
  raw BYTEA,
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
  lease_until TIMESTAMPTZ,
  release_as TEXT,
  released_by TEXT
);
-- Tables made before an admin could release held mail. Checked first, as below.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                   AND table_name = 'messages' AND column_name = 'release_as') THEN
    ALTER TABLE messages ADD COLUMN release_as TEXT, ADD COLUMN released_by TEXT;
  END IF;
END $$;
-- Cleared (NULL) once the message is done; tables made before that held it NOT NULL. Checked
-- first: ALTER TABLE takes an exclusive lock even when there is nothing to change.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
               AND table_name = 'messages' AND column_name = 'raw' AND is_nullable = 'NO') THEN
    ALTER TABLE messages ALTER COLUMN raw DROP NOT NULL;
    -- What settled before the upgrade loses its bytes too, as it would have since.
    UPDATE messages SET raw = NULL WHERE state = 'done';
    UPDATE deliveries SET raw = NULL WHERE state = 'done';
  END IF;
END $$;
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
  rcpt INTEGER,
  data JSONB,
  at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS events_queue ON events (queue_id, id);

-- Tables made before events named recipients by position held the address: convert, drop.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
               AND table_name = 'events' AND column_name = 'recipient') THEN
    ALTER TABLE events ADD COLUMN IF NOT EXISTS rcpt INTEGER;
    UPDATE events e SET rcpt = ${rcptPositionSql("m.rcpt_to", "e.recipient")}
      FROM messages m WHERE m.id = e.queue_id AND e.recipient IS NOT NULL;
    ALTER TABLE events DROP COLUMN recipient;
  END IF;
END $$;
`;

/**
 * SQL for the 1-based position of an address in a recipient array: an exact match first,
 * else one that differs only in case; NULL when absent. Mirrors recipients.ts rcptPosition.
 */
export function rcptPositionSql(array: string, address: string): string {
  return `COALESCE(array_position(${array}, ${address}),
    (SELECT u.i::int FROM unnest(${array}) WITH ORDINALITY AS u(a, i)
      WHERE lower(u.a) = lower(${address}) ORDER BY u.i LIMIT 1))`;
}

/** Key of the advisory lock held while the schema is created ("sealgate" as ASCII). */
export const SCHEMA_LOCK_KEY = 0x7365616c67617465n;

/** Schema names are interpolated into DDL, so only plain lower-case identifiers are allowed. */
export function isSchemaName(name: string): boolean {
  return /^[a-z_][a-z0-9_]{0,62}$/.test(name);
}

/** Creates the schema and tables under an advisory lock, so nodes starting together agree. */
export async function prepareSchema(pool: pg.Pool, schema: string | undefined): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => (broken = err);
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [SCHEMA_LOCK_KEY.toString()]);
    if (schema !== undefined) {
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      // A connection string with its own `options` would override the search_path we set.
      const { rows } = await client.query<{ s: string }>("SELECT current_schema() AS s");
      if (rows[0]?.s !== schema) {
        throw new StoreError("STORE_CONFIG", "the connection's search_path overrides the schema");
      }
    }
    // enqueue() resolves and the client hears 250 after COMMIT; with synchronous_commit off
    // that COMMIT may not have reached the disk yet (every other setting waits for it).
    const { rows: sync } = await client.query<{ s: string }>(
      "SELECT current_setting('synchronous_commit') AS s",
    );
    if (sync[0]?.s === "off") {
      throw new StoreError("STORE_CONFIG", "synchronous_commit is off: commits are not durable");
    }
    await client.query(SCHEMA_SQL);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch((rollbackErr: unknown) => {
      broken ??= rollbackErr instanceof Error ? rollbackErr : new Error("rollback failed");
    });
    throw err;
  } finally {
    client.off("error", onError);
    client.release(broken);
  }
}
