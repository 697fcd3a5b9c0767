/**
 * Reading a PKCS#12 file (RFC 7292) to take the organisation's or a staff member's S/MIME key
 * into the key store: the integrity MAC is checked with the password, certificate bags are
 * decrypted (PBES2, or the legacy SHA-1 3DES scheme of RFC 7292 Appendix C), and the key bag is
 * opened by OpenSSL, which knows every PKCS#8 encryption scheme Node does.
 */
import {
  createDecipheriv,
  createHmac,
  createPrivateKey,
  pbkdf2Sync,
  timingSafeEqual,
  type KeyObject,
} from "node:crypto";
import * as asn1js from "asn1js";
import { toArrayBuffer } from "../x509.js";
import { CaError } from "./errors.js";
import { p12Kdf } from "./pkcs12.js";

const OID = {
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  keyBag: "1.2.840.113549.1.12.10.1.1",
  shroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  pbeSha1TripleDes: "1.2.840.113549.1.12.1.3",
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
} as const;

/** PBKDF2 pseudo-random functions (RFC 8018 Appendix B.1); hmacWithSHA1 is the default. */
const PRF: Record<string, string> = {
  "1.2.840.113549.2.7": "sha1",
  "1.2.840.113549.2.9": "sha256",
  "1.2.840.113549.2.10": "sha384",
  "1.2.840.113549.2.11": "sha512",
};

/** PBES2 encryption schemes and their key lengths. */
const CIPHER: Record<string, { name: string; keyLength: number }> = {
  "2.16.840.1.101.3.4.1.2": { name: "aes-128-cbc", keyLength: 16 },
  "2.16.840.1.101.3.4.1.22": { name: "aes-192-cbc", keyLength: 24 },
  "2.16.840.1.101.3.4.1.42": { name: "aes-256-cbc", keyLength: 32 },
  "1.2.840.113549.3.7": { name: "des-ede3-cbc", keyLength: 24 },
};

export interface Pkcs12Contents {
  /** The private key; the file must hold exactly one. */
  key: KeyObject;
  /** Every certificate in the file, as DER, in file order. */
  certificates: Buffer[];
}

type Node = asn1js.AsnType & {
  idBlock: { tagClass: number; tagNumber: number; isConstructed: boolean };
  valueBlock: {
    value?: Node[];
    valueHexView?: Uint8Array;
    valueDec?: number;
  };
};

function bad(message: string, cause?: unknown): CaError {
  return new CaError("ca_bad_pkcs12", message, cause === undefined ? undefined : { cause });
}

function parse(bytes: Uint8Array): Node {
  const { offset, result } = asn1js.fromBER(toArrayBuffer(bytes));
  if (offset === -1) throw bad("not a PKCS#12 file (the ASN.1 cannot be read)");
  return result as Node;
}

function children(node: Node | undefined, what: string): Node[] {
  const value = node?.valueBlock.value;
  if (!Array.isArray(value)) throw bad(`malformed PKCS#12 file (${what})`);
  return value;
}

function child(node: Node | undefined, index: number, what: string): Node {
  const value = children(node, what)[index];
  if (value === undefined) throw bad(`malformed PKCS#12 file (${what})`);
  return value;
}

function oidOf(node: Node | undefined): string {
  return node instanceof asn1js.ObjectIdentifier ? node.valueBlock.toString() : "";
}

function intOf(node: Node | undefined, fallback: number): number {
  return node instanceof asn1js.Integer ? node.valueBlock.valueDec : fallback;
}

/** The bytes of an OCTET STRING, primitive or (BER) constructed from segments. */
function octets(node: Node): Buffer {
  // asn1js also decodes an OCTET STRING's contents when they look like ASN.1; only a
  // constructed (BER) string's children are segments.
  const parts = node.valueBlock.value;
  if (node.idBlock.isConstructed && Array.isArray(parts)) {
    return Buffer.concat(parts.map(octets));
  }
  return Buffer.from(node.valueBlock.valueHexView ?? new Uint8Array());
}

/** RFC 7292 Appendix B: the MAC proves the password before anything is decrypted. */
function checkMac(macData: Node, authSafe: Buffer, password: string): void {
  const digestInfo = child(macData, 0, "mac");
  const algorithm = oidOf(child(child(digestInfo, 0, "mac algorithm"), 0, "mac algorithm"));
  const hash = algorithm === OID.sha1 ? "sha1" : algorithm === OID.sha256 ? "sha256" : null;
  if (hash === null) throw bad("the PKCS#12 integrity MAC uses a hash sealgate does not read");
  const expected = octets(child(digestInfo, 1, "mac value"));
  const salt = octets(child(macData, 1, "mac salt"));
  const iterations = intOf(children(macData, "mac")[2], 1);
  const key = p12Kdf({ hash, password, salt, id: 3, iterations }, hash === "sha1" ? 20 : 32);
  const mac = createHmac(hash, key).update(authSafe).digest();
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) {
    throw new CaError("ca_bad_key", "wrong PKCS#12 password (the integrity check failed)");
  }
}

/** Decrypts an EncryptedContentInfo's content with PBES2 or pbeWithSHAAnd3-KeyTripleDES-CBC. */
function decrypt(algorithm: Node, data: Buffer, password: string): Buffer {
  const scheme = oidOf(child(algorithm, 0, "encryption algorithm"));
  const params = children(algorithm, "encryption algorithm")[1];
  try {
    if (scheme === OID.pbes2) {
      const kdf = child(params, 0, "PBES2 key derivation");
      const enc = child(params, 1, "PBES2 scheme");
      if (oidOf(child(kdf, 0, "PBES2 kdf")) !== OID.pbkdf2) {
        throw bad("the PKCS#12 file uses a key derivation other than PBKDF2");
      }
      const kdfParams = children(child(kdf, 1, "PBKDF2 parameters"), "PBKDF2 parameters");
      const cipher = CIPHER[oidOf(child(enc, 0, "PBES2 cipher"))];
      if (!cipher) throw bad("the PKCS#12 file uses a cipher sealgate does not read");
      const salt = octets(kdfParams[0] as Node);
      const iterations = intOf(kdfParams[1], 1);
      const prfNode = kdfParams.find((n) => n instanceof asn1js.Sequence);
      const prf = prfNode ? PRF[oidOf(child(prfNode, 0, "PBKDF2 prf"))] : "sha1";
      if (!prf) throw bad("the PKCS#12 file uses a PBKDF2 hash sealgate does not read");
      const key = pbkdf2Sync(
        Buffer.from(password, "utf8"),
        salt,
        iterations,
        cipher.keyLength,
        prf,
      );
      const d = createDecipheriv(cipher.name, key, octets(child(enc, 1, "PBES2 iv")));
      return Buffer.concat([d.update(data), d.final()]);
    }
    if (scheme === OID.pbeSha1TripleDes) {
      const salt = octets(child(params, 0, "PBE salt"));
      const iterations = intOf(children(params, "PBE parameters")[1], 1);
      const base = { hash: "sha1" as const, password, salt, iterations };
      const d = createDecipheriv(
        "des-ede3-cbc",
        p12Kdf({ ...base, id: 1 }, 24),
        p12Kdf({ ...base, id: 2 }, 8),
      );
      return Buffer.concat([d.update(data), d.final()]);
    }
  } catch (err) {
    if (err instanceof CaError) throw err;
    throw new CaError("ca_bad_key", "the PKCS#12 contents cannot be decrypted (wrong password?)", {
      cause: err,
    });
  }
  // RC2-40 is what OpenSSL's -legacy writes for certificates; OpenSSL 3 keeps it out of reach.
  throw bad(
    "the PKCS#12 file is encrypted with an old cipher (RC2 or RC4); re-export it with " +
      "AES, e.g. openssl pkcs12 -export -certpbe AES-256-CBC -keypbe AES-256-CBC",
  );
}

/** The SafeContents a ContentInfo of the AuthenticatedSafe carries, decrypted when needed. */
function safeContents(info: Node, password: string): Node[] {
  const type = oidOf(child(info, 0, "content type"));
  const content = child(child(info, 1, "content"), 0, "content");
  if (type === OID.data) return children(parse(octets(content)), "safe contents");
  if (type !== OID.encryptedData) throw bad("the PKCS#12 file holds public-key encrypted data");
  const encryptedInfo = child(content, 1, "encrypted content info");
  const algorithm = child(encryptedInfo, 1, "encryption algorithm");
  const data = octets(child(encryptedInfo, 2, "encrypted content"));
  return children(parse(decrypt(algorithm, data, password)), "safe contents");
}

/** The key and certificates of a PKCS#12 file; CaError when the password or file is wrong. */
export function readPkcs12(bytes: Uint8Array, password: string): Pkcs12Contents {
  const pfx = parse(bytes);
  if (intOf(children(pfx, "PFX")[0], 0) !== 3) throw bad("not a PKCS#12 version 3 file");
  const authSafeInfo = child(pfx, 1, "authenticated safe");
  if (oidOf(child(authSafeInfo, 0, "authenticated safe")) !== OID.data) {
    throw bad("the PKCS#12 file uses public-key integrity, which sealgate does not read");
  }
  const authSafe = octets(child(child(authSafeInfo, 1, "authenticated safe"), 0, "data"));
  const macData = children(pfx, "PFX")[2];
  if (macData === undefined) throw bad("the PKCS#12 file has no integrity MAC");
  checkMac(macData, authSafe, password);

  const keys: KeyObject[] = [];
  const certificates: Buffer[] = [];
  for (const info of children(parse(authSafe), "authenticated safe")) {
    for (const bag of safeContents(info, password)) {
      const id = oidOf(child(bag, 0, "bag id"));
      const value = child(child(bag, 1, "bag value"), 0, "bag value");
      const der = Buffer.from(value.toBER(false));
      if (id === OID.certBag) {
        if (oidOf(child(value, 0, "certificate type")) !== OID.x509Certificate) continue;
        certificates.push(octets(child(child(value, 1, "certificate"), 0, "certificate")));
      } else if (id === OID.keyBag) {
        keys.push(createPrivateKey({ key: der, format: "der", type: "pkcs8" }));
      } else if (id === OID.shroudedKeyBag) {
        try {
          keys.push(
            createPrivateKey({ key: der, format: "der", type: "pkcs8", passphrase: password }),
          );
        } catch (err) {
          throw new CaError("ca_bad_key", "the PKCS#12 private key cannot be decrypted", {
            cause: err,
          });
        }
      }
    }
  }
  const [key] = keys;
  if (key === undefined) throw bad("the PKCS#12 file holds no private key");
  if (keys.length > 1) throw bad(`the PKCS#12 file holds ${keys.length} private keys; give one`);
  return { key, certificates };
}
