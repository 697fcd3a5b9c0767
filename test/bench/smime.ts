import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createCa, issueCertificate } from "../../certs/ca/index.js";
import { encryptSmime } from "../../certs/smime/index.js";
import { hasTool } from "../helpers/tools.js";
import { cryptoTable, isMain, rates, type CryptoRow } from "./crypto-row.js";

/**
 * S/MIME encryption throughput: messages per second for 10 KB and 2 MB entities, one recipient
 * (RSA-2048 PKCS#1 v1.5 and ECDH P-256, AES-256-CBC), sealgate's encryptSmime in-process
 * against `openssl cms -encrypt -binary -aes256` on the same input files in the same run (one
 * openssl process per message, which is how a mail filter would call it), in alternating
 * slices so that other load on the machine falls on both alike. Not a test.
 *
 * Run alone: node --import tsx test/bench/smime.ts (BENCH_SECONDS per cell, default 3); `npm run
 * bench` runs it after the SMTP part and prints one table.
 */

function entity(bytes: number): Buffer {
  const head =
    "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  const lines =
    randomBytes(Math.ceil((bytes * 3) / 4))
      .toString("base64")
      .match(/.{1,76}/g) ?? [];
  return Buffer.from(head + lines.join("\r\n") + "\r\n").subarray(0, bytes);
}

export async function benchSmime(seconds: number): Promise<CryptoRow[]> {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-bench-smime-"));
  const passphrase = "bench CA passphrase, not secret";
  const ca = await createCa({ passphrase });
  const recipients = {
    "RSA-2048 v1.5": await issueCertificate(ca, "rsa@example.net", {
      passphrase,
      algorithm: "rsa-2048",
    }),
    "ECDH P-256": await issueCertificate(ca, "ec@example.net", {
      passphrase,
      algorithm: "ec-p256",
    }),
  };
  const outer = [
    { name: "From", value: "a@example.org" },
    { name: "To", value: "b@example.net" },
  ];
  const haveOpenssl = hasTool("openssl");
  const rows: CryptoRow[] = [];
  try {
    for (const [label, recipient] of Object.entries(recipients)) {
      const certFile = path.join(dir, `${label.replace(/\W/g, "")}.pem`);
      writeFileSync(certFile, recipient.certPem);
      for (const size of [10 * 1024, 2 * 1024 * 1024]) {
        const input = entity(size);
        const inputFile = path.join(dir, `in-${size}.mime`);
        writeFileSync(inputFile, input);
        const openssl = (): Buffer =>
          execFileSync(
            "openssl",
            ["cms", "-encrypt", "-binary", "-aes256", "-in", inputFile, certFile],
            { stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 * 1024 * 1024 },
          );
        const encrypt = (): Promise<unknown> =>
          encryptSmime(input, { recipients: [recipient.certPem], outerHeaders: outer });
        const [ours = 0, theirs = NaN] = await rates(
          seconds,
          haveOpenssl ? [encrypt, openssl] : [encrypt],
        );
        const kb = size >= 1024 * 1024 ? `${size / 1024 / 1024} MB` : `${size / 1024} KB`;
        rows.push({
          method: "S/MIME",
          key: label,
          size: kb,
          ours,
          reference: "openssl cms -encrypt -aes256",
          theirs,
        });
        process.stderr.write(`smime: ${label} ${kb} done\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (isMain(import.meta.url)) {
  const seconds = Number(process.env.BENCH_SECONDS) > 0 ? Number(process.env.BENCH_SECONDS) : 3;
  const rows = await benchSmime(seconds);
  process.stdout.write(
    `S/MIME encryption, one recipient, AES-256-CBC, ${seconds} s per cell\n${cryptoTable(rows)}\n`,
  );
}
