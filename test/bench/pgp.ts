/**
 * PGP/MIME throughput: messages per second for 10 KB and 2 MB messages to one recipient,
 * sealgate (openpgp, in process, whole RFC 3156 message) against `gpg --encrypt --armor` on
 * the same message in the same run (one gpg process per message, as a gateway shelling out
 * would), with gpg's default compression and without it (`-z 0`, like sealgate).
 * Run: node --import tsx test/bench/pgp.ts [seconds per cell, default 3]
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readPublicKeys, encryptPgpMimeToBuffer } from "../../certs/pgp/index.js";
import { GpgHome } from "../helpers/gpg.js";

const seconds = Number(process.argv[2] ?? 3);

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

/**
 * Messages per second of each contender, measured in alternating slices so that load from
 * elsewhere on the machine falls on all of them alike.
 */
async function rates(contenders: (() => Promise<unknown>)[], rounds = 6): Promise<number[]> {
  const count = contenders.map(() => 0);
  const spent = contenders.map(() => 0);
  for (const work of contenders) await work(); // warm up
  for (let r = 0; r < rounds; r++) {
    for (const [i, work] of contenders.entries()) {
      const start = process.hrtime.bigint();
      const until = start + BigInt(Math.round((seconds / rounds) * 1e9));
      let now = start;
      do {
        await work();
        count[i]!++;
        now = process.hrtime.bigint();
      } while (now < until);
      spent[i]! += Number(now - start) / 1e9;
    }
  }
  return count.map((n, i) => n / spent[i]!);
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

const gpg = new GpgHome();
try {
  const keys = {
    cv25519: gpg.curve25519("<bench-cv@example.test>"),
    "rsa-3072": gpg.rsa("<bench-rsa@example.test>", 3072),
  };
  const rows: string[] = [
    "| key | size | sealgate msg/s | gpg --encrypt msg/s | gpg -z 0 msg/s | " +
      "sealgate / gpg | sealgate / gpg -z 0 |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const [name, fpr] of Object.entries(keys)) {
    const [key] = await readPublicKeys(gpg.exportPublic(fpr));
    if (!key) throw new Error("no key");
    for (const [label, size] of [
      ["10 KB", 10_000],
      ["2 MB", 2_000_000],
    ] as const) {
      const input = message(size);
      // gpg compresses by default; sealgate never does, so -z 0 is the like-for-like figure.
      const [ours = 0, gpgDefault = 1, gpgPlain = 1] = await rates([
        () => encryptPgpMimeToBuffer(input, { recipients: [key] }),
        () => gpgEncrypt(gpg.dir, fpr, input, []),
        () => gpgEncrypt(gpg.dir, fpr, input, ["-z", "0"]),
      ]);
      rows.push(
        `| ${name} | ${label} | ${ours.toFixed(1)} | ${gpgDefault.toFixed(1)} | ` +
          `${gpgPlain.toFixed(1)} | ${(ours / gpgDefault).toFixed(2)} | ` +
          `${(ours / gpgPlain).toFixed(2)} |`,
      );
      process.stderr.write(`${rows.at(-1)}\n`);
    }
  }
  process.stdout.write(
    `\nPGP/MIME, one recipient, ${seconds} s per cell, node ${process.version}\n\n`,
  );
  process.stdout.write(`${rows.join("\n")}\n`);
} finally {
  gpg.remove();
}
