import path from "node:path";
import Database from "better-sqlite3";
import { ensurePrivateDir, ensurePrivateFile, narrowExisting } from "../data-dir.js";

/** The embedded store's one file in the data folder. */
export const SQLITE_FILE = "sealgate.db";

/**
 * Opens (creating when missing) the embedded store's file: folder 0700, database 0600 — its
 * WAL and shared-memory files take the database's mode. WAL with synchronous=FULL, so a
 * commit has reached the disk when the call returns.
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
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  return db;
}
