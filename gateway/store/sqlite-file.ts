import path from "node:path";
import Database from "better-sqlite3";
import { ensurePrivateDir, ensurePrivateFile, narrowExisting } from "../data-dir.js";

/** The embedded store's one file in the data folder. */
export const SQLITE_FILE = "sealgate.db";

/**
 * Opens (creating when missing) the embedded store's file: folder 0700, database 0600 — its
 * WAL and shared-memory files take the database's mode. WAL with synchronous=FULL, so a
 * commit has reached the disk when the call returns; a caller that does not need that for a
 * commit lowers it with `relaxed()` (below).
 */
export function openSqliteFile(dataDir: string): Database.Database {
  ensurePrivateDir(dataDir);
  const file = path.join(dataDir, SQLITE_FILE);
  ensurePrivateFile(file);
  narrowExisting(`${file}-wal`);
  narrowExisting(`${file}-shm`);
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  // A message's bytes are cleared once it is done; deleted content is overwritten with zeros
  // rather than left in free pages, and the WAL is cut back to what is in use each time it
  // restarts after a checkpoint, so old frames holding a message do not linger in the file.
  db.pragma("secure_delete = ON");
  db.pragma("journal_size_limit = 0");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  return db;
}

/**
 * Runs one transaction without waiting for the disk (synchronous=NORMAL), then restores FULL.
 * In WAL mode such a commit survives a crash of the process, and the next FULL commit syncs it
 * with its own frames; only a power loss can lose it (SQLite "WAL mode, synchronous=NORMAL").
 * For state changes after the `250` (leases, routes, outcomes, events): losing one on power
 * loss repeats work (at worst a delivery, which the at-least-once promise allows), while each
 * one waiting for an fsync stalls the whole event loop.
 */
export function relaxed<T>(db: Database.Database, work: () => T): T {
  db.pragma("synchronous = NORMAL");
  try {
    return work();
  } finally {
    db.pragma("synchronous = FULL");
  }
}
