/**
 * The key-encryption key (KEK) that seals private keys at rest, and the sealing itself:
 * AES-256-GCM with a random 96-bit nonce per value (NIST SP 800-38D §8.2.2), so one KEK can
 * seal many values. A sealed value reads `sgk1.<kek id>.<nonce>.<ciphertext>.<tag>`; the
 * version and KEK id are authenticated with the ciphertext, and so is the caller's context
 * (the key's id), so a sealed value moved onto another row does not open.
 */

import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ensurePrivateDir, PRIVATE_FILE_MODE } from "../data-dir.js";
import type { Logger } from "../log.js";
import { KekError } from "./errors.js";

export const SEALED_VERSION = "sgk1";
const VERSION = SEALED_VERSION;
const KEK_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Name of the KEK file made in the data folder when nothing is configured (SQLite only). */
export const GENERATED_KEK_FILE = "key-encryption-key";

export interface SealOptions {
  /** Bound to the sealed value: opening needs the same context. Default "". */
  context?: string | undefined;
}

function requireKek(kek: Buffer): void {
  if (kek.length !== KEK_BYTES) {
    throw new KekError("KEK_INVALID", `a key-encryption key has ${KEK_BYTES} bytes`);
  }
}

/**
 * A short public name for a KEK, so an error can say which key sealed a value. It is an HMAC
 * under the key itself, so it reveals nothing about the key.
 */
export function kekId(kek: Buffer): string {
  requireKek(kek);
  return createHmac("sha256", kek).update("sealgate kek id").digest("hex").slice(0, 16);
}

function additionalData(id: string, context: string): Buffer {
  return Buffer.from(`${VERSION}.${id}.${context}`, "utf8");
}

export function sealPrivate(plaintext: string, kek: Buffer, options: SealOptions = {}): string {
  const id = kekId(kek);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", kek, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(id, options.context ?? ""));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [VERSION, id, nonce, ciphertext, cipher.getAuthTag()]
    .map((part) => (typeof part === "string" ? part : part.toString("base64url")))
    .join(".");
}

/** Opens a value sealPrivate made; throws KEK_MISMATCH or KEK_CORRUPT rather than guess. */
export function openPrivate(sealed: string, kek: Buffer, options: SealOptions = {}): string {
  const id = kekId(kek);
  const parts = sealed.split(".");
  if (parts.length !== 5 || parts[0] !== VERSION) {
    throw new KekError("KEK_CORRUPT", `not a sealed private key (expected ${VERSION})`);
  }
  const [, sealedBy = "", nonceText = "", ciphertextText = "", tagText = ""] = parts;
  if (sealedBy !== id) {
    throw new KekError(
      "KEK_MISMATCH",
      `private key sealed with key-encryption key ${sealedBy}, but ${id} is configured`,
    );
  }

  const nonce = Buffer.from(nonceText, "base64url");
  const tag = Buffer.from(tagText, "base64url");
  if (nonce.length !== NONCE_BYTES || tag.length !== TAG_BYTES) {
    throw new KekError("KEK_CORRUPT", "sealed private key has a malformed nonce or tag");
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", kek, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(id, options.context ?? ""));
    decipher.setAuthTag(tag);
    const plain = Buffer.concat([
      decipher.update(Buffer.from(ciphertextText, "base64url")),
      decipher.final(),
    ]);
    return plain.toString("utf8");
  } catch (err) {
    throw new KekError("KEK_CORRUPT", "sealed private key fails authentication", { cause: err });
  }
}

/** Standard or URL-safe base64 of exactly 32 bytes, padding optional. */
function parseKek(text: string, origin: string): Buffer {
  const trimmed = text.trim();
  const key = /^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)
    ? Buffer.from(trimmed.replace(/-/g, "+").replace(/_/g, "/"), "base64")
    : Buffer.alloc(0);
  if (key.length !== KEK_BYTES) {
    throw new KekError("KEK_INVALID", `${origin} must hold ${KEK_BYTES} bytes in base64`);
  }
  return key;
}

/** What loadKek reads of the configuration (the full Config fits). */
export interface KekConfig {
  dataDir: string;
  keys: { kekFile?: string | undefined };
  store: { kind: "sqlite" | "postgres" };
}

export interface LoadKekOptions {
  /** Default process.env; SEALGATE_KEK (base64) wins over keys.kekFile. */
  env?: NodeJS.ProcessEnv | undefined;
  /** Told when a KEK is made, or when its file is readable by others. Default: silent. */
  log?: Logger | undefined;
}

function readKekFile(file: string, log: Logger | undefined): Buffer {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
    if ((statSync(file).mode & 0o077) !== 0) {
      log?.warn({ file }, "key-encryption key file is readable by other users; chmod 600 it");
    }
  } catch (err) {
    throw new KekError("KEK_INVALID", `cannot read key-encryption key file ${file}`, {
      cause: err,
    });
  }
  return parseKek(text, `key-encryption key file ${file}`);
}

/** Makes the data folder's KEK once; a concurrent start that loses the race reads the winner's. */
function generatedKek(dataDir: string, log: Logger | undefined): Buffer {
  const file = path.join(dataDir, GENERATED_KEK_FILE);
  ensurePrivateDir(dataDir);
  try {
    writeFileSync(file, `${randomBytes(KEK_BYTES).toString("base64")}\n`, {
      mode: PRIVATE_FILE_MODE,
      flag: "wx",
    });
    log?.info(
      { file },
      "made a key-encryption key for private keys at rest; back it up with the database",
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new KekError("KEK_INVALID", `cannot create ${file}`, { cause: err });
    }
  }
  return readKekFile(file, log);
}

/**
 * The KEK from SEALGATE_KEK, keys.kekFile, or (embedded SQLite default) a file made once in
 * the data folder. Cluster mode refuses to make one: every node must share the same key, or a
 * key sealed on one node would not open on another.
 */
export function loadKek(config: KekConfig, options: LoadKekOptions = {}): Buffer {
  const env = options.env ?? process.env;
  if (env.SEALGATE_KEK !== undefined && env.SEALGATE_KEK !== "") {
    return parseKek(env.SEALGATE_KEK, "SEALGATE_KEK");
  }
  if (config.keys.kekFile !== undefined) return readKekFile(config.keys.kekFile, options.log);
  if (config.store.kind === "postgres") {
    throw new KekError(
      "KEK_MISSING",
      "store.kind postgres needs a key-encryption key shared by all nodes: " +
        "set SEALGATE_KEK or keys.kekFile",
    );
  }
  return generatedKek(config.dataDir, options.log);
}
