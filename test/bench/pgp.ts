/**
 * PGP/MIME throughput: messages per second for 10 KB and 2 MB messages to one recipient,
 * sealgate (openpgp, in process, whole RFC 3156 message) against `gpg --encrypt --armor` on
 * the same message in the same run (one gpg process per message, as a gateway shelling out
 * would), with gpg's default compression and without it (`-z 0`, like sealgate).
 * Run alone: node --import tsx test/bench/pgp.ts [seconds per cell, default 3]; `npm run bench`
 * runs it after the SMTP part and prints one table.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readPublicKeys, encryptPgpMimeToBuffer } from "../../certs/pgp/index.js";
import { GpgHome } from "../helpers/gpg.js";
import { cryptoTable, isMain, rates, type CryptoRow } from "./crypto-row.js";

function message(size: number): Buffer {
  const head =
    "From: a@clinic.example\r\nTo: b@example.test\r\nSubject: bench\r\n" +
    'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' +
    "--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\n" +
    'Content-Type: application/octet-stream; name="x.bin"\r\n' +
    "Content-Transfer-Encoding: base64\r\n\r\n";
  const tail = "\r\n--b--\r\n";
  const raw = Math.floor((((size - head.length - tail.length) * 3) / 4 / 78) * 76);
  const b64 = randomBytes(raw)
    .toString("base64")
    .replace(/.{1,76}/g, "$&\r\n");
  return Buffer.from(head + b64 + tail);
}

function gpgEncrypt(home: string, fpr: string, input: Buffer, extra: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "gpg",
      [
        "--homedir",
        home,
        "--batch",
        "--trust-model",
        "always",
        "--armor",
        "--encrypt",
        "--recipient",
        fpr,
        ...extra,
      ],
      { stdio: ["pipe", "pipe", "ignore"] },
    );
    child.stdout.resume();
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`gpg ${code}`))));
    child.stdin.end(input);
  });
}

export async function benchPgp(seconds: number): Promise<CryptoRow[]> {
  const gpg = new GpgHome();
  const rows: CryptoRow[] = [];
  try {
    const keys = {
      cv25519: gpg.curve25519("<bench-cv@example.test>"),
      "RSA-3072": gpg.rsa("<bench-rsa@example.test>", 3072),
    };
    for (const [name, fpr] of Object.entries(keys)) {
      const [key] = await readPublicKeys(gpg.exportPublic(fpr));
      if (!key) throw new Error("no key");
      for (const [label, size] of [
        ["10 KB", 10 * 1024],
        ["2 MB", 2 * 1024 * 1024],
      ] as const) {
        const input = message(size);
        // gpg compresses by default; sealgate never does, so -z 0 is the like-for-like figure.
        const [ours = 0, gpgDefault = NaN, gpgPlain = NaN] = await rates(seconds, [
          () => encryptPgpMimeToBuffer(input, { recipients: [key] }),
          () => gpgEncrypt(gpg.dir, fpr, input, []),
          () => gpgEncrypt(gpg.dir, fpr, input, ["-z", "0"]),
        ]);
        const row = { method: "PGP/MIME", key: name, size: label, ours } as const;
        rows.push({ ...row, reference: "gpg --encrypt --armor", theirs: gpgDefault });
        rows.push({ ...row, reference: "gpg --encrypt --armor -z 0", theirs: gpgPlain });
        process.stderr.write(`pgp: ${name} ${label} done\n`);
      }
    }
  } finally {
    gpg.remove();
  }
  return rows;
}

if (isMain(import.meta.url)) {
  const seconds = Number(process.argv[2] ?? 3);
  const rows = await benchPgp(seconds);
  process.stdout.write(
    `PGP/MIME, one recipient, ${seconds} s per cell, node ${process.version}\n${cryptoTable(rows)}\n`,
  );
}
