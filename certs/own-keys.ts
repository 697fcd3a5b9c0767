/**
 * Our own S/MIME material as an admin hands it over: a PKCS#12 file, or PEM certificate(s)
 * and a PEM private key in one file or two. The key must belong to one of the certificates;
 * that certificate becomes the leaf, the others its chain.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import { CaError } from "./ca/errors.js";
import { readPkcs12 } from "./ca/pkcs12-read.js";
import { nodeCertificate, pemBlocks, toArrayBuffer } from "./x509.js";

export interface OwnSmime {
  /** Leaf first, then the rest of the chain as given. */
  certificates: Buffer[];
  /** The leaf's private key; null when only certificates were given. */
  key: KeyObject | null;
}

export type OwnSmimeProblem =
  | "password-needed" // a PKCS#12 file or encrypted key, and no password
  | "several-keys" // more than one private key
  | "key-mismatch" // the key belongs to none of the certificates
  | "no-certificate" // a key without any certificate
  | "no-key"; // a key file without a key in it

export class OwnSmimeError extends Error {
  override readonly name = "OwnSmimeError";
  readonly problem: OwnSmimeProblem;

  constructor(problem: OwnSmimeProblem, message: string) {
    super(message);
    this.problem = problem;
  }
}

const PRIVATE_PEM =
  /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/g;

/** PFX ::= SEQUENCE { version INTEGER, ... }; a certificate starts with a SEQUENCE instead. */
export function isPkcs12(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0x30) return false;
  const { offset, result } = asn1js.fromBER(toArrayBuffer(bytes));
  if (offset === -1 || !(result instanceof asn1js.Sequence)) return false;
  return result.valueBlock.value[0] instanceof asn1js.Integer;
}

/** True when the text holds a PEM private key (plain, traditional or encrypted). */
export function hasPrivatePem(text: string): boolean {
  return new RegExp(PRIVATE_PEM.source).test(text);
}

function spkiOf(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: "spki", format: "der" });
}

function certificateSpki(der: Buffer): Buffer {
  return nodeCertificate(der).publicKey.export({ type: "spki", format: "der" });
}

/** Puts the certificate the key belongs to first; refuses a key that fits none. */
function withLeafFirst(certificates: Buffer[], key: KeyObject | null): OwnSmime {
  if (key === null) return { certificates, key };
  if (certificates.length === 0) {
    throw new OwnSmimeError("no-certificate", "the private key comes without its certificate");
  }
  const spki = spkiOf(key);
  const leaf = certificates.findIndex((der) => certificateSpki(der).equals(spki));
  if (leaf === -1) {
    throw new OwnSmimeError("key-mismatch", "the private key does not belong to the certificate");
  }
  const rest = certificates.filter((_, i) => i !== leaf);
  return { certificates: [certificates[leaf] as Buffer, ...rest], key };
}

/**
 * Reads our own certificate and key from the given files (PKCS#12 alone, or PEM in one or two
 * files). Throws OwnSmimeError for what the admin must fix and CaError for a wrong password
 * or an unreadable PKCS#12 file.
 */
export function readOwnSmime(files: Uint8Array[], password: string | undefined): OwnSmime {
  const [first] = files;
  if (files.some(isPkcs12) && files.length > 1) {
    throw new OwnSmimeError("several-keys", "a PKCS#12 file holds its key; give no key file");
  }
  if (first !== undefined && isPkcs12(first)) {
    if (password === undefined) {
      throw new OwnSmimeError("password-needed", "a PKCS#12 file needs its password");
    }
    const { key, certificates } = readPkcs12(first, password);
    return withLeafFirst(certificates, key);
  }

  const certificates: Buffer[] = [];
  const keyPems: string[] = [];
  for (const file of files) {
    const text = Buffer.from(file).toString("latin1");
    if (text.includes("-----BEGIN")) {
      certificates.push(...pemBlocks(text));
      keyPems.push(...[...text.matchAll(PRIVATE_PEM)].map((m) => m[0]));
    } else if (file[0] === 0x30) {
      certificates.push(Buffer.from(file));
    }
  }
  if (keyPems.length > 1) {
    throw new OwnSmimeError("several-keys", `${keyPems.length} private keys given; give one`);
  }
  const [pem] = keyPems;
  if (pem === undefined && files.length > 1) {
    throw new OwnSmimeError("no-key", "the key file holds no PEM private key");
  }
  if (pem === undefined) return withLeafFirst(certificates, null);
  if (pem.includes("ENCRYPTED") && password === undefined) {
    throw new OwnSmimeError("password-needed", "the private key is encrypted; give its password");
  }
  let key: KeyObject;
  try {
    key = readKey(pem, password);
  } catch (err) {
    throw new CaError("ca_bad_key", "the private key cannot be read (wrong password?)", {
      cause: err,
    });
  }
  return withLeafFirst(certificates, key);
}

/** createPrivateKey is the one reader for PKCS#8, PKCS#1 and SEC1, encrypted or not. */
function readKey(pem: string, password: string | undefined): KeyObject {
  return createPrivateKey({ key: pem, format: "pem", passphrase: password ?? "" });
}
