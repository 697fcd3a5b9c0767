/**
 * Certificate helpers shared by certs/smime and certs/ca: PEM in and out, parsing into pkijs
 * objects, and the pkijs crypto engine (Node's WebCrypto), set once.
 */
import { X509Certificate, createHash, webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

let engineSet = false;

/** Makes Node's WebCrypto pkijs's engine; idempotent. */
export function usePkijsEngine(): pkijs.ICryptoEngine {
  if (!engineSet) {
    pkijs.setEngine(
      "node-webcrypto",
      new pkijs.CryptoEngine({
        name: "node-webcrypto",
        crypto: webcrypto as unknown as pkijs.CryptoEngineParameters["crypto"],
      }),
    );
    engineSet = true;
  }
  return pkijs.getCrypto(true);
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block of a label in the text, as DER; an empty list when there are none. */
export function pemBlocks(text: string, label = "CERTIFICATE"): Buffer[] {
  const out: Buffer[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    if (m[1] === label) out.push(Buffer.from((m[2] ?? "").replace(/\s+/g, ""), "base64"));
  }
  return out;
}

/** DER as PEM with 64-character lines (RFC 7468). */
export function toPem(der: Uint8Array, label = "CERTIFICATE"): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** A pkijs Certificate from DER; throws on anything that is not one. */
export function parseCertificate(der: Uint8Array): pkijs.Certificate {
  return pkijs.Certificate.fromBER(toArrayBuffer(der));
}

/** Certificates of a PEM bundle (or one DER certificate), leaf first as given. */
export function readCertificates(input: string | Uint8Array): Buffer[] {
  if (typeof input !== "string") return [Buffer.from(input)];
  return pemBlocks(input);
}

/** Node's view of a certificate, for e-mail SAN and key usage checks. */
export function nodeCertificate(der: Uint8Array): X509Certificate {
  return new X509Certificate(Buffer.from(der));
}

/** SHA-256 of the DER, lower-case hex: the id certs/ stores a certificate under. */
export function fingerprint(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}

export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** The DER of an asn1js value; asn1js writes definite lengths unless told otherwise. */
export function der(value: asn1js.BaseBlock): Buffer {
  return Buffer.from(value.toBER(false));
}
