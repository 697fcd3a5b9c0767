import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t, { type Test } from "tap";
import { loadConfig } from "../gateway/config/index.js";
import { silentLogger } from "../gateway/log.js";
import { createPipeline } from "../gateway/pipeline/index.js";
import { isEncryptedMessage } from "../gateway/pipeline/encrypted.js";
import { SqliteStore, type NewMessage } from "../gateway/store/index.js";
import { loadPolicy } from "../policy/index.js";

/** Copies sealgate encrypted that come back through the tenant are not wrapped again. */

const policy = await loadPolicy();

function message(contentType: string[], body: string): NewMessage {
  const raw = Buffer.from(
    [
      "From: Staff <staff@clinic.test>",
      "To: ann@alpha.test",
      "Subject: Secure message",
      "Message-ID: <loop-1@clinic.test>",
      "MIME-Version: 1.0",
      ...contentType,
      "",
      body,
      "",
    ].join("\r\n"),
  );
  return {
    envelope: { mailFrom: "staff@clinic.test", rcptTo: ["ann@alpha.test"] },
    raw,
    messageId: "loop-1@clinic.test",
    connector: "loopback",
    clientIp: "127.0.0.1",
    origin: "ingress",
    eightBit: false,
    smtpUtf8: false,
    loop: { route: "sensitive", hops: 1 },
  };
}

async function run(t: Test, m: NewMessage) {
  const dataDir = mkdtempSync(path.join(tmpdir(), "sealgate-loop-"));
  const { config } = loadConfig(null, { dataDir });
  const store = new SqliteStore({ dataDir });
  t.teardown(() => store.close());
  const pipeline = createPipeline({ store, config, logger: silentLogger(), policy: () => policy });
  const id = await store.enqueue(m);
  const [leased] = await store.leaseMessages({ owner: "t", limit: 1, leaseMs: 60_000 });
  if (leased) await pipeline.process(leased);
  return store.deliveries(id);
}

const SMIME = [
  "Content-Type: application/pkcs7-mime; smime-type=enveloped-data;",
  ' name="smime.p7m"',
];
const PGP = [
  'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";',
  ' boundary="b1"',
];

t.test("an encrypted copy that comes back stamped sensitive leaves as it is", async (t) => {
  for (const type of [SMIME, PGP]) {
    const deliveries = await run(t, message(type, "MIIB..."));
    t.equal(deliveries.length, 1);
    t.equal(deliveries[0]?.route, "clean", `${type[0]?.slice(14, 40)} is not wrapped again`);
  }
});

t.test("a plain message that comes back stamped sensitive stays sensitive", async (t) => {
  const deliveries = await run(t, message(["Content-Type: text/plain"], "Hello"));
  t.not(deliveries[0]?.route, "clean");
});

t.test("only enveloped S/MIME and PGP/MIME count as encrypted", async (t) => {
  const raw = (lines: string[]) => Buffer.from(`${lines.join("\r\n")}\r\n\r\nx\r\n`);
  t.ok(isEncryptedMessage(raw(SMIME)));
  t.ok(isEncryptedMessage(raw(PGP)));
  t.notOk(
    isEncryptedMessage(raw(["Content-Type: application/pkcs7-mime; smime-type=signed-data"])),
    "a signed-only message is readable by anyone",
  );
  t.notOk(isEncryptedMessage(raw(["Content-Type: multipart/mixed; boundary=x"])));
  t.notOk(isEncryptedMessage(raw(["Subject: x", "", "Content-Type: multipart/encrypted"])));
});
