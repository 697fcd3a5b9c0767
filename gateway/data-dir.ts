import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";

/**
 * The data folder holds PHI: queued messages, delivered copies, keys and secrets. Only the
 * gateway's own user may read it, whatever the process umask says; modes passed to mkdir and
 * open are masked by the umask but never widened, so 0700 and 0600 hold under any of them.
 */

/** Mode of every folder sealgate makes for its data. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of every file sealgate writes that holds PHI, keys or secrets. */
export const PRIVATE_FILE_MODE = 0o600;

/** Makes a data folder (and its parents) 0700 when missing; an existing folder is left as set. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Makes sure a file exists with mode 0600 before a library (SQLite) opens it with its own
 * default of 0644, and narrows an existing one that group or others could read. SQLite gives
 * its -wal and -shm files the database file's mode, so narrowing the database covers them.
 */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, "a", PRIVATE_FILE_MODE));
  chmodSync(file, PRIVATE_FILE_MODE);
}

/** chmod 0600 a file an older version may have left readable; a missing file is skipped. */
export function narrowExisting(file: string): void {
  if (existsSync(file)) chmodSync(file, PRIVATE_FILE_MODE);
}
