/**
 * What `sealgate keys import|list|remove` does, on any KeyRepository: recognise a file as
 * OpenPGP public keys or S/MIME certificates, store each with the addresses it is for, list
 * them, and remove one by fingerprint (or an unambiguous tail of it, like a PGP key ID). Our
 * own S/MIME certificates (the organisation's, a staff member's) may come with their private
 * key, as PKCS#12 or PEM; the repository seals it at rest with the key-encryption key.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { PublicKey } from "openpgp";
import { CaError } from "./ca/errors.js";
import { hasPrivatePem, isPkcs12, OwnSmimeError, readOwnSmime } from "./own-keys.js";
import { readPublicKeys } from "./pgp/index.js";
import { emailAddresses } from "./smime/index.js";
import type { KeyKind, KeyRepository, StoredKey } from "./types.js";
import { fingerprint, nodeCertificate, readCertificates, toPem } from "./x509.js";

/** The curves certs/smime can encrypt to (ECDH, RFC 5753). */
const EC_RECIPIENT = new Set(["prime256v1", "secp384r1"]);

export type KeysErrorCode =
  | "keys-unrecognised" // neither OpenPGP keys nor certificates
  | "keys-private-key" // private material where only a public key belongs
  | "keys-bad-private-key" // the private key or PKCS#12 file cannot be read, or the password is wrong
  | "keys-password-needed" // a PKCS#12 file or encrypted key came without a password
  | "keys-key-mismatch" // the private key belongs to none of the certificates given
  | "keys-unsupported-key" // our own certificate's key is not one S/MIME copies can encrypt to
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

/**
 * Whose key a file holds. recipient: someone we send to (public only). organisation: our own
 * shared certificate or OpenPGP key, added to every encrypted copy and (S/MIME, with its key)
 * the signer when the sender has none. staff: one staff member's S/MIME certificate, added to
 * (and with its key signing) only the mail that member sends.
 */
export type KeyOwner = "recipient" | "organisation" | "staff";

export interface ImportOptions {
  /** Default recipient. */
  owner?: KeyOwner | undefined;
  /** A second file with the private key (PEM) of our own certificate. Default none. */
  keyBytes?: Uint8Array | undefined;
  /** Password of a PKCS#12 file or an encrypted PEM key. Default none. */
  password?: string | undefined;
  /** Default: now. */
  now?: Date | undefined;
}

/** Recognises `bytes` and stores every key in it; returns what was stored. */
export async function importKeys(
  repository: KeyRepository,
  bytes: Uint8Array,
  opts: ImportOptions = {},
): Promise<StoredKey[]> {
  const owner = opts.owner ?? "recipient";
  const text = Buffer.from(bytes).toString("latin1");
  if (text.includes("-----BEGIN PGP PRIVATE KEY BLOCK-----")) {
    throw new KeysError(
      "keys-private-key",
      "the file holds an OpenPGP private key; sealgate only encrypts to OpenPGP keys, " +
        "so import the public key",
    );
  }
  const pgp = text.includes("-----BEGIN PGP PUBLIC KEY BLOCK-----") || isBinaryPgp(bytes);
  if (pgp && owner === "staff") {
    throw new KeysError("keys-unrecognised", "staff keys are S/MIME certificates, not OpenPGP");
  }
  let keys: StoredKey[] | null;
  if (pgp) {
    if (opts.keyBytes) throw new KeysError("keys-private-key", "OpenPGP keys take no key file");
    keys = await pgpKeys(bytes, owner, opts.now);
  } else if (owner === "recipient") {
    if (hasPrivatePem(text) || isPkcs12(bytes) || opts.keyBytes) {
      throw new KeysError(
        "keys-private-key",
        "the file holds a private key; a recipient's certificate is imported without one " +
          "(--org or --staff import our own certificate with its key)",
      );
    }
    keys =
      text.includes("-----BEGIN CERTIFICATE-----") || bytes[0] === 0x30
        ? certificates(text.includes("-----BEGIN") ? text : bytes, opts.now)
        : null;
  } else {
    keys = ownCertificate(bytes, owner, opts);
  }
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

async function pgpKeys(
  bytes: Uint8Array,
  owner: KeyOwner,
  at: Date | undefined,
): Promise<StoredKey[]> {
  let keys: PublicKey[];
  try {
    keys = await readPublicKeys(bytes);
  } catch (err) {
    throw new KeysError("keys-unrecognised", "the OpenPGP data could not be read", { cause: err });
  }
  const now = at ?? new Date();
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
      kind: owner === "organisation" ? "org-pgp" : "pgp-public",
      addresses: [...new Set(addresses)],
      source: "import",
      material: key.armor(),
      notAfter: expires instanceof Date ? expires : null,
      createdAt: now,
    });
  }
  return stored;
}

function certificates(input: string | Uint8Array, at: Date | undefined): StoredKey[] {
  let ders: Buffer[];
  try {
    ders = readCertificates(input);
    new x509.X509Certificate(ders[0] ?? Buffer.alloc(0));
  } catch (err) {
    throw new KeysError("keys-unrecognised", "not a readable certificate", { cause: err });
  }
  return [certificateKey(ders, "smime-cert", { at, privateMaterial: undefined })];
}

/** Our own certificate, with its private key when one is given (PKCS#12 or PEM). */
function ownCertificate(bytes: Uint8Array, owner: KeyOwner, opts: ImportOptions): StoredKey[] {
  let own;
  try {
    own = readOwnSmime(opts.keyBytes ? [bytes, opts.keyBytes] : [bytes], opts.password);
  } catch (err) {
    if (err instanceof OwnSmimeError) {
      const code =
        err.problem === "password-needed"
          ? "keys-password-needed"
          : err.problem === "key-mismatch"
            ? "keys-key-mismatch"
            : "keys-bad-private-key";
      throw new KeysError(code, err.message, { cause: err });
    }
    if (err instanceof CaError) throw new KeysError("keys-bad-private-key", err.message);
    throw new KeysError("keys-unrecognised", "not a readable certificate or key", { cause: err });
  }
  if (own.certificates.length === 0) {
    throw new KeysError("keys-unrecognised", "no certificate in the file");
  }
  // Our certificate is added as a recipient to every copy: a key S/MIME cannot encrypt to
  // would make every S/MIME copy fail.
  let key;
  try {
    key = nodeCertificate(own.certificates[0] as Buffer).publicKey;
  } catch (err) {
    throw new KeysError("keys-unrecognised", "not a readable certificate", { cause: err });
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (
    key.asymmetricKeyType !== "rsa" &&
    !(key.asymmetricKeyType === "ec" && EC_RECIPIENT.has(curve ?? ""))
  ) {
    throw new KeysError(
      "keys-unsupported-key",
      `copies cannot be encrypted to a ${key.asymmetricKeyType ?? "unknown"}${curve ? ` ${curve}` : ""} key; use RSA, P-256 or P-384`,
    );
  }
  const privateMaterial = own.key?.export({ type: "pkcs8", format: "pem" }) as string | undefined;
  const kind = owner === "staff" ? "staff-smime" : "org-smime";
  return [certificateKey(own.certificates, kind, { at: opts.now, privateMaterial })];
}

function certificateKey(
  ders: Buffer[],
  kind: KeyKind,
  o: { at: Date | undefined; privateMaterial: string | undefined },
): StoredKey {
  let leaf: x509.X509Certificate;
  try {
    leaf = new x509.X509Certificate(ders[0] ?? Buffer.alloc(0));
  } catch (err) {
    throw new KeysError("keys-unrecognised", "not a readable certificate", { cause: err });
  }
  const addresses = emailAddresses(leaf);
  if (addresses.length === 0) {
    throw new KeysError("keys-no-address", "the certificate names no e-mail address");
  }
  return {
    id: fingerprint(ders[0] as Buffer),
    kind,
    addresses,
    source: "import",
    material: ders.map((d) => toPem(d)).join(""),
    privateMaterial: o.privateMaterial,
    notAfter: leaf.notAfter,
    createdAt: o.at ?? new Date(),
  };
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
