/**
 * What `sealgate keys import|list|remove` does, on any KeyRepository: recognise a file as
 * OpenPGP public keys or S/MIME certificates, store each with the addresses it is for, list
 * them, and remove one by fingerprint (or an unambiguous tail of it, like a PGP key ID).
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { PublicKey } from "openpgp";
import { readPublicKeys } from "./pgp/index.js";
import { emailAddresses } from "./smime/index.js";
import type { KeyKind, KeyRepository, StoredKey } from "./types.js";
import { fingerprint, readCertificates, toPem } from "./x509.js";

export type KeysErrorCode =
  | "keys-unrecognised" // neither OpenPGP keys nor certificates
  | "keys-private-key" // private material; needs the key-encryption key path, not this one
  | "keys-no-address" // nothing in the key names an e-mail address
  | "keys-no-storage" // the configured store cannot hold keys
  | "keys-not-found" // remove: no key has that id
  | "keys-ambiguous"; // remove: the id matches several keys

export class KeysError extends Error {
  override readonly name = "KeysError";
  readonly code: KeysErrorCode;

  constructor(code: KeysErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export interface ImportOptions {
  /** Store as the organisation's own key (archive recipient) instead of a recipient's. */
  organisation?: boolean;
  /** Default: now. */
  now?: Date;
}

/** Recognises `bytes` and stores every key in it; returns what was stored. */
export async function importKeys(
  repository: KeyRepository,
  bytes: Uint8Array,
  opts: ImportOptions = {},
): Promise<StoredKey[]> {
  const text = Buffer.from(bytes).toString("latin1");
  if (/-----BEGIN (PGP PRIVATE KEY BLOCK|(RSA |EC |ENCRYPTED )?PRIVATE KEY)-----/.test(text)) {
    throw new KeysError(
      "keys-private-key",
      "the file holds a private key; import only the public key or certificate here",
    );
  }
  const keys =
    text.includes("-----BEGIN PGP PUBLIC KEY BLOCK-----") || isBinaryPgp(bytes)
      ? await pgpKeys(bytes, opts)
      : text.includes("-----BEGIN CERTIFICATE-----") || bytes[0] === 0x30
        ? certificates(text.includes("-----BEGIN") ? text : bytes, opts)
        : null;
  if (keys === null) {
    throw new KeysError("keys-unrecognised", "not an OpenPGP public key or an X.509 certificate");
  }
  for (const key of keys) await repository.putKey(key);
  return keys;
}

/** A public-key packet (tag 6) in old or new format starts a binary transferable key. */
function isBinaryPgp(bytes: Uint8Array): boolean {
  const first = bytes[0] ?? 0;
  return first === 0x99 || first === 0x98 || first === 0xc6;
}

async function pgpKeys(bytes: Uint8Array, opts: ImportOptions): Promise<StoredKey[]> {
  let keys: PublicKey[];
  try {
    keys = await readPublicKeys(bytes);
  } catch (err) {
    throw new KeysError("keys-unrecognised", "the OpenPGP data could not be read", { cause: err });
  }
  const now = opts.now ?? new Date();
  const stored: StoredKey[] = [];
  for (const key of keys) {
    const addresses: string[] = [];
    for (const user of key.users) {
      const email = user.userID?.email ?? "";
      const valid = await user.verify(now).then(
        () => true,
        () => false,
      );
      if (email !== "" && valid) addresses.push(email.toLowerCase());
    }
    if (addresses.length === 0) {
      throw new KeysError("keys-no-address", "the key has no self-signed user ID with an address");
    }
    const expires = await key.getExpirationTime().catch(() => null);
    stored.push({
      id: key.getFingerprint().toUpperCase(),
      kind: opts.organisation ? "org-pgp" : "pgp-public",
      addresses: [...new Set(addresses)],
      source: "import",
      material: key.armor(),
      notAfter: expires instanceof Date ? expires : null,
      createdAt: now,
    });
  }
  return stored;
}

function certificates(input: string | Uint8Array, opts: ImportOptions): StoredKey[] {
  let ders: Buffer[];
  let leaf: x509.X509Certificate;
  try {
    ders = readCertificates(input);
    leaf = new x509.X509Certificate(ders[0] ?? Buffer.alloc(0));
  } catch (err) {
    throw new KeysError(
      "keys-unrecognised",
      "not a readable certificate (PKCS#12 files hold private keys and are not imported here)",
      { cause: err },
    );
  }
  const addresses = emailAddresses(leaf);
  if (addresses.length === 0) {
    throw new KeysError("keys-no-address", "the certificate names no e-mail address");
  }
  return [
    {
      id: fingerprint(ders[0] as Buffer),
      kind: opts.organisation ? "org-smime" : "smime-cert",
      addresses,
      source: "import",
      material: ders.map((d) => toPem(d)).join(""),
      notAfter: leaf.notAfter,
      createdAt: opts.now ?? new Date(),
    },
  ];
}

export async function listKeys(repository: KeyRepository, kinds?: KeyKind[]) {
  const keys = await repository.listKeys(kinds);
  return keys.sort((a, b) => a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id));
}

/**
 * Removes the key whose fingerprint is `id` or ends with it (at least 8 hex digits, so a
 * PGP key ID works), ignoring case and a leading "0x". Returns the removed key.
 */
export async function removeKey(repository: KeyRepository, id: string): Promise<StoredKey> {
  const wanted = id.trim().replace(/^0x/i, "").replace(/\s+/g, "").toLowerCase();
  const all = await repository.listKeys();
  const exact = all.filter((k) => k.id.toLowerCase() === wanted);
  const matches =
    exact.length > 0 || wanted.length < 8
      ? exact
      : all.filter((k) => k.id.toLowerCase().endsWith(wanted));
  const [only] = matches;
  if (only === undefined) throw new KeysError("keys-not-found", `no key with id ${id}`);
  if (matches.length > 1) {
    throw new KeysError("keys-ambiguous", `${matches.length} keys match ${id}; give more digits`);
  }
  await repository.removeKey(only.id);
  return only;
}
