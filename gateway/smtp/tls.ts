import { X509Certificate as NodeX509, webcrypto } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { PeerCertificate, TLSSocket } from "node:tls";
import type { Config } from "../config/index.js";
import type { Logger } from "../log.js";

/** TLS material that cannot be read or made. */
export class TlsMaterialError extends Error {
  override readonly name = "TlsMaterialError";
  readonly code = "SMTP_TLS_MATERIAL";

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
  }
}

export interface TlsMaterial {
  key: string;
  cert: string;
  selfSigned: boolean;
}

/** A kept self-signed certificate is replaced this long before it expires. */
const RENEW_BEFORE_MS = 30 * 86400_000;
const SELF_SIGNED_DAYS = 825;

/**
 * The STARTTLS certificate: smtp.tlsCertFile/tlsKeyFile when set, otherwise a self-signed one
 * made once and kept in <dataDir>/tls/ so clients that pin it keep working across restarts.
 */
export async function ensureTlsMaterial(config: Config, logger: Logger): Promise<TlsMaterial> {
  const { tlsCertFile, tlsKeyFile } = config.smtp;
  if (tlsCertFile && tlsKeyFile) {
    try {
      const [cert, key] = await Promise.all([
        readFile(tlsCertFile, "utf8"),
        readFile(tlsKeyFile, "utf8"),
      ]);
      return { key, cert, selfSigned: false };
    } catch (err) {
      throw new TlsMaterialError("cannot read smtp.tlsCertFile or smtp.tlsKeyFile", {
        cause: err,
      });
    }
  }

  const dir = path.join(config.dataDir, "tls");
  const certFile = path.join(dir, "smtp-cert.pem");
  const keyFile = path.join(dir, "smtp-key.pem");
  const kept = await readKept(certFile, keyFile);
  if (kept) return kept;

  const hostname = config.smtp.hostname ?? os.hostname();
  const made = await makeSelfSigned(hostname);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Write then rename, so a crash never leaves half a key that a restart would trust.
  await writeFile(`${keyFile}.tmp`, made.key, { mode: 0o600 });
  await writeFile(`${certFile}.tmp`, made.cert, { mode: 0o644 });
  await rename(`${keyFile}.tmp`, keyFile);
  await rename(`${certFile}.tmp`, certFile);
  logger.info(
    { event: "smtp:tls", selfSigned: true, hostname, file: certFile },
    "made a self-signed STARTTLS certificate; set smtp.tlsCertFile for a trusted one",
  );
  return made;
}

async function readKept(certFile: string, keyFile: string): Promise<TlsMaterial | null> {
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
  } catch {
    return null;
  }
  try {
    const parsed = new NodeX509(cert);
    if (Date.parse(parsed.validTo) - Date.now() < RENEW_BEFORE_MS) return null;
  } catch {
    return null;
  }
  return { key, cert, selfSigned: true };
}

async function makeSelfSigned(hostname: string): Promise<TlsMaterial> {
  // @peculiar/x509 needs a Reflect polyfill loaded before it; loading both here keeps that
  // order whatever else imported first, and costs nothing when a certificate is configured.
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
  const crypto = webcrypto;
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await crypto.subtle.generateKey(alg, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const names = [...new Set([hostname, "localhost"])];
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: `CN=${hostname.replace(/[,+="\\<>;#]/g, "")}`,
      notBefore: new Date(Date.now() - 3600_000),
      notAfter: new Date(Date.now() + SELF_SIGNED_DAYS * 86400_000),
      signingAlgorithm: alg,
      keys: keys as never,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          ...names.map((n) => ({ type: "dns" as const, value: n })),
          { type: "ip", value: "127.0.0.1" },
        ]),
      ],
    },
    crypto as unknown as X509Crypto,
  );
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  const key = x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
  return { key, cert: cert.toString("pem"), selfSigned: true };
}

/**
 * The names a client certificate stands for (subject CN and DNS SANs), but only when the
 * handshake verified it against smtp.clientCaFile: an unverified certificate names nobody.
 */
export function verifiedPeerNames(socket: TLSSocket): string[] {
  if (!socket.authorized) return [];
  const peer: PeerCertificate = socket.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return [];
  const names: string[] = [];
  const cn = peer.subject?.CN;
  if (typeof cn === "string") names.push(cn);
  else if (Array.isArray(cn)) names.push(...(cn as string[]));
  for (const part of (peer.subjectaltname ?? "").split(",")) {
    const entry = part.trim();
    if (entry.startsWith("DNS:")) names.push(entry.slice(4));
  }
  return names;
}
