/**
 * CMS EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083, AES-GCM per RFC 5084) around
 * one MIME entity, written as definite-length DER, then checked: every recipient entry must hold
 * a wrapped key, or nothing leaves (fail closed).
 */
import { createCipheriv, randomBytes } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { pemBlocks, toArrayBuffer } from "../x509.js";
import { SmimeError } from "./errors.js";
import {
  OID, recipientInfo, recipientKey, rsaWrap, type KeyWrapper, type RsaPadding,
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
    algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.aes256Gcm, algorithmParams: params }),
    ciphertext,
    tag: c.getAuthTag(),
  };
}

/** EncryptedContentInfo with a primitive [0] (pkijs would split it into BER chunks). */
function encryptedContentInfo(algorithm: pkijs.AlgorithmIdentifier, ciphertext: Buffer) {
  return new asn1js.Sequence({
    value: [
      new asn1js.ObjectIdentifier({ value: OID.data }),
      algorithm.toSchema(),
      new asn1js.Primitive({
        idBlock: { tagClass: 3, tagNumber: 0 },
        valueHex: toArrayBuffer(ciphertext),
      }),
    ],
  });
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
  const infos = o.recipients.map((pem) => {
    const first = pemBlocks(pem)[0];
    if (!first) throw new SmimeError("smime_bad_certificate", "a recipient entry holds no PEM certificate");
    return recipientInfo(cek, recipientKey(first, padding), wrap);
  });
  const recipientSet = new asn1js.Set({ value: infos.map((i) => i.toSchema()) });
  const { algorithm, ciphertext, tag } = encryptContent(entity, mode, cek);
  cek.fill(0);

  let contentType: string;
  let body: asn1js.Sequence;
  if (tag) {
    contentType = OID.authEnvelopedData;
    // AuthEnvelopedData, RFC 5083 §2.1: version 0, no authAttrs for id-data content.
    body = new asn1js.Sequence({
      value: [
        new asn1js.Integer({ value: 0 }),
        recipientSet,
        encryptedContentInfo(algorithm, ciphertext),
        new asn1js.OctetString({ valueHex: toArrayBuffer(tag) }),
      ],
    });
  } else {
    contentType = OID.envelopedData;
    // RFC 5652 §6.1: version 0 when every RecipientInfo is version 0 (key transport), else 2.
    const allV0 = infos.every((i) => i.variant === 1);
    body = new asn1js.Sequence({
      value: [
        new asn1js.Integer({ value: allV0 ? 0 : 2 }),
        recipientSet,
        encryptedContentInfo(algorithm, ciphertext),
      ],
    });
  }
  const contentInfo = new asn1js.Sequence({
    value: [
      new asn1js.ObjectIdentifier({ value: contentType }),
      new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [body] }),
    ],
  });
  const der = Buffer.from(contentInfo.toBER(false));
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
  let infos: asn1js.AsnType[];
  try {
    const parsed = asn1js.fromBER(toArrayBuffer(der));
    if (parsed.offset === -1 || parsed.offset !== der.length) throw new Error("not one DER value");
    const ci = parsed.result as asn1js.Sequence;
    const wrapper = ci.valueBlock.value[1] as asn1js.Constructed;
    const body = wrapper.valueBlock.value[0] as asn1js.Sequence;
    infos = (body.valueBlock.value[1] as asn1js.Set).valueBlock.value;
  } catch (err) {
    throw fail("the CMS structure cannot be read back", err);
  }
  if (infos.length !== expected) throw fail(`${infos.length} recipient entries for ${expected}`);
  infos.forEach((info, n) => {
    let keys: Uint8Array[];
    try {
      const ri = new pkijs.RecipientInfo({ schema: info });
      if (ri.variant === 1) {
        keys = [(ri.value as pkijs.KeyTransRecipientInfo).encryptedKey.valueBlock.valueHexView];
      } else if (ri.variant === 2) {
        const kari = ri.value as pkijs.KeyAgreeRecipientInfo;
        keys = kari.recipientEncryptedKeys.encryptedKeys.map(
          (k) => k.encryptedKey.valueBlock.valueHexView,
        );
      } else {
        throw new Error(`unexpected recipient info variant ${ri.variant}`);
      }
    } catch (err) {
      throw fail(`recipient entry ${n + 1} cannot be read back`, err);
    }
    if (keys.length === 0 || keys.some((k) => k.byteLength === 0 || k.every((b) => b === 0))) {
      throw fail(`recipient entry ${n + 1} holds no wrapped key`);
    }
  });
}
