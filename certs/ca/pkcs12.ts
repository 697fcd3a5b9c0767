/**
 * PKCS#12 (RFC 7292) for handing a staff member their key and certificate: the layout OpenSSL 3
 * writes by default (certificates in a PBES2-encrypted bag, the key as a PKCS#8 shrouded bag,
 * an HMAC-SHA-256 integrity MAC), which Outlook, Apple Mail, Thunderbird and gpgsm import.
 */
import {
  createCipheriv,
  createHash,
  createHmac,
  pbkdf2Sync,
  randomBytes,
  type KeyObject,
} from "node:crypto";
import * as asn1js from "asn1js";
import { pemBlocks, toArrayBuffer } from "../x509.js";
import { CaError } from "./errors.js";
import { MIN_PASSPHRASE } from "./keys.js";

const OID = {
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  certBag: "1.2.840.113549.1.12.10.1.3",
  shroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  localKeyId: "1.2.840.113549.1.9.21",
  friendlyName: "1.2.840.113549.1.9.20",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacSha256: "1.2.840.113549.2.9",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha1: "1.3.14.3.2.26",
  pbeSha1TripleDes: "1.2.840.113549.1.12.1.3",
} as const;

/** PBKDF2 and MAC iterations; OpenSSL 3's default. */
const ITERATIONS = 2048;

const oid = (value: string) => new asn1js.ObjectIdentifier({ value });
const octets = (b: Buffer) => new asn1js.OctetString({ valueHex: toArrayBuffer(b) });
const explicit0 = (v: asn1js.AsnType) =>
  new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [v] });
const derOf = (v: asn1js.AsnType) => Buffer.from(v.toBER(false));

/** PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC; the password as UTF-8, as OpenSSL does. */
function pbes2Encrypt(
  plain: Buffer,
  password: string,
): { algorithm: asn1js.Sequence; data: Buffer } {
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const key = pbkdf2Sync(Buffer.from(password, "utf8"), salt, ITERATIONS, 32, "sha256");
  const c = createCipheriv("aes-256-cbc", key, iv);
  const data = Buffer.concat([c.update(plain), c.final()]);
  const algorithm = new asn1js.Sequence({
    value: [
      oid(OID.pbes2),
      new asn1js.Sequence({
        value: [
          new asn1js.Sequence({
            value: [
              oid(OID.pbkdf2),
              new asn1js.Sequence({
                value: [
                  octets(salt),
                  new asn1js.Integer({ value: ITERATIONS }),
                  new asn1js.Sequence({ value: [oid(OID.hmacSha256), new asn1js.Null()] }),
                ],
              }),
            ],
          }),
          new asn1js.Sequence({ value: [oid(OID.aes256Cbc), octets(iv)] }),
        ],
      }),
    ],
  });
  return { algorithm, data };
}

/**
 * RFC 7292 Appendix B.2 key derivation: id 1 (cipher key), 2 (IV) or 3 (MAC key), with the
 * password as a NUL-terminated big-endian BMPString.
 */
export function p12Kdf(
  o: { hash: "sha1" | "sha256"; password: string; salt: Buffer; id: 1 | 2 | 3; iterations: number },
  length: number,
): Buffer {
  const v = 64;
  const bmp = Buffer.alloc((o.password.length + 1) * 2);
  for (let i = 0; i < o.password.length; i++) bmp.writeUInt16BE(o.password.charCodeAt(i), i * 2);
  const fill = (src: Buffer, size: number) => {
    const out = Buffer.alloc(size);
    for (let i = 0; i < size; i++) out[i] = src[i % src.length] as number;
    return out;
  };
  const d = Buffer.alloc(v, o.id);
  const input = Buffer.concat([
    fill(o.salt, v * Math.ceil(o.salt.length / v)),
    fill(bmp, v * Math.ceil(bmp.length / v)),
  ]);
  const blocks: Buffer[] = [];
  for (let got = 0; got < length;) {
    let a = createHash(o.hash).update(d).update(input).digest();
    for (let i = 1; i < o.iterations; i++) a = createHash(o.hash).update(a).digest();
    blocks.push(a);
    got += a.length;
    if (got >= length) break;
    // I_j = (I_j + B + 1) mod 2^(8v) for every v-byte block of I
    const b = fill(a, v);
    for (let j = 0; j < input.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (input[j + k] as number) + (b[k] as number) + carry;
        input[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292 Appendix C), for importers without PBES2. */
function legacyEncrypt(
  plain: Buffer,
  password: string,
): { algorithm: asn1js.Sequence; data: Buffer } {
  const salt = randomBytes(8);
  const base = { hash: "sha1" as const, password, salt, iterations: ITERATIONS };
  const key = p12Kdf({ ...base, id: 1 }, 24);
  const iv = p12Kdf({ ...base, id: 2 }, 8);
  const c = createCipheriv("des-ede3-cbc", key, iv);
  const data = Buffer.concat([c.update(plain), c.final()]);
  const algorithm = new asn1js.Sequence({
    value: [
      oid(OID.pbeSha1TripleDes),
      new asn1js.Sequence({ value: [octets(salt), new asn1js.Integer({ value: ITERATIONS })] }),
    ],
  });
  return { algorithm, data };
}

function bag(type: string, value: asn1js.AsnType, keyId: Buffer, name: string): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [
      oid(type),
      explicit0(value),
      new asn1js.Set({
        value: [
          new asn1js.Sequence({
            value: [
              oid(OID.friendlyName),
              new asn1js.Set({ value: [new asn1js.BmpString({ value: name })] }),
            ],
          }),
          new asn1js.Sequence({
            value: [oid(OID.localKeyId), new asn1js.Set({ value: [octets(keyId)] })],
          }),
        ],
      }),
    ],
  });
}

export interface Pkcs12Options {
  key: KeyObject;
  certPem: string;
  chainPem?: string | undefined;
  /** At least 12 characters. */
  password: string;
  /** Friendly name shown by the importing client. */
  name: string;
  /**
   * Default false: PBES2 (AES-256-CBC, PBKDF2-HMAC-SHA256) with an HMAC-SHA-256 MAC. true:
   * 3DES with a SHA-1 MAC, for importers that lack PBES2 (gpgsm 2.2, Windows before 10 1709).
   */
  legacy?: boolean | undefined;
}

/** A PKCS#12 file with the key, its certificate and the chain, protected by the password. */
export function toPkcs12(o: Pkcs12Options): Buffer {
  const encrypt = o.legacy === true ? legacyEncrypt : pbes2Encrypt;
  if (o.password.length < MIN_PASSPHRASE) {
    throw new CaError(
      "ca_weak_passphrase",
      `a PKCS#12 password needs at least ${MIN_PASSPHRASE} characters`,
    );
  }
  const leaf = pemBlocks(o.certPem)[0];
  if (!leaf) throw new CaError("ca_bad_certificate", "no certificate to put in the PKCS#12 file");
  const keyId = createHash("sha1").update(leaf).digest();
  const certBags = [leaf, ...pemBlocks(o.chainPem ?? "")].map((der, i) => {
    const certBag = new asn1js.Sequence({
      value: [oid(OID.x509Certificate), explicit0(octets(der))],
    });
    if (i === 0) return bag(OID.certBag, certBag, keyId, o.name);
    return new asn1js.Sequence({ value: [oid(OID.certBag), explicit0(certBag)] });
  });
  const certs = encrypt(derOf(new asn1js.Sequence({ value: certBags })), o.password);
  const certsInfo = new asn1js.Sequence({
    value: [
      oid(OID.encryptedData),
      explicit0(
        new asn1js.Sequence({
          value: [
            new asn1js.Integer({ value: 0 }),
            new asn1js.Sequence({
              value: [
                oid(OID.data),
                certs.algorithm,
                new asn1js.Primitive({
                  idBlock: { tagClass: 3, tagNumber: 0 },
                  valueHex: toArrayBuffer(certs.data),
                }),
              ],
            }),
          ],
        }),
      ),
    ],
  });

  const pkcs8 = o.key.export({ type: "pkcs8", format: "der" });
  const sealed = encrypt(pkcs8, o.password);
  pkcs8.fill(0);
  // EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm, encryptedData OCTET STRING }
  const shrouded = new asn1js.Sequence({ value: [sealed.algorithm, octets(sealed.data)] });
  const keyBag = bag(OID.shroudedKeyBag, shrouded, keyId, o.name);
  const keyInfo = new asn1js.Sequence({
    value: [oid(OID.data), explicit0(octets(derOf(new asn1js.Sequence({ value: [keyBag] }))))],
  });

  const authSafe = derOf(new asn1js.Sequence({ value: [certsInfo, keyInfo] }));
  const salt = randomBytes(o.legacy === true ? 8 : 16);
  const macHash = o.legacy === true ? "sha1" : "sha256";
  const macKey = p12Kdf(
    { hash: macHash, password: o.password, salt, id: 3, iterations: ITERATIONS },
    macHash === "sha1" ? 20 : 32,
  );
  const mac = createHmac(macHash, macKey).update(authSafe).digest();
  const pfx = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 3 }),
      new asn1js.Sequence({ value: [oid(OID.data), explicit0(octets(authSafe))] }),
      new asn1js.Sequence({
        value: [
          new asn1js.Sequence({
            value: [
              new asn1js.Sequence({
                value: [oid(macHash === "sha1" ? OID.sha1 : OID.sha256), new asn1js.Null()],
              }),
              octets(mac),
            ],
          }),
          octets(salt),
          new asn1js.Integer({ value: ITERATIONS }),
        ],
      }),
    ],
  });
  return derOf(pfx);
}
