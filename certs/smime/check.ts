/**
 * Whether a recipient certificate may be encrypted to for an address (RFC 8550 §4): its e-mail
 * SAN names the address, it is inside its validity period, its key usage allows the key
 * management the key type needs, its extended key usage allows e-mail, and its chain verifies
 * to a configured trust anchor. Every refusal carries a reason fit for an event (no address).
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import * as pkijs from "pkijs";
import { parseCertificate, pemBlocks, usePkijsEngine } from "../x509.js";

export type CertificateCheck =
  { ok: true; notAfter: Date; keyAlgorithm: "rsa" | "ec" } | { ok: false; reason: string };

export interface CheckOptions {
  /** PEM certificates of the trust store (roots, or intermediates trusted as anchors). */
  trustAnchors: string[];
  /** Default: the current time. */
  now?: Date | undefined;
}

const EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4";
const ANY_EKU = "2.5.29.37.0";
/** RFC 8551 §4: receiving agents must handle 2048-bit RSA; shorter keys are broken or close. */
const MIN_RSA_BITS = 2048;
const day = (d: Date) => d.toISOString().slice(0, 10);

/** The certificate's e-mail SAN entries, lower-cased. */
export function emailAddresses(cert: x509.X509Certificate): string[] {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items.filter((n) => n.type === "email").map((n) => n.value.toLowerCase());
}

function keyAlgorithm(cert: x509.X509Certificate): "rsa" | "ec" | null {
  const name = cert.publicKey.algorithm.name;
  if (name === "RSASSA-PKCS1-v1_5" || name === "RSA-PSS" || name === "RSA-OAEP") return "rsa";
  if (name === "ECDSA" || name === "ECDH") {
    const curve = (cert.publicKey.algorithm as { namedCurve?: string }).namedCurve;
    return curve === "P-256" || curve === "P-384" ? "ec" : null;
  }
  return null;
}

/** Checks one recipient certificate (PEM: the leaf, then any intermediates) for an address. */
export async function checkRecipientCertificate(
  pem: string,
  address: string,
  o: CheckOptions,
): Promise<CertificateCheck> {
  const now = o.now ?? new Date();
  const blocks = pemBlocks(pem);
  const leafDer = blocks[0];
  if (!leafDer) return { ok: false, reason: "no PEM certificate" };
  let leaf: x509.X509Certificate;
  try {
    leaf = new x509.X509Certificate(leafDer);
  } catch {
    return { ok: false, reason: "certificate cannot be parsed" };
  }

  if (!emailAddresses(leaf).includes(address.trim().toLowerCase())) {
    return { ok: false, reason: "certificate is for another address (no matching e-mail SAN)" };
  }
  if (now < leaf.notBefore)
    return { ok: false, reason: `certificate not valid before ${day(leaf.notBefore)}` };
  if (now > leaf.notAfter)
    return { ok: false, reason: `certificate expired ${day(leaf.notAfter)}` };

  let alg: "rsa" | "ec" | null;
  try {
    alg = keyAlgorithm(leaf);
  } catch {
    alg = null;
  }
  if (alg === null)
    return { ok: false, reason: "certificate key is neither RSA nor EC P-256/P-384" };

  const bits = (leaf.publicKey.algorithm as { modulusLength?: number }).modulusLength ?? 0;
  if (alg === "rsa" && bits < MIN_RSA_BITS) {
    return { ok: false, reason: `certificate RSA key too short (${bits} bits)` };
  }

  // RFC 5280 §4.2.1.3: no keyUsage extension means no restriction.
  const ku = leaf.getExtension(x509.KeyUsagesExtension);
  if (ku) {
    const needed =
      alg === "rsa" ? x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.keyAgreement;
    if ((ku.usages & needed) === 0) {
      const name = alg === "rsa" ? "keyEncipherment" : "keyAgreement";
      return {
        ok: false,
        reason: `certificate key usage does not allow encryption (${name} missing)`,
      };
    }
  }
  const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension);
  if (eku) {
    const usages = eku.usages.map(String);
    if (!usages.includes(EMAIL_PROTECTION) && !usages.includes(ANY_EKU)) {
      return {
        ok: false,
        reason: "certificate extended key usage does not allow e-mail protection",
      };
    }
  }

  const chain = await verifyChain(blocks, o.trustAnchors, now);
  if (!chain.ok) return chain;
  return { ok: true, notAfter: leaf.notAfter, keyAlgorithm: alg };
}

async function verifyChain(
  blocks: Buffer[],
  anchors: string[],
  now: Date,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  usePkijsEngine();
  let trusted: pkijs.Certificate[];
  let certs: pkijs.Certificate[];
  try {
    trusted = anchors.flatMap((p) => pemBlocks(p)).map(parseCertificate);
    certs = blocks.map(parseCertificate);
  } catch {
    return { ok: false, reason: "certificate chain cannot be parsed" };
  }
  if (trusted.length === 0)
    return { ok: false, reason: "chain untrusted: no trust anchors configured" };
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: trusted,
    certs,
    checkDate: now,
  });
  try {
    const result = await engine.verify();
    if (result.result) return { ok: true };
    return { ok: false, reason: `chain untrusted: ${result.resultMessage}` };
  } catch (err) {
    const message = (err as { resultMessage?: string }).resultMessage ?? "chain cannot be verified";
    return { ok: false, reason: `chain untrusted: ${message}` };
  }
}
