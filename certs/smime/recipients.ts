/**
 * RecipientInfo for one certificate (RFC 5652 §6.2): RSA key transport (PKCS#1 v1.5 or OAEP)
 * and ECDH key agreement (RFC 5753). The key wrapping runs on node:crypto, because WebCrypto,
 * pkijs's engine, has no RSAES-PKCS1-v1_5 and cannot do the X9.63 KDF: an engine gap here
 * would otherwise leave a recipient entry that nobody can open.
 */
import {
  constants,
  createCipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  publicEncrypt,
  type KeyObject,
} from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { toArrayBuffer } from "../x509.js";
import { SmimeError } from "./errors.js";

export type RsaPadding = "pkcs1v15" | "oaep";

export const OID = {
  rsaEncryption: "1.2.840.113549.1.1.1",
  rsaesOaep: "1.2.840.113549.1.1.7",
  mgf1: "1.2.840.113549.1.1.8",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  ecPublicKey: "1.2.840.10045.2.1",
  // RFC 5753 §7.1.4 / SEC 1: ECDH with the X9.63 KDF over SHA-256 or SHA-384
  dhSinglePassStdDhSha256: "1.3.132.1.11.1",
  dhSinglePassStdDhSha384: "1.3.132.1.11.2",
  aes256Wrap: "2.16.840.1.101.3.4.1.45",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
  aes256Gcm: "2.16.840.1.101.3.4.1.46",
  data: "1.2.840.113549.1.7.1",
  envelopedData: "1.2.840.113549.1.7.3",
  authEnvelopedData: "1.2.840.113549.1.9.16.1.23",
} as const;

/** Wraps a content-encryption key for one recipient; replaceable (an HSM, or a test). */
export type KeyWrapper = (cek: Buffer, recipient: RecipientKey) => Buffer;

export interface RecipientKey {
  certificate: pkijs.Certificate;
  publicKey: KeyObject;
  /** For RSA recipients. */
  padding: RsaPadding;
}

/** The default wrapper: node:crypto RSA encryption with the requested padding. */
export function rsaWrap(cek: Buffer, r: RecipientKey): Buffer {
  if (r.padding === "oaep") {
    return publicEncrypt(
      { key: r.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      cek,
    );
  }
  return publicEncrypt({ key: r.publicKey, padding: constants.RSA_PKCS1_PADDING }, cek);
}

function issuerAndSerial(cert: pkijs.Certificate): pkijs.IssuerAndSerialNumber {
  return new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber });
}

/** SHA-256 identified as RFC 4055 asks implementations to accept (NULL parameters). */
function sha256Id(): pkijs.AlgorithmIdentifier {
  return new pkijs.AlgorithmIdentifier({
    algorithmId: OID.sha256,
    algorithmParams: new asn1js.Null(),
  });
}

function keyTransport(cek: Buffer, r: RecipientKey, wrap: KeyWrapper): pkijs.RecipientInfo {
  const algorithm =
    r.padding === "oaep"
      ? new pkijs.AlgorithmIdentifier({
          algorithmId: OID.rsaesOaep,
          algorithmParams: new pkijs.RSAESOAEPParams({
            hashAlgorithm: sha256Id(),
            maskGenAlgorithm: new pkijs.AlgorithmIdentifier({
              algorithmId: OID.mgf1,
              algorithmParams: sha256Id().toSchema(),
            }),
          }).toSchema(),
        })
      : new pkijs.AlgorithmIdentifier({
          algorithmId: OID.rsaEncryption,
          algorithmParams: new asn1js.Null(),
        });
  // RSA output is exactly as long as the modulus; anything else (nothing, or the key itself
  // handed back by an engine that could not encrypt) must never leave.
  const wrapped = wrap(cek, r);
  const modulusBytes = Math.ceil((r.publicKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  if (wrapped.length !== modulusBytes || wrapped.equals(cek)) {
    throw new SmimeError(
      "smime_empty_recipient_key",
      "S/MIME output refused: a key transport entry holds no wrapped key",
    );
  }
  const ktri = new pkijs.KeyTransRecipientInfo({
    version: 0,
    rid: issuerAndSerial(r.certificate),
    keyEncryptionAlgorithm: algorithm,
    encryptedKey: new asn1js.OctetString({ valueHex: toArrayBuffer(wrapped) }),
  });
  return new pkijs.RecipientInfo({ variant: 1, value: ktri });
}

/** ANSI X9.63 KDF (SEC 1 §3.6.1) as RFC 5753 §3.1.2 uses it, for one AES-256 key. */
function x963Kdf(z: Buffer, sharedInfo: Buffer, hash: "sha256" | "sha384"): Buffer {
  const counter = Buffer.from([0, 0, 0, 1]);
  return createHash(hash).update(z).update(counter).update(sharedInfo).digest().subarray(0, 32);
}

function keyAgreement(cek: Buffer, r: RecipientKey): pkijs.RecipientInfo {
  const curve = r.publicKey.asymmetricKeyDetails?.namedCurve;
  const hash = curve === "prime256v1" ? "sha256" : curve === "secp384r1" ? "sha384" : null;
  if (hash === null) {
    throw new SmimeError(
      "smime_unsupported_key",
      "only P-256 and P-384 ECDH recipients are supported",
    );
  }
  const eph = generateKeyPairSync("ec", { namedCurve: curve as string });
  const z = diffieHellman({ privateKey: eph.privateKey, publicKey: r.publicKey });
  const wrapAlg = new pkijs.AlgorithmIdentifier({ algorithmId: OID.aes256Wrap });
  // ECC-CMS-SharedInfo, RFC 5753 §7.2: suppPubInfo is the KEK length in bits, 32-bit big endian.
  const sharedInfo = new pkijs.ECCCMSSharedInfo({
    keyInfo: wrapAlg,
    suppPubInfo: new asn1js.OctetString({ valueHex: new Uint8Array([0, 0, 1, 0]).buffer }),
  });
  const kek = x963Kdf(z, Buffer.from(sharedInfo.toSchema().toBER(false)), hash);
  // RFC 3394 key wrap with the default initial value.
  const wrapper = createCipheriv("id-aes256-wrap", kek, Buffer.from("A6A6A6A6A6A6A6A6", "hex"));
  const wrapped = Buffer.concat([wrapper.update(cek), wrapper.final()]);

  const ephSpki = eph.publicKey.export({ format: "der", type: "spki" });
  const ephInfo = pkijs.PublicKeyInfo.fromBER(toArrayBuffer(ephSpki));
  const kari = new pkijs.KeyAgreeRecipientInfo({
    version: 3,
    originator: new pkijs.OriginatorIdentifierOrKey({
      variant: 3,
      value: new pkijs.OriginatorPublicKey({
        // RFC 5753 §3.1.1, as OpenSSL writes it: id-ecPublicKey with the parameters absent;
        // the curve is the recipient's.
        algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.ecPublicKey }),
        publicKey: ephInfo.subjectPublicKey,
      }),
    }),
    keyEncryptionAlgorithm: new pkijs.AlgorithmIdentifier({
      algorithmId: hash === "sha256" ? OID.dhSinglePassStdDhSha256 : OID.dhSinglePassStdDhSha384,
      algorithmParams: wrapAlg.toSchema(),
    }),
    recipientEncryptedKeys: new pkijs.RecipientEncryptedKeys({
      encryptedKeys: [
        new pkijs.RecipientEncryptedKey({
          rid: new pkijs.KeyAgreeRecipientIdentifier({
            variant: 1,
            value: issuerAndSerial(r.certificate),
          }),
          encryptedKey: new asn1js.OctetString({ valueHex: toArrayBuffer(wrapped) }),
        }),
      ],
    }),
  });
  return new pkijs.RecipientInfo({ variant: 2, value: kari });
}

/**
 * Parsed recipient certificates by DER (base64), because pkijs's parse costs milliseconds and
 * the same recipients recur; bounded, oldest dropped first.
 */
const parsed = new Map<string, { certificate: pkijs.Certificate; publicKey: KeyObject }>();
const PARSED_MAX = 512;

/** A recipient's certificate DER as what the RecipientInfo builder needs. */
export function recipientKey(certDer: Buffer, padding: RsaPadding): RecipientKey {
  const key = certDer.toString("base64");
  const hit = parsed.get(key);
  if (hit) return { ...hit, padding };
  let certificate: pkijs.Certificate;
  let publicKey: KeyObject;
  try {
    certificate = pkijs.Certificate.fromBER(toArrayBuffer(certDer));
    const spki = Buffer.from(certificate.subjectPublicKeyInfo.toSchema().toBER(false));
    publicKey = createPublicKey({ key: spki, format: "der", type: "spki" });
  } catch (err) {
    throw new SmimeError("smime_bad_certificate", "a recipient certificate cannot be parsed", {
      cause: err,
    });
  }
  if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value as string);
  parsed.set(key, { certificate, publicKey });
  return { certificate, publicKey, padding };
}

/** The RecipientInfo for one recipient. */
export function recipientInfo(cek: Buffer, r: RecipientKey, wrap: KeyWrapper): pkijs.RecipientInfo {
  switch (r.publicKey.asymmetricKeyType) {
    case "rsa":
      return keyTransport(cek, r, wrap);
    case "ec":
      return keyAgreement(cek, r);
    default:
      throw new SmimeError(
        "smime_unsupported_key",
        `cannot encrypt to a ${String(r.publicKey.asymmetricKeyType)} key`,
      );
  }
}
