import { enums, readKeys, type Key, type PublicKey, type Subkey } from "openpgp";
import { PgpError } from "./errors.js";

/** Whether a key can encrypt to an address now, and if not, why. */
export type PgpUsability =
  | {
      ok: true;
      key: PublicKey;
      fingerprint: string;
      /** The (sub)key that session keys are wrapped for. */
      encryptionKeyId: string;
      /** When the key stops being usable; null when it never expires. */
      expires: Date | null;
      /** The key advertises SEIPDv2 (RFC 9580 AEAD) support. */
      seipdv2: boolean;
    }
  | { ok: false; fingerprint: string; reason: string };

export interface CheckOptions {
  /** The moment to judge validity at. Default: now. */
  now?: Date;
}

const MIN_RSA_BITS = 2048;

/** RFC 9580 §5.2.3.32: the features flag for Version 2 SEIPD (AEAD) support. */
const FEATURE_SEIPDV2 = 0x08;

const ENCRYPT_FLAGS = enums.keyFlags.encryptCommunication | enums.keyFlags.encryptStorage;

/** Lower-cases the ASCII letters only, as address comparison in RFC 5321 practice does. */
export function normaliseAddress(address: string): string {
  return address.trim().replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * Decides whether `key` may be used to encrypt mail to `address`: the primary key is
 * unrevoked, unexpired and self-signed; a user ID names the address and its self-signature
 * verifies; an encryption-capable (sub)key with a verifying binding is valid now. Each
 * refusal gives one reason, prefixed "pgp:" for the route decision.
 */
export async function checkPgpKey(
  key: PublicKey,
  address: string,
  opts: CheckOptions = {},
): Promise<PgpUsability> {
  const now = opts.now ?? new Date();
  const fingerprint = key.getFingerprint().toUpperCase();
  const refuse = (reason: string): PgpUsability => ({ ok: false, fingerprint, reason });

  if (await key.isRevoked(undefined, undefined, now).catch(() => false)) {
    return refuse("pgp: key revoked");
  }
  const expires = await expiry(key);
  if (expires !== null && expires.getTime() <= now.getTime()) {
    return refuse(`pgp: expired ${day(expires)}`);
  }
  const weak = weakness(key);
  if (weak !== null) return refuse(weak);
  try {
    await key.verifyPrimaryKey(now);
  } catch {
    return refuse("pgp: no valid self-signature");
  }

  const wanted = normaliseAddress(address);
  const named = key.users.filter(
    (u) => u.userID !== null && normaliseAddress(u.userID.email) === wanted,
  );
  if (named.length === 0) return refuse("pgp: no user ID for address");
  let email: string | undefined;
  for (const user of named) {
    const ok = await user.verify(now).then(
      () => true,
      () => false,
    );
    if (ok) {
      email = user.userID?.email;
      break;
    }
  }
  if (email === undefined) return refuse("pgp: user ID for address revoked or not self-signed");

  let encryptionKey: Key | Subkey;
  try {
    encryptionKey = await key.getEncryptionKey(undefined, now, { email });
  } catch {
    return refuse(await whyNoEncryptionKey(key, now));
  }
  return {
    ok: true,
    key,
    fingerprint,
    encryptionKeyId: encryptionKey.getKeyID().toHex().toUpperCase(),
    expires,
    seipdv2: await advertisesSeipdv2(key, now),
  };
}

async function expiry(key: PublicKey): Promise<Date | null> {
  try {
    const t = await key.getExpirationTime();
    return t instanceof Date ? t : null;
  } catch {
    // No valid primary user yet; verifyPrimaryKey reports that below.
    return null;
  }
}

function weakness(key: PublicKey): string | null {
  const info = key.getAlgorithmInfo();
  const rsa = info.algorithm.startsWith("rsa");
  if (rsa && (info.bits ?? 0) < MIN_RSA_BITS) return `pgp: key too weak (RSA ${info.bits ?? 0})`;
  return null;
}

/** Explains a missing encryption key more precisely when an encryption subkey exists. */
async function whyNoEncryptionKey(key: PublicKey, now: Date): Promise<string> {
  let expired: Date | null = null;
  let revoked = false;
  for (const sub of key.subkeys) {
    const binding = sub.bindingSignatures.at(-1);
    const flags = binding?.keyFlags?.[0] ?? 0;
    if ((flags & ENCRYPT_FLAGS) === 0) continue;
    if (binding !== undefined && sub.revocationSignatures.length > 0) {
      if (await sub.isRevoked(binding, key.keyPacket, now).catch(() => false)) revoked = true;
    }
    const t = await sub.getExpirationTime(now).catch(() => null);
    if (t instanceof Date && t.getTime() <= now.getTime()) expired = t;
  }
  if (revoked) return "pgp: encryption subkey revoked";
  if (expired !== null) return `pgp: encryption subkey expired ${day(expired)}`;
  return "pgp: no encryption subkey";
}

async function advertisesSeipdv2(key: PublicKey, now: Date): Promise<boolean> {
  try {
    const { selfCertification } = await key.getPrimaryUser(now);
    return ((selfCertification.features?.[0] ?? 0) & FEATURE_SEIPDV2) !== 0;
  } catch {
    return false;
  }
}

/** Reads every public key in armored or binary input; private parts are dropped. */
export async function readPublicKeys(input: string | Uint8Array): Promise<PublicKey[]> {
  const text = typeof input === "string" ? input : armoredText(input);
  try {
    const keys =
      text !== null
        ? await readKeys({ armoredKeys: text })
        : await readKeys({ binaryKeys: input as Uint8Array });
    return keys.map((k) => k.toPublic());
  } catch (err) {
    throw new PgpError("pgp-unreadable", "not a readable OpenPGP key", { cause: err });
  }
}

/** The input as text when it is ASCII armor, else null (binary packets). */
function armoredText(bytes: Uint8Array): string | null {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  return text.trimStart().startsWith("-----BEGIN PGP") ? text : null;
}
