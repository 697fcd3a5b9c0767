/**
 * The portal's secrets: link tokens and session ids (256 random bits, stored only as SHA-256),
 * one-time codes, scrypt password hashes, and message bodies sealed at rest. A body is sealed
 * with its own random 256-bit data key (AES-256-GCM); the data key is sealed under the KEK
 * with the portal id as context, and the body's authenticated data names the portal id too,
 * so neither a body nor a key moved onto another row opens.
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  randomBytes,
  randomInt,
  scrypt,
  timingSafeEqual,
  type ScryptOptions,
} from "node:crypto";
import { openPrivate, sealPrivate } from "../keys/kek.js";
import { PortalError } from "./errors.js";

const BODY_VERSION = Buffer.from("sgp1", "ascii");
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** 256 random bits, URL-safe: notice tokens, session ids, CSRF tokens. */
export function newSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** Portal ids: 128 random bits in lower-case hex, short enough for `portal revoke ID`. */
export function newPortalId(): string {
  return randomBytes(16).toString("hex");
}

export function sha256(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex");
}

export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A uniformly drawn 8-digit code. */
export function newCode(): string {
  return String(randomInt(0, 100_000_000)).padStart(8, "0");
}

/** The code is bound to its address, so a code hash copied onto another row does not match. */
export function codeHash(address: string, code: string): string {
  return sha256(`portal code\0${address}\0${code.trim()}`);
}

/**
 * scrypt with N=2^15, r=8 (32 MiB per hash): OWASP's minimum for scrypt, memory-hard so a
 * stolen table is slow to attack on GPUs. The parameters travel in the hash so they can rise.
 */
const SCRYPT = { N: 1 << 15, r: 8, p: 1 } as const;
const SCRYPT_KEY_BYTES = 32;

function scryptAsync(password: string, salt: Buffer, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const maxmem = 256 * (o.N ?? 1) * (o.r ?? 8) + 16 * 1024 * 1024;
    scrypt(password.normalize("NFC"), salt, SCRYPT_KEY_BYTES, { ...o, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT);
  return ["scrypt", SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString("base64"), key.toString("base64")]
    .map(String)
    .join("$");
}

export async function checkPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !key) return false;
  const expected = Buffer.from(key, "base64");
  const got = await scryptAsync(password, Buffer.from(salt, "base64"), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export interface SealedBody {
  wrappedKey: string;
  body: Buffer;
}

function bodyAad(portalId: string): Buffer {
  return Buffer.concat([BODY_VERSION, Buffer.from(`.${portalId}`, "utf8")]);
}

const keyContext = (portalId: string) => `portal:${portalId}`;

export function sealBody(raw: Buffer, portalId: string, kek: Buffer): SealedBody {
  const dataKey = randomBytes(32);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", dataKey, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(bodyAad(portalId));
  const ciphertext = Buffer.concat([cipher.update(raw), cipher.final()]);
  const wrappedKey = sealPrivate(dataKey.toString("base64"), kek, {
    context: keyContext(portalId),
  });
  dataKey.fill(0);
  return {
    wrappedKey,
    body: Buffer.concat([BODY_VERSION, nonce, ciphertext, cipher.getAuthTag()]),
  };
}

/** Throws KekError (wrong KEK, moved key) or PortalError PORTAL_CORRUPT (altered, moved body). */
export function openBody(sealed: SealedBody, portalId: string, kek: Buffer): Buffer {
  const dataKey = Buffer.from(
    openPrivate(sealed.wrappedKey, kek, { context: keyContext(portalId) }),
    "base64",
  );
  const b = sealed.body;
  const head = BODY_VERSION.length;
  if (b.length < head + NONCE_BYTES + TAG_BYTES || !b.subarray(0, head).equals(BODY_VERSION)) {
    throw new PortalError("PORTAL_CORRUPT", `portal message ${portalId}: not a sealed body`);
  }
  try {
    const nonce = b.subarray(head, head + NONCE_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", dataKey, nonce, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(bodyAad(portalId));
    decipher.setAuthTag(b.subarray(b.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(b.subarray(head + NONCE_BYTES, b.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch (err) {
    throw new PortalError("PORTAL_CORRUPT", `portal message ${portalId} fails authentication`, {
      cause: err,
    });
  } finally {
    dataKey.fill(0);
  }
}
