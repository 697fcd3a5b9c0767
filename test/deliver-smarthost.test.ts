import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t, { type Test } from "tap";
import { createDeliverer, type AttemptResult } from "../gateway/deliver/index.js";
import { silentLogger } from "../gateway/log.js";
import { verifyStamp } from "../gateway/loop-guard.js";
import { leased, LOOP_SECRET, sampleRaw, testConfig } from "./helpers/deliveries.js";
import { issueCert, makeTestCa, selfSigned } from "./helpers/pki.js";
import { startSink, type SinkOptions } from "./helpers/sink.js";
import { requireTools } from "./helpers/tools.js";

if (!requireTools(t, "openssl")) process.exit(0);

const dir = mkdtempSync(path.join(tmpdir(), "sealgate-deliver-sh-"));
const ca = makeTestCa();
const good = issueCert(ca, { names: ["smarthost.test"] });
const wrongName = issueCert(ca, { names: ["elsewhere.test"] });
const untrusted = selfSigned(["smarthost.test"]);
const client = issueCert(ca, { names: ["gateway.sealgate.test"] });

async function withSink(
  t: Test,
  sinkOptions: SinkOptions,
  smartHost: Record<string, unknown> = {},
) {
  const sink = await startSink(sinkOptions);
  t.teardown(() => sink.close());
  const config = testConfig(
    {
      delivery: {
        mode: "smarthost",
        smartHost: {
          host: "127.0.0.1",
          port: sink.port,
          servername: "smarthost.test",
          requireTls: false,
          ...smartHost,
        },
        tls: {
          caFile: ca.certFile,
          clientCertFile: client.certFile,
          clientKeyFile: client.keyFile,
        },
        connectTimeout: 5,
      },
    },
    dir,
  );
  const deliverer = createDeliverer({ config, logger: silentLogger(), loopSecret: LOOP_SECRET });
  t.teardown(() => deliverer.close());
  return { sink, deliverer };
}

function assertFault(t: Test, r: AttemptResult, category: string, temporary: boolean) {
  t.equal(r.kind, "fault", "the attempt failed as a whole");
  if (r.kind !== "fault") return;
  t.equal(r.category, category, `category ${category}`);
  t.equal(r.temporary, temporary, temporary ? "temporary: retried later" : "permanent");
}

t.test("a sensitive copy leaves over STARTTLS with a verified certificate", async (t) => {
  const { sink, deliverer } = await withSink(t, { tls: good });
  const r = await deliverer.attempt(leased({ sensitive: true, route: "tls" }));
  t.equal(r.kind, "replies");
  if (r.kind !== "replies") return;
  t.same(
    r.recipients.map((x) => x.kind),
    ["accepted"],
  );
  t.match(r.recipients[0]?.reply ?? "", /^250 /, "the real reply text is kept");
  t.ok(r.tls.used && r.tls.verified && r.tls.required, "TLS used, verified, required");
  t.match(r.tls.version ?? "", /^TLSv1\.[23]$/);
  t.equal(sink.messages.length, 1);
  t.equal(sink.messages[0]?.secure, true, "the sink saw a TLS session");
});

t.test("a sensitive copy is not sent when the certificate is not trusted", async (t) => {
  const { sink, deliverer } = await withSink(t, { tls: untrusted });
  const r = await deliverer.attempt(leased({ sensitive: true }));
  assertFault(t, r, "tls", true);
  if (r.kind === "fault") t.match(r.reason, /certificate/i, "the reason says why");
  t.equal(sink.messages.length, 0, "nothing was received, in clear or otherwise");
});

t.test("a sensitive copy is not sent when the certificate names another host", async (t) => {
  const { sink, deliverer } = await withSink(t, { tls: wrongName });
  const r = await deliverer.attempt(leased({ sensitive: true }));
  assertFault(t, r, "tls", true);
  if (r.kind === "fault") t.match(r.reason, /altnames|hostname/i);
  t.equal(sink.messages.length, 0);
});

t.test("a sensitive copy is never downgraded when STARTTLS is not offered", async (t) => {
  const { sink, deliverer } = await withSink(t, {});
  const r = await deliverer.attempt(leased({ route: "tls", sensitive: true }));
  assertFault(t, r, "tls", true);
  t.equal(sink.messages.length, 0, "no clear-text fallback");
});

t.test("the route alone (tls) requires verified TLS too", async (t) => {
  const { sink, deliverer } = await withSink(t, { tls: untrusted });
  const r = await deliverer.attempt(leased({ route: "tls", sensitive: false }));
  assertFault(t, r, "tls", true);
  t.equal(sink.messages.length, 0);
});

t.test("a clean copy uses opportunistic TLS and accepts any certificate", async (t) => {
  const { sink, deliverer } = await withSink(t, { tls: untrusted });
  const r = await deliverer.attempt(leased());
  t.equal(r.kind, "replies");
  t.ok(r.tls.used, "STARTTLS was used");
  t.notOk(r.tls.verified, "and recorded as not verified");
  t.equal(sink.messages[0]?.secure, true);
});

t.test("a clean copy goes in clear only when STARTTLS is not offered", async (t) => {
  const { sink, deliverer } = await withSink(t, {});
  const r = await deliverer.attempt(leased());
  t.equal(r.kind, "replies");
  t.notOk(r.tls.used);
  t.equal(sink.messages[0]?.secure, false);
});

t.test("the smart host with requireTls refuses an unverified clean copy", async (t) => {
  const { sink, deliverer } = await withSink(t, { tls: untrusted }, { requireTls: true });
  assertFault(t, await deliverer.attempt(leased()), "tls", true);
  t.equal(sink.messages.length, 0);
});

t.test("the client certificate is presented to the smart host", async (t) => {
  const { sink, deliverer } = await withSink(t, { tls: good, requestClientCert: true });
  await deliverer.attempt(leased({ sensitive: true }));
  t.equal(sink.messages[0]?.clientCertSubject, "gateway.sealgate.test");
});

t.test("SMTP AUTH logs in after STARTTLS (Google's relay on 587)", async (t) => {
  const auth = { user: "relay@tenant.test", pass: "s3cret-pass" };
  const { sink, deliverer } = await withSink(
    t,
    { tls: good, auth },
    { user: auth.user, password: auth.pass },
  );
  const r = await deliverer.attempt(leased());
  t.equal(r.kind, "replies");
  t.equal(sink.messages[0]?.user, "relay@tenant.test");
});

t.test("wrong SMTP AUTH credentials defer the copy instead of bouncing it", async (t) => {
  const auth = { user: "relay@tenant.test", pass: "s3cret-pass" };
  const { sink, deliverer } = await withSink(
    t,
    { tls: good, auth },
    { user: auth.user, password: "wrong" },
  );
  assertFault(t, await deliverer.attempt(leased()), "auth", true);
  t.equal(sink.messages.length, 0);
});

t.test("each recipient gets its own answer with the real reply text", async (t) => {
  const { sink, deliverer } = await withSink(t, {
    rcptReply: (address) =>
      address.startsWith("later")
        ? "451 4.7.1 Greylisted, try again"
        : address.startsWith("nobody")
          ? "550 5.1.1 User unknown"
          : undefined,
  });
  const r = await deliverer.attempt(
    leased({ recipients: ["ok@r.test", "later@r.test", "nobody@r.test"] }),
  );
  t.equal(r.kind, "replies");
  if (r.kind !== "replies") return;
  const by = new Map(r.recipients.map((x) => [x.address, x]));
  t.equal(by.get("ok@r.test")?.kind, "accepted");
  t.equal(by.get("later@r.test")?.kind, "rejected-temporary");
  t.equal(by.get("later@r.test")?.reply, "451 4.7.1 Greylisted, try again");
  t.equal(by.get("nobody@r.test")?.kind, "rejected-permanent");
  t.match(by.get("nobody@r.test"), { status: "5.1.1", category: "recipient" });
  t.same(sink.messages[0]?.rcptTo, ["ok@r.test"], "only the accepted recipient got the message");
});

t.test("a rejected message (DATA 554) fails every recipient with that reply", async (t) => {
  const { deliverer } = await withSink(t, {
    dataReply: () => "554 5.7.1 Message rejected as spam",
  });
  const r = await deliverer.attempt(leased({ recipients: ["a@r.test", "b@r.test"] }));
  t.equal(r.kind, "replies");
  if (r.kind !== "replies") return;
  t.same(
    r.recipients.map((x) => [x.kind, x.reply]),
    [
      ["rejected-permanent", "554 5.7.1 Message rejected as spam"],
      ["rejected-permanent", "554 5.7.1 Message rejected as spam"],
    ],
  );
});

t.test("the bytes that arrive are the original minus Bcc, plus trace and stamp", async (t) => {
  const { sink, deliverer } = await withSink(t, {});
  const raw = sampleRaw({
    headers: ["Bcc: hidden@sender.test", "X-MS-Exchange-Organization-AuthAs: Internal"],
    body: "Line one.\r\n.Leading dot survives.\r\n",
  });
  await deliverer.attempt(leased({ raw, sensitive: false }));
  const got = sink.messages[0]?.raw.toString("latin1") ?? "";
  const [received, stampLine, ...rest] = got.split("\r\n");
  t.match(received, /^Received: /, "the Received trace field comes first (RFC 5321 §4.4)");
  t.notMatch(received, /hidden@|for </, "the trace field names no recipient");
  t.match(stampLine, /^X-Sealgate-Loop: v=1; /, "the loop-guard stamp comes next");
  const stamp = verifyStamp(
    { secret: LOOP_SECRET, maxAge: 86400 },
    "sample-1@sender.test",
    (stampLine ?? "").replace(/^X-Sealgate-Loop: /, ""),
  );
  t.match(stamp, { hops: 0, route: "clean" }, "the stamp verifies for this Message-ID");
  const expected = sampleRaw({ body: "Line one.\r\n.Leading dot survives.\r\n" });
  t.equal(rest.join("\r\n"), expected.toString("latin1"), "everything else is byte-identical");
});

t.test("8-bit content goes out as BODY=8BITMIME where the next hop offers it", async (t) => {
  const { sink, deliverer } = await withSink(t, {});
  const raw = sampleRaw({ body: "Gr\u00fc\u00dfe aus K\u00f6ln\r\n" });
  const r = await deliverer.attempt(leased({ raw }));
  t.equal(r.kind, "replies");
  t.equal(sink.messages[0]?.bodyType, "8bitmime");
  t.ok(sink.messages[0]?.raw.includes(Buffer.from("Gr\u00fc\u00dfe", "latin1")), "bytes kept");
});

t.test("8-bit content to a next hop without 8BITMIME fails permanently (5.6.3)", async (t) => {
  const { sink, deliverer } = await withSink(t, { no8BitMime: true });
  const raw = sampleRaw({ body: "Gr\u00fc\u00dfe\r\n" });
  const r = await deliverer.attempt(leased({ raw }));
  assertFault(t, r, "content", false);
  if (r.kind === "fault") t.equal(r.status, "5.6.3");
  t.equal(sink.messages.length, 0);
});

t.test("a closed port is a temporary network fault", async (t) => {
  const sink = await startSink({});
  const port = sink.port;
  await sink.close();
  const config = testConfig(
    { delivery: { mode: "smarthost", smartHost: { host: "127.0.0.1", port, requireTls: false } } },
    dir,
  );
  const deliverer = createDeliverer({ config, logger: silentLogger(), loopSecret: LOOP_SECRET });
  assertFault(t, await deliverer.attempt(leased()), "network", true);
});

t.test("an internationalised address needs SMTPUTF8 at the next hop (RFC 6531)", async (t) => {
  const to = ["j\u00fcrgen@klinik.test"];
  const { sink, deliverer } = await withSink(t, {});
  t.match(await deliverer.attempt(leased({ recipients: to })), { kind: "replies" });
  t.same(sink.messages[0]?.rcptTo, to);
  const plain = await withSink(t, { noSmtpUtf8: true });
  const r = await plain.deliverer.attempt(leased({ recipients: to }));
  t.match(r, { kind: "fault", category: "content", temporary: false, status: "5.6.7" });
  t.equal(plain.sink.messages.length, 0);
});
