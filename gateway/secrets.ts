import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ensurePrivateDir, PRIVATE_FILE_MODE } from "./data-dir.js";

/**
 * A secret kept in the data folder: read it if present, otherwise make one (mode 0600).
 * Used for the loop-guard HMAC when no secret is configured, so stamps survive restarts.
 */
export function ensureSecretFile(dataDir: string, name: string, bytes = 32): string {
  const file = path.join(dataDir, name);
  try {
    return readFileSync(file, "utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  ensurePrivateDir(dataDir);
  const secret = randomBytes(bytes).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: PRIVATE_FILE_MODE, flag: "wx" });
  return secret;
}
