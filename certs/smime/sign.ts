/**
 * S/MIME signing (RFC 8551 §3.5): multipart/signed with a detached CMS SignedData (RFC 5652
 * §5), so a client without S/MIME still shows the content. The signed bytes are the entity's
 * bytes exactly; signed attributes are DER-sorted because a verifier re-encodes them.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { pemBlocks, toArrayBuffer } from "../x509.js";
import { SmimeError } from "./errors.js";
import { base64Lines, canonicalCrlf } from "./mime.js";
import { OID } from "./recipients.js";

export interface SignOptions {
  /** The signer's certificate (PEM; a bundle's first certificate). */
  certPem: string;
  /** The signer's private key, PKCS#8 or traditional PEM, encrypted or not. */
  keyPem: string;
  /** Passphrase when keyPem is encrypted. Default none. */
  keyPassphrase?: string | undefined;
  /** Intermediate certificates to include so the recipient can build the chain. Default none. */
  chainPem?: string[] | undefined;
}

const ATTR = {
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
} as const;

const SIG_ALG = {
  rsa: "1.2.840.113549.1.1.11", // sha256WithRSAEncryption
  ec: "1.2.840.10045.4.3.2", // ecdsa-with-SHA256
} as const;

function attribute(type: string, value: asn1js.AsnType): Buffer {
  const seq = new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: type }), new asn1js.Set({ value: [value] })],
  });
  return Buffer.from(seq.toBER(false));
}

/** DER SET OF: elements in ascending order of their encodings (X.690 §11.6). */
function derSetOf(elements: Buffer[], tag: number): Buffer {
  const body = Buffer.concat([...elements].sort(Buffer.compare));
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function asn(bytes: Buffer): asn1js.AsnType {
  return asn1js.fromBER(toArrayBuffer(bytes)).result;
}

/** The detached SignedData over the content bytes, as ContentInfo DER. */
export function signedData(content: Buffer, o: SignOptions, now = new Date()): Buffer {
  const certDer = pemBlocks(o.certPem)[0];
  if (!certDer)
    throw new SmimeError("smime_bad_certificate", "the signer PEM holds no certificate");
  let cert: pkijs.Certificate;
  try {
    cert = pkijs.Certificate.fromBER(toArrayBuffer(certDer));
  } catch (err) {
    throw new SmimeError("smime_bad_certificate", "the signer certificate cannot be parsed", {
      cause: err,
    });
  }
  let key;
  try {
    key = createPrivateKey({ key: o.keyPem, format: "pem", passphrase: o.keyPassphrase ?? "" });
  } catch (err) {
    throw new SmimeError("smime_bad_key", "the signing key cannot be read", { cause: err });
  }
  const spki = createPublicKey(key).export({ format: "der", type: "spki" });
  const certSpki = Buffer.from(cert.subjectPublicKeyInfo.toSchema().toBER(false));
  if (!spki.equals(certSpki)) {
    throw new SmimeError("smime_bad_key", "the signing key does not belong to the certificate");
  }
  const kind = key.asymmetricKeyType;
  if (kind !== "rsa" && kind !== "ec") {
    throw new SmimeError("smime_unsupported_key", `cannot sign with a ${String(kind)} key`);
  }

  const digest = createHash("sha256").update(content).digest();
  const attrs = [
    attribute(ATTR.contentType, new asn1js.ObjectIdentifier({ value: OID.data })),
    attribute(ATTR.signingTime, new asn1js.UTCTime({ valueDate: now })),
    attribute(ATTR.messageDigest, new asn1js.OctetString({ valueHex: toArrayBuffer(digest) })),
  ];
  // RFC 5652 §5.4: the signature covers the attributes encoded as an explicit SET OF (0x31).
  const signedAttrs = derSetOf(attrs, 0x31);
  const signature = sign("sha256", signedAttrs, key);
  const implicitAttrs = Buffer.concat([Buffer.from([0xa0]), signedAttrs.subarray(1)]);

  const sha256 = new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: OID.sha256 })],
  });
  const sigAlg = new asn1js.Sequence({
    value:
      kind === "rsa"
        ? [new asn1js.ObjectIdentifier({ value: SIG_ALG.rsa }), new asn1js.Null()]
        : [new asn1js.ObjectIdentifier({ value: SIG_ALG.ec })],
  });
  const sid = new pkijs.IssuerAndSerialNumber({
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
  });
  const signerInfo = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      sid.toSchema(),
      sha256,
      asn(implicitAttrs),
      sigAlg,
      new asn1js.OctetString({ valueHex: toArrayBuffer(signature) }),
    ],
  });
  const chain = [certDer, ...(o.chainPem ?? []).flatMap((p) => pemBlocks(p))];
  const certificates = derSetOf(chain, 0xa0);
  const sd = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      new asn1js.Set({ value: [asn(Buffer.from(sha256.toBER(false)))] }),
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID.data })] }),
      asn(certificates),
      new asn1js.Set({ value: [signerInfo] }),
    ],
  });
  const contentInfo = new asn1js.Sequence({
    value: [
      new asn1js.ObjectIdentifier({ value: "1.2.840.113549.1.7.2" }),
      new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [sd] }),
    ],
  });
  return Buffer.from(contentInfo.toBER(false));
}

/**
 * The entity signed as multipart/signed (RFC 8551 §3.5.3): first part the entity's exact
 * bytes, second part the detached signature. Returns a MIME entity (Content-Type header and
 * body), ready to be encrypted or sent.
 */
export function signEntity(entity: Buffer, o: SignOptions): Buffer {
  const content = canonicalCrlf(entity);
  const der = signedData(content, o);
  const boundary = `sealgate-signed-${randomBytes(12).toString("hex")}`;
  const head =
    'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n' +
    ` micalg=sha-256; boundary="${boundary}"\r\n\r\n` +
    "This is a cryptographically signed message in MIME format.\r\n\r\n" +
    `--${boundary}\r\n`;
  const tail =
    `\r\n--${boundary}\r\n` +
    'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n' +
    "Content-Transfer-Encoding: base64\r\n" +
    'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n';
  return Buffer.concat([
    Buffer.from(head, "latin1"),
    content,
    Buffer.from(tail, "latin1"),
    base64Lines(der),
    Buffer.from(`\r\n--${boundary}--\r\n`, "latin1"),
  ]);
}
