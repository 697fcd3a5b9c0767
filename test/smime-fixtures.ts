import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createCa, issueCertificate, type CaMaterial } from "../certs/ca/index.js";
import type { KeyAlgorithm } from "../certs/ca/keys.js";

export const PASSPHRASE = "test CA passphrase, not secret";

export interface Party {
  address: string;
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
}

export interface Pki {
  dir: string;
  ca: CaMaterial;
  caFile: string;
  issue(
    address: string,
    o?: { algorithm?: KeyAlgorithm; notAfter?: Date; notBefore?: Date; usage?: "sign-only" },
  ): Promise<Party>;
}

let n = 0;

/** A CA made by sealgate's own CA code, and files the openssl command can read. */
export async function makePki(): Promise<Pki> {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-smime-"));
  const ca = await createCa({ passphrase: PASSPHRASE });
  const caFile = path.join(dir, "ca.pem");
  writeFileSync(caFile, ca.certPem);
  return {
    dir,
    ca,
    caFile,
    async issue(address, o = {}) {
      const issued = await issueCertificate(ca, address, {
        passphrase: PASSPHRASE,
        algorithm: o.algorithm ?? "rsa-2048",
        notAfter: o.notAfter,
        notBefore: o.notBefore,
        usage: o.usage,
      });
      const base = path.join(dir, `party-${n++}`);
      writeFileSync(`${base}.pem`, issued.certPem);
      writeFileSync(`${base}.key`, issued.keyPem, { mode: 0o600 });
      return {
        address,
        certPem: issued.certPem,
        keyPem: issued.keyPem,
        certFile: `${base}.pem`,
        keyFile: `${base}.key`,
      };
    },
  };
}

export const ATTACHMENT = randomBytes(48 * 1024);
export const PDF = Buffer.concat([
  Buffer.from("%PDF-1.4\n"),
  randomBytes(3000),
  Buffer.from("\n%%EOF\n"),
]);

function b64(bytes: Buffer): string {
  return (bytes.toString("base64").match(/.{1,76}/g) ?? []).join("\r\n");
}

/** A message with a text body, an HTML body and two binary attachments, CRLF throughout. */
export function sampleMessage(subject = "Lab results for J. Doe"): Buffer {
  const lines = [
    "Received: from tenant.example (10.0.0.1) by sealgate; Thu, 3 Dec 2026 10:00:00 +0000",
    "From: Clinic <clinic@example.org>",
    "To: Patient <patient@example.net>",
    "Cc: records@example.net",
    "Bcc: hidden@example.org",
    `Subject: ${subject}`,
    "Date: Thu, 3 Dec 2026 10:00:00 +0000",
    "Message-ID: <m1@example.org>",
    "References: <m0@example.org>",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="outer"',
    "",
    "--outer",
    'Content-Type: multipart/alternative; boundary="alt"',
    "",
    "--alt",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    "Dear patient, your results are attached. Gr=C3=BC=C3=9Fe.",
    "--alt",
    "Content-Type: text/html; charset=utf-8",
    "",
    "<p>Dear patient, your results are attached.</p>",
    "--alt--",
    "--outer",
    'Content-Type: application/octet-stream; name="scan.bin"',
    'Content-Disposition: attachment; filename="scan.bin"',
    "Content-Transfer-Encoding: base64",
    "",
    b64(ATTACHMENT),
    "--outer",
    'Content-Type: application/pdf; name="report.pdf"',
    'Content-Disposition: attachment; filename="report.pdf"',
    "Content-Transfer-Encoding: base64",
    "",
    b64(PDF),
    "--outer--",
    "",
  ];
  return Buffer.from(lines.join("\r\n"), "utf8");
}

/** Runs openssl with arguments; returns stdout, throws with stderr on failure. */
export function openssl(args: string[], input?: Buffer): Buffer {
  return execFileSync("openssl", args, {
    input,
    stdio: ["pipe", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
}
