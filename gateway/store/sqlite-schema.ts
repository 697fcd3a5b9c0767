/** Tables of the embedded SQLite store, and the conversion of files made by earlier versions. */

import type Database from "better-sqlite3";
import { StoreError } from "./errors.js";
import { rcptPosition } from "./privacy.js";

/** raw is NULL once the message is done (see clearIfDone). */
const MESSAGES_TABLE = (name: string) => `
CREATE TABLE IF NOT EXISTS ${name} (
  id TEXT PRIMARY KEY,
  message_id TEXT,
  mail_from TEXT NOT NULL,
  rcpt_to TEXT NOT NULL,
  raw BLOB,
  connector TEXT NOT NULL,
  client_ip TEXT NOT NULL,
  origin TEXT NOT NULL,
  eight_bit INTEGER NOT NULL,
  smtp_utf8 INTEGER NOT NULL,
  loop_route TEXT,
  loop_hops INTEGER,
  state TEXT NOT NULL,
  hold_reason TEXT,
  received_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER,
  release_as TEXT,
  released_by TEXT
);`;

const MESSAGES_INDEXES = `
CREATE INDEX IF NOT EXISTS messages_state ON messages(state, lease_until);
CREATE INDEX IF NOT EXISTS messages_message_id ON messages(message_id);
`;

const SCHEMA = `
${MESSAGES_TABLE("messages")}
${MESSAGES_INDEXES}

CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue_id TEXT NOT NULL REFERENCES messages(id),
  route TEXT NOT NULL,
  next_hop TEXT NOT NULL,
  sensitive INTEGER NOT NULL,
  raw BLOB,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(state, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries(queue_id);

CREATE TABLE IF NOT EXISTS delivery_recipients (
  delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
  address TEXT NOT NULL,
  state TEXT NOT NULL,
  reply TEXT,
  PRIMARY KEY (delivery_id, address)
);

CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue_id TEXT NOT NULL,
  name TEXT NOT NULL,
  rcpt INTEGER,
  data TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_queue ON events(queue_id, id);
`;

/**
 * Old files: messages.raw was NOT NULL (SQLite cannot drop a constraint, so the table is
 * rebuilt, as its documentation describes), and events held the recipient's address (turned
 * into its envelope position, then the column is dropped).
 */
function migrate(db: Database.Database): void {
  const columns = (table: string) =>
    db.prepare(`PRAGMA table_info(${table})`).all() as { name: string; notnull: number }[];
  if (columns("messages").some((c) => c.name === "raw" && c.notnull === 1)) {
    db.pragma("foreign_keys = OFF");
    try {
      db.transaction(() => {
        db.exec(MESSAGES_TABLE("messages_new"));
        // Named columns: the old table may lack ones added since (release_as, released_by).
        const names = columns("messages")
          .map((c) => c.name)
          .join(", ");
        db.exec(`INSERT INTO messages_new (${names}) SELECT ${names} FROM messages`);
        db.exec("DROP TABLE messages");
        db.exec("ALTER TABLE messages_new RENAME TO messages");
        db.exec(MESSAGES_INDEXES);
        // What settled before the upgrade loses its bytes too, as it would have since.
        db.exec("UPDATE messages SET raw = NULL WHERE state = 'done'");
        db.exec("UPDATE deliveries SET raw = NULL WHERE state = 'done'");
        if ((db.pragma("foreign_key_check") as unknown[]).length > 0) {
          throw new StoreError("STORE_CONFIG", "foreign keys broken while migrating messages");
        }
      })();
    } finally {
      db.pragma("foreign_keys = ON");
    }
  }
  // Files made before an admin could release held mail (sealgate queue release).
  if (!columns("messages").some((c) => c.name === "release_as")) {
    db.transaction(() => {
      db.exec("ALTER TABLE messages ADD COLUMN release_as TEXT");
      db.exec("ALTER TABLE messages ADD COLUMN released_by TEXT");
    })();
  }
  if (columns("events").some((c) => c.name === "recipient")) {
    db.transaction(() => {
      if (!columns("events").some((c) => c.name === "rcpt")) {
        db.exec("ALTER TABLE events ADD COLUMN rcpt INTEGER");
      }
      const rows = db
        .prepare(
          `SELECT e.id, e.recipient, m.rcpt_to FROM events e LEFT JOIN messages m
             ON m.id = e.queue_id WHERE e.recipient IS NOT NULL`,
        )
        .all() as { id: number; recipient: string; rcpt_to: string | null }[];
      const set = db.prepare("UPDATE events SET rcpt = ? WHERE id = ?");
      for (const r of rows) {
        const rcptTo = r.rcpt_to === null ? [] : (JSON.parse(r.rcpt_to) as string[]);
        set.run(rcptPosition(rcptTo, r.recipient) ?? null, r.id);
      }
      db.exec("ALTER TABLE events DROP COLUMN recipient");
    })();
  }
}

/** Creates the tables when missing and converts an older file's layout. */
export function prepareSchema(db: Database.Database): void {
  db.exec(SCHEMA);
  migrate(db);
}
