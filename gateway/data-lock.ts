import { linkSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PRIVATE_FILE_MODE } from "./data-dir.js";

/**
 * One gateway per embedded data folder. The SQLite store voids every lease when it opens (a
 * lease left there belongs to a crashed run), so a second process on the same folder would
 * take the first one's messages and both would deliver them. A lock file holding the owner's
 * pid is made with O_EXCL at start; a lock whose pid is no longer running was left by a crash
 * and is taken over.
 */

export const LOCK_FILE = "sealgate.lock";

export type DataLockErrorCode =
  /** Another live process holds the data folder. */
  | "DATA_LOCKED"
  /** The lock file could not be made or read. */
  | "DATA_LOCK_FAILED";

export class DataLockError extends Error {
  override readonly name = "DataLockError";
  readonly code: DataLockErrorCode;

  constructor(code: DataLockErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export interface DataLock {
  readonly file: string;
  /** Removes the lock file if it is still ours. */
  release(): void;
}

/** Folders locked by this process: a pid equal to ours is only ours if it is listed here. */
const heldHere = new Set<string>();

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readOwner(file: string): { text: string; pid: number | null } | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new DataLockError("DATA_LOCK_FAILED", `cannot read ${file}`, { cause: err });
  }
  const pid = Number.parseInt(text.trim(), 10);
  return { text, pid: Number.isSafeInteger(pid) && pid > 0 ? pid : null };
}

/** Written aside and linked into place, so a reader never sees a lock without its pid. */
function tryCreate(file: string): boolean {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${process.pid}\n`, { mode: PRIVATE_FILE_MODE });
    linkSync(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new DataLockError("DATA_LOCK_FAILED", `cannot create ${file}`, { cause: err });
  } finally {
    rmSync(temp, { force: true });
  }
}

function locked(dir: string, file: string, pid: number): DataLockError {
  return new DataLockError(
    "DATA_LOCKED",
    `data folder ${dir} is in use by another sealgate (pid ${pid}); ` +
      `stop it first, or remove ${file} if that process is not sealgate`,
  );
}

/**
 * Takes the data folder for this process, or throws DataLockError naming the folder and the
 * pid that holds it. The folder must exist.
 */
export function lockDataDir(dataDir: string): DataLock {
  const dir = path.resolve(dataDir);
  const file = path.join(dir, LOCK_FILE);
  if (heldHere.has(dir)) throw locked(dir, file, process.pid);
  // Bounded: each round takes the lock, refuses, or removes one stale file.
  for (let round = 0; round < 5; round++) {
    if (tryCreate(file)) {
      heldHere.add(dir);
      return {
        file,
        release() {
          if (!heldHere.delete(dir)) return;
          if (readOwner(file)?.pid === process.pid) rmSync(file, { force: true });
        },
      };
    }
    const owner = readOwner(file);
    if (owner === null) continue;
    if (owner.pid !== null && owner.pid !== process.pid && isRunning(owner.pid)) {
      throw locked(dir, file, owner.pid);
    }
    // Left by a process that is gone (or by an earlier run with our pid, as in a container
    // where the gateway is always pid 1). Removed only if nobody replaced it meanwhile.
    if (readOwner(file)?.text === owner.text) rmSync(file, { force: true });
  }
  throw new DataLockError("DATA_LOCK_FAILED", `cannot take ${file}: it keeps changing`);
}
