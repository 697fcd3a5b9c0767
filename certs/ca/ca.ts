/**
 * The organisation's issuing CA: created by sealgate or imported, it issues S/MIME certificates
 * (RFC 8550 §4.4) for staff addresses. The CA key is kept encrypted with a passphrase from the
 * caller; it is decrypted only for the moment of signing.
 */
import "reflect-metadata";
import { createPublicKey, randomBytes, webcrypto, type KeyObject } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { pemBlocks, toPem } from "../x509.js";
import { CaError } from "./errors.js";
import {
  encryptPrivateKey,
  newKeyPair,
  readPrivateKey,
  signingAlgorithm,
  signingKey,
  type KeyAlgorithm,
} from "./keys.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A CA as stored: its certificate and its private key, encrypted (PKCS#8 PEM). */
export interface CaMaterial {
  certPem: string;
  encryptedKeyPem: string;
}

export interface CreateCaOptions {
  /** Subject common name. Default "sealgate issuing CA". */
  name?: string | undefined;
  /** Default ec-p256; rsa-3072 for clients that cannot verify ECDSA. */
  algorithm?: "ec-p256" | "rsa-3072" | undefined;
  /** Validity in days. Default 3650. */
  days?: number | undefined;
  /** Encrypts the CA key at rest (at least 12 characters). */
  passphrase: string;
}

const DAY = 86_400_000;
const EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4";

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER (RFC 5280 §4.1.2.2)
  return bytes.toString("hex");
}

function spki(key: KeyObject): ArrayBuffer {
  const der = key.export({ type: "spki", format: "der" });
  return der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
}

export async function createCa(o: CreateCaOptions): Promise<CaMaterial> {
  const { publicKey, privateKey } = await newKeyPair(o.algorithm ?? "ec-p256");
  const encryptedKeyPem = encryptPrivateKey(privateKey, o.passphrase);
  const now = new Date();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [o.name ?? "sealgate issuing CA"] }],
    issuer: [{ CN: [o.name ?? "sealgate issuing CA"] }],
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (o.days ?? 3650) * DAY),
    publicKey: spki(publicKey),
    signingKey: await signingKey(privateKey),
    signingAlgorithm: signingAlgorithm(privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign |
          x509.KeyUsageFlags.cRLSign |
          x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(spki(publicKey)),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", encryptedKeyPem };
}

/**
 * Takes an existing CA: its certificate must be a CA allowed to sign certificates and the key
 * must be its key. The key is re-encrypted with the passphrase for rest.
 */
export function importCa(
  certPem: string,
  keyPem: string,
  o: { passphrase: string; keyPassphrase?: string | undefined },
): CaMaterial {
  const der = pemBlocks(certPem)[0];
  if (!der) throw new CaError("ca_bad_certificate", "no PEM certificate in the CA file");
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(der);
  } catch (err) {
    throw new CaError("ca_bad_certificate", "the CA certificate cannot be parsed", { cause: err });
  }
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (!bc?.ca)
    throw new CaError("ca_bad_certificate", "the certificate is not a CA (basicConstraints)");
  if (ku && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw new CaError(
      "ca_bad_certificate",
      "the CA certificate may not sign certificates (keyUsage)",
    );
  }
  const key = readPrivateKey(keyPem, o.keyPassphrase);
  const certSpki = Buffer.from(cert.publicKey.rawData);
  if (!Buffer.from(createPublicKey(key).export({ type: "spki", format: "der" })).equals(certSpki)) {
    throw new CaError("ca_bad_key", "the key does not belong to the CA certificate");
  }
  return { certPem: toPem(der), encryptedKeyPem: encryptPrivateKey(key, o.passphrase) };
}

export interface IssueOptions {
  /** Decrypts the CA key. */
  passphrase: string;
  /** The staff member's key. Default rsa-3072, which every S/MIME client can use. */
  algorithm?: KeyAlgorithm | undefined;
  /** Validity in days. Default 365. */
  days?: number | undefined;
  /** Start of validity. Default one minute ago (clock skew). */
  notBefore?: Date | undefined;
  /** End of validity; overrides days. */
  notAfter?: Date | undefined;
  /**
   * Key usage. Default digitalSignature plus keyEncipherment (RSA) or keyAgreement (EC);
   * "sign-only" gives digitalSignature alone.
   */
  usage?: "sign-and-encrypt" | "sign-only" | undefined;
}

export interface IssuedCertificate {
  certPem: string;
  /** The new private key, unencrypted PKCS#8 PEM: hand it over, then forget it. */
  keyPem: string;
  /** The CA certificate, so the holder's client can build the chain. */
  chainPem: string;
  notAfter: Date;
}

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?";
/** A plain addr-spec: no display name, comments, quoting or spaces; a dotted domain. */
const ADDRESS = new RegExp(`^[^\\s@<>()",;:\\\\[\\]]+@${LABEL}(?:\\.${LABEL})+$`);

/** Issues an S/MIME certificate for one address (e-mail SAN, EKU emailProtection). */
export async function issueCertificate(
  ca: CaMaterial,
  address: string,
  o: IssueOptions,
): Promise<IssuedCertificate> {
  const email = address.trim().toLowerCase();
  if (!ADDRESS.test(email)) throw new CaError("ca_bad_address", "not an e-mail address");
  const caDer = pemBlocks(ca.certPem)[0];
  if (!caDer) throw new CaError("ca_missing", "the CA material holds no certificate");
  const caCert = new x509.X509Certificate(caDer);
  const caKey = readPrivateKey(ca.encryptedKeyPem, o.passphrase);

  const alg = o.algorithm ?? "rsa-3072";
  const { publicKey, privateKey } = await newKeyPair(alg);
  const encrypt = alg.startsWith("rsa")
    ? x509.KeyUsageFlags.keyEncipherment
    : x509.KeyUsageFlags.keyAgreement;
  const usages = x509.KeyUsageFlags.digitalSignature | (o.usage === "sign-only" ? 0 : encrypt);
  const notBefore = o.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = o.notAfter ?? new Date(notBefore.getTime() + (o.days ?? 365) * DAY);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [email] }],
    issuer: caCert.subjectName,
    notBefore,
    notAfter,
    publicKey: spki(publicKey),
    signingKey: await signingKey(caKey),
    signingAlgorithm: signingAlgorithm(caKey),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usages, true),
      new x509.ExtendedKeyUsageExtension([EMAIL_PROTECTION], false),
      new x509.SubjectAlternativeNameExtension([{ type: "email", value: email }], false),
      await x509.SubjectKeyIdentifierExtension.create(spki(publicKey)),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return {
    certPem: cert.toString("pem") + "\n",
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    chainPem: toPem(caDer),
    notAfter,
  };
}
