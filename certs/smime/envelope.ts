/**
 * CMS EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083, AES-GCM per RFC 5084) around
 * one MIME entity, written as definite-length DER, then checked: every recipient entry must hold
 * a wrapped key, or nothing leaves (fail closed).
 */
import { createCipheriv, randomBytes } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { pemBlocks, toArrayBuffer } from "../x509.js";
import { readHeader, tlv, type DerHeader } from "./der.js";
import { SmimeError } from "./errors.js";
import {
  OID,
  recipientInfo,
  recipientKey,
  rsaWrap,
  type KeyWrapper,
  type RsaPadding,
} from "./recipients.js";

export type ContentEncryption = "aes-256-cbc" | "aes-256-gcm";

export interface EnvelopeOptions {
  /** PEM certificates (the first of each PEM bundle is the recipient). */
  recipients: string[];
  /** Default aes-256-cbc, what every S/MIME client opens; gcm gives AuthEnvelopedData. */
  contentEncryption?: ContentEncryption | undefined;
  /** RSA key transport padding. Default pkcs1v15 (Outlook, Apple Mail and older clients). */
  rsaPadding?: RsaPadding | undefined;
  /** RSA key wrapping; default node:crypto. For tests and hardware keys. */
  keyWrapper?: KeyWrapper | undefined;
}

/** GCM tag length in bytes; RFC 5084 allows 12 to 16, 16 is what clients write. */
const GCM_TAG = 16;

function encryptContent(
  content: Buffer,
  mode: ContentEncryption,
  cek: Buffer,
): { algorithm: pkijs.AlgorithmIdentifier; ciphertext: Buffer; tag?: Buffer } {
  if (mode === "aes-256-cbc") {
    const iv = randomBytes(16);
    const c = createCipheriv("aes-256-cbc", cek, iv);
    return {
      algorithm: new pkijs.AlgorithmIdentifier({
        algorithmId: OID.aes256Cbc,
        algorithmParams: new asn1js.OctetString({ valueHex: toArrayBuffer(iv) }),
      }),
      ciphertext: Buffer.concat([c.update(content), c.final()]),
    };
  }
  const nonce = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", cek, nonce, { authTagLength: GCM_TAG });
  const ciphertext = Buffer.concat([c.update(content), c.final()]);
  // GCMParameters ::= SEQUENCE { aes-nonce OCTET STRING, aes-ICVlen INTEGER DEFAULT 12 }
  const params = new asn1js.Sequence({
    value: [
      new asn1js.OctetString({ valueHex: toArrayBuffer(nonce) }),
      new asn1js.Integer({ value: GCM_TAG }),
    ],
  });
  return {
    algorithm: new pkijs.AlgorithmIdentifier({
      algorithmId: OID.aes256Gcm,
      algorithmParams: params,
    }),
    ciphertext,
    tag: c.getAuthTag(),
  };
}

const derOf = (v: asn1js.BaseBlock) => Buffer.from(v.toBER(false));

/**
 * EncryptedContentInfo with the ciphertext as one primitive [0] IMPLICIT OCTET STRING (pkijs
 * would split it into constructed BER chunks, which is not DER).
 */
function encryptedContentInfo(algorithm: pkijs.AlgorithmIdentifier, ciphertext: Buffer): Buffer {
  return tlv(0x30, [
    derOf(new asn1js.ObjectIdentifier({ value: OID.data })),
    derOf(algorithm.toSchema()),
    tlv(0x80, [ciphertext]),
  ]);
}

/** Encrypts the entity to every recipient; returns the ContentInfo DER. */
export function envelope(entity: Buffer, o: EnvelopeOptions): Buffer {
  if (o.recipients.length === 0) {
    throw new SmimeError("smime_no_recipients", "S/MIME encryption needs at least one recipient");
  }
  const padding = o.rsaPadding ?? "pkcs1v15";
  const mode = o.contentEncryption ?? "aes-256-cbc";
  const wrap = o.keyWrapper ?? rsaWrap;
  const cek = randomBytes(32);
  let infos: pkijs.RecipientInfo[];
  let content: ReturnType<typeof encryptContent>;
  try {
    infos = o.recipients.map((pem) => {
      const first = pemBlocks(pem)[0];
      if (!first) {
        throw new SmimeError("smime_bad_certificate", "a recipient entry holds no PEM certificate");
      }
      return recipientInfo(cek, recipientKey(first, padding), wrap);
    });
    content = encryptContent(entity, mode, cek);
  } finally {
    cek.fill(0);
  }
  const { algorithm, ciphertext, tag } = content;
  // DER SET OF: elements in ascending order of their encodings (X.690 §11.6).
  const encoded = infos.map((i) => derOf(i.toSchema())).sort(Buffer.compare);
  const recipientSet = tlv(0x31, encoded);

  let contentType: string;
  let body: Buffer;
  if (tag) {
    contentType = OID.authEnvelopedData;
    // AuthEnvelopedData, RFC 5083 §2.1: version 0, no authAttrs for id-data content.
    body = tlv(0x30, [
      derOf(new asn1js.Integer({ value: 0 })),
      recipientSet,
      encryptedContentInfo(algorithm, ciphertext),
      tlv(0x04, [tag]),
    ]);
  } else {
    contentType = OID.envelopedData;
    // RFC 5652 §6.1: version 0 when every RecipientInfo is version 0 (key transport), else 2.
    const allV0 = infos.every((i) => i.variant === 1);
    body = tlv(0x30, [
      derOf(new asn1js.Integer({ value: allV0 ? 0 : 2 })),
      recipientSet,
      encryptedContentInfo(algorithm, ciphertext),
    ]);
  }
  const der = tlv(0x30, [
    derOf(new asn1js.ObjectIdentifier({ value: contentType })),
    tlv(0xa0, [body]),
  ]);
  assertRecipientKeys(der, o.recipients.length);
  return der;
}

/**
 * Parses the finished ContentInfo and checks that it holds as many RecipientInfos as there are
 * recipients, each with a non-empty wrapped key. Throws smime_empty_recipient_key otherwise.
 */
export function assertRecipientKeys(der: Buffer, expected: number): void {
  const fail = (why: string, cause?: unknown) =>
    new SmimeError("smime_empty_recipient_key", `S/MIME output refused: ${why}`, { cause });
  let keys: Buffer[][];
  try {
    // ContentInfo SEQUENCE > contentType OID, [0] > (Auth)EnvelopedData SEQUENCE > version,
    // recipientInfos SET: walked by headers so the content is neither parsed nor copied.
    const ci = readHeader(der, 0);
    if (ci.tag !== 0x30 || ci.end !== der.length) throw new Error("not one DER SEQUENCE");
    const oid = readHeader(der, ci.start);
    const wrapper = readHeader(der, oid.end);
    const body = readHeader(der, wrapper.start);
    const version = readHeader(der, body.start);
    const set = readHeader(der, version.end);
    if (wrapper.tag !== 0xa0 || body.tag !== 0x30 || set.tag !== 0x31) throw new Error("not CMS");
    keys = children(der, set).map((info) => wrappedKeys(der, info));
  } catch (err) {
    throw fail("the recipient entries cannot be read back", err);
  }
  if (keys.length !== expected) throw fail(`${keys.length} recipient entries for ${expected}`);
  keys.forEach((k, n) => {
    if (k.length === 0 || k.some((key) => key.length === 0 || key.every((b) => b === 0))) {
      throw fail(`recipient entry ${n + 1} holds no wrapped key`);
    }
  });
}

function children(der: Buffer, parent: DerHeader): DerHeader[] {
  const out: DerHeader[] = [];
  for (let at = parent.start; at < parent.end;) {
    const h = readHeader(der, at);
    out.push(h);
    at = h.end;
  }
  return out;
}

/** The encryptedKey OCTET STRINGs of one RecipientInfo (RFC 5652 §6.2.1, §6.2.2). */
function wrappedKeys(der: Buffer, info: DerHeader): Buffer[] {
  const fields = children(der, info);
  if (info.tag === 0x30) {
    // KeyTransRecipientInfo: version, rid, keyEncryptionAlgorithm, encryptedKey
    const key = fields[3];
    if (fields.length !== 4 || key?.tag !== 0x04) throw new Error("malformed key transport entry");
    return [der.subarray(key.start, key.end)];
  }
  if (info.tag === 0xa1) {
    // KeyAgreeRecipientInfo: ..., recipientEncryptedKeys SEQUENCE OF { rid, encryptedKey }
    const list = fields[fields.length - 1];
    if (list?.tag !== 0x30) throw new Error("malformed key agreement entry");
    return children(der, list).map((rek) => {
      const key = children(der, rek)[1];
      if (key?.tag !== 0x04) throw new Error("malformed recipient encrypted key");
      return der.subarray(key.start, key.end);
    });
  }
  throw new Error(`unexpected recipient entry tag ${info.tag}`);
}
