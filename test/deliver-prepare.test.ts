import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { dkimVerify } from "mailauth";
import t from "tap";
import { createDeliverer } from "../gateway/deliver/index.js";
import { prepareMessage } from "../gateway/deliver/prepare.js";
import { silentLogger } from "../gateway/log.js";
import { verifyStamp } from "../gateway/loop-guard.js";
import { leased, LOOP_SECRET, sampleRaw, testConfig } from "./helpers/deliveries.js";

const stamp = { header: "X-Sealgate-Loop", value: "v=1; t=1; h=0; r=c; m=x" };
const text = (b: Buffer) => b.toString("latin1");

t.test("Bcc and tenant-internal headers are dropped with their folded lines", async (t) => {
  const raw = sampleRaw({
    headers: [
      "Bcc: one@hidden.test,\r\n two@hidden.test",
      "X-MS-Exchange-Organization-SCL: -1",
      "x-ms-exchange-organization-authas: Internal\r\n\tcontinued",
      "X-MS-Exchange-CrossTenant-Id: 2f6a0a1e-0000-4000-8000-000000000000",
      "X-Sealgate-Loop: v=1; forged by a user",
    ],
  });
  const out = text(prepareMessage(raw, { stamp }).bytes);
  t.notMatch(out, /hidden\.test/, "no Bcc line or continuation survives");
  t.notMatch(out, /organization/i);
  t.notMatch(out, /forged/, "an earlier stamp is replaced, never kept");
  t.match(out, /\r\nX-MS-Exchange-CrossTenant-Id: /, "other X-MS headers stay");
  t.equal(out.split("X-Sealgate-Loop:").length, 2, "exactly one stamp");
});

t.test("line endings are normalised to CRLF once and nothing else changes", async (t) => {
  const raw = Buffer.from("Subject: x\nMessage-ID: <a@b>\r\n\r\nline one\nline two\rline three");
  const out = text(prepareMessage(raw, { stamp }).bytes);
  t.equal(
    out,
    `X-Sealgate-Loop: ${stamp.value}\r\nSubject: x\r\nMessage-ID: <a@b>\r\n\r\n` +
      "line one\r\nline two\r\nline three\r\n",
  );
  t.notMatch(out, /\r(?!\n)|(?<!\r)\n/, "no bare CR or LF");
});

t.test("a long header is folded at whitespace; a long body line is refused", async (t) => {
  const long = `References: ${Array.from({ length: 60 }, (_, i) => `<ref-${i}-abcdef@x.test>`).join(" ")}`;
  t.ok(long.length > 998);
  const out = text(prepareMessage(sampleRaw({ headers: [long] }), { stamp }).bytes);
  t.ok(
    out.split("\r\n").every((l) => l.length <= 998),
    "every line within 998 octets",
  );
  t.match(out.replace(/\r\n /g, " "), long, "unfolding gives the original field back");
  t.throws(() => prepareMessage(sampleRaw({ body: `${"x".repeat(1200)}\r\n` }), { stamp }), {
    code: "LINE_TOO_LONG",
  });
});

t.test("8-bit content is detected, 7-bit is not", async (t) => {
  t.equal(prepareMessage(sampleRaw(), { stamp }).eightBit, false);
  t.equal(prepareMessage(sampleRaw({ body: "caf\u00e9\r\n" }), { stamp }).eightBit, true);
});

t.test("the outbox gets one .eml per copy, named queue id and delivery id", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-outbox-"));
  const config = testConfig({}, dir);
  const deliverer = createDeliverer({ config, logger: silentLogger(), loopSecret: LOOP_SECRET });
  const d = leased({ sensitive: true, loop: { route: "sensitive", hops: 2 } });
  const r = await deliverer.attempt(d);
  t.match(r, { kind: "replies", host: "outbox" });
  t.same(readdirSync(path.join(dir, "outbox")), [`${d.queueId}-${d.id}.eml`], "no temp file left");
  const written = readFileSync(path.join(dir, "outbox", `${d.queueId}-${d.id}.eml`), "latin1");
  const [received, stampLine, ...rest] = written.split("\r\n");
  t.match(
    received,
    /^Received: from \[127.0.0.1\] by \S+ \(sealgate\) with ESMTP id /,
    "a trace field comes first",
  );
  const value = (stampLine ?? "").replace(/^X-Sealgate-Loop: /, "");
  t.match(
    verifyStamp({ secret: LOOP_SECRET, maxAge: 60 }, "sample-1@sender.test", value),
    { route: "sensitive", hops: 2 },
    "the stamp carries the route class and the hop count",
  );
  t.equal(rest.join("\r\n"), text(sampleRaw()));
});

async function signAndVerify(type: "rsa" | "ed25519") {
  const { privateKey, publicKey } =
    type === "rsa"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ed25519");
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-dkim-"));
  const config = testConfig({}, dir);
  const dkim = {
    domain: "sender.test",
    selector: "sg1",
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
  const deliverer = createDeliverer({
    config,
    logger: silentLogger(),
    loopSecret: LOOP_SECRET,
    dkim,
  });
  const d = leased();
  await deliverer.attempt(d);
  const signed = readFileSync(path.join(dir, "outbox", `${d.queueId}-${d.id}.eml`));
  const der = publicKey.export({ type: "spki", format: "der" });
  // RFC 8463 §4: an Ed25519 record carries the bare 32-byte key, not the SPKI structure.
  const p = (type === "rsa" ? der : der.subarray(der.length - 32)).toString("base64");
  const result = await dkimVerify(signed, {
    resolver: async (name, rrtype) => {
      if (name === "sg1._domainkey.sender.test" && rrtype === "TXT") {
        return [[`v=DKIM1; k=${type}; p=${p}`]];
      }
      throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
    },
  });
  return { signed: text(signed), result: result.results[0] };
}

t.test("a configured RSA DKIM key signs the copy and the signature verifies", async (t) => {
  const { signed, result } = await signAndVerify("rsa");
  t.match(signed, /^DKIM-Signature: .*a=rsa-sha256.*d=sender\.test/s);
  t.equal(result?.status.result, "pass", "mailauth verifies the signature");
});

t.test("an Ed25519 DKIM key signs with ed25519-sha256 (RFC 8463)", async (t) => {
  const { signed, result } = await signAndVerify("ed25519");
  t.match(signed, /^DKIM-Signature: .*a=ed25519-sha256/s);
  t.equal(result?.status.result, "pass");
});
