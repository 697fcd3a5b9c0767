import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { rootCertificates } from "node:tls";
import t, { type Test } from "tap";
import { createDeliverer } from "../gateway/deliver/index.js";
import { silentLogger } from "../gateway/log.js";
import { MtaStsResolver } from "../gateway/secure/mta-sts.js";
import { leased, LOOP_SECRET, testConfig } from "./helpers/deliveries.js";
import { startDnsServer } from "./helpers/dns-server.js";
import { startHttpsServer } from "./helpers/https-server.js";
import { issueCert, makeTestCa, selfSigned } from "./helpers/pki.js";
import { startSink, type SinkOptions } from "./helpers/sink.js";
import { requireTools } from "./helpers/tools.js";

/**
 * A copy on the tls route is held to the probe's checks when it is sent: STARTTLS, TLS 1.2 or
 * newer, a certificate that verifies for the MX name, and an MTA-STS enforce policy's MX
 * patterns. When no allowed MX passes, the copy is never sent in clear: the attempt fails
 * with category "tls-unverifiable" so the selector can move it to the next method.
 */

if (!requireTools(t, "openssl")) process.exit(0);

const dir = mkdtempSync(path.join(tmpdir(), "sealgate-tls-send-"));
const ca = makeTestCa();
const names = ["rogue.other.test", "mx.clinic.test", "mx.enforce.test", "mx.stray.test"];
const validCert = issueCert(ca, { names });

const https = await startHttpsServer({
  tls: issueCert(ca, { names: ["mta-sts.enforce.test", "mta-sts.stray.test"] }),
});
t.teardown(() => https.close());
https.routes.set("mta-sts.enforce.test/.well-known/mta-sts.txt", {
  body: "version: STSv1\nmode: enforce\nmx: mx.enforce.test\nmax_age: 86400\n",
});
https.routes.set("mta-sts.stray.test/.well-known/mta-sts.txt", {
  body: "version: STSv1\nmode: enforce\nmx: mx.stray.test\nmax_age: 86400\n",
});

const dns = await startDnsServer({
  "clinic.test": { mx: [{ preference: 10, exchange: "mx.clinic.test" }] },
  "mx.clinic.test": { a: ["127.0.0.1"] },
  "rogue.other.test": { a: ["127.0.0.1"] },
  "enforce.test": {
    mx: [
      { preference: 10, exchange: "rogue.other.test" },
      { preference: 20, exchange: "mx.enforce.test" },
    ],
  },
  "mx.enforce.test": { a: ["127.0.0.1"] },
  "_mta-sts.enforce.test": { txt: ["v=STSv1; id=1"] },
  "mta-sts.enforce.test": { a: ["127.0.0.1"] },
  "stray.test": { mx: [{ preference: 10, exchange: "rogue.other.test" }] },
  "_mta-sts.stray.test": { txt: ["v=STSv1; id=1"] },
  "mta-sts.stray.test": { a: ["127.0.0.1"] },
});
t.teardown(() => dns.close());

async function setup(t: Test, sinkOptions: SinkOptions) {
  const sink = await startSink(sinkOptions);
  t.teardown(() => sink.close());
  const config = testConfig(
    {
      delivery: {
        mode: "mx",
        mxPort: sink.port,
        dnsServers: [dns.address],
        tls: { caFile: ca.certFile },
        connectTimeout: 3,
      },
    },
    dir,
  );
  const mtaSts = new MtaStsResolver({
    dnsServers: [dns.address],
    ca: [...rootCertificates, ca.certPem],
    port: https.port,
    timeoutMs: 3000,
  });
  const deliverer = createDeliverer({
    config,
    logger: silentLogger(),
    loopSecret: LOOP_SECRET,
    mtaSts,
  });
  t.teardown(async () => {
    await deliverer.close();
    mtaSts.cancel();
  });
  return { sink, deliverer };
}

const tlsCopy = (domain: string) =>
  leased({ nextHop: domain, recipients: [`pat@${domain}`], route: "tls", sensitive: true });

t.test("a tls copy goes out when the MX certificate verifies", async (t) => {
  const { sink, deliverer } = await setup(t, { tls: validCert });
  const r = await deliverer.attempt(tlsCopy("clinic.test"));
  t.match(r, { kind: "replies", host: "mx.clinic.test", tls: { used: true, verified: true } });
  t.equal(sink.messages.length, 1);
  t.equal(sink.messages[0]?.secure, true);
});

t.test("a self-signed MX makes the tls copy unverifiable, and nothing is sent", async (t) => {
  const { sink, deliverer } = await setup(t, { tls: selfSigned(["mx.clinic.test"]) });
  const r = await deliverer.attempt(tlsCopy("clinic.test"));
  t.match(r, {
    kind: "fault",
    category: "tls-unverifiable",
    temporary: true,
    status: "4.7.5",
    host: "mx.clinic.test",
    reason:
      /^TLS_UNVERIFIABLE: no MX of clinic\.test gave verified TLS; mx\.clinic\.test: .*SELF_SIGNED/,
  });
  t.equal(sink.messages.length, 0, "the copy never left, in clear or otherwise");
});

t.test("an MX without STARTTLS makes the tls copy unverifiable, never clear text", async (t) => {
  const { sink, deliverer } = await setup(t, {});
  const r = await deliverer.attempt(tlsCopy("clinic.test"));
  t.match(r, { kind: "fault", category: "tls-unverifiable", tls: { used: false } });
  t.equal(sink.messages.length, 0);
});

t.test("an expired MX certificate makes the tls copy unverifiable", async (t) => {
  const expired = issueCert(ca, { names: ["mx.clinic.test"], days: -1 });
  const { sink, deliverer } = await setup(t, { tls: expired });
  const r = await deliverer.attempt(tlsCopy("clinic.test"));
  t.match(r, { kind: "fault", category: "tls-unverifiable", reason: /CERT_HAS_EXPIRED/ });
  t.equal(sink.messages.length, 0);
});

t.test("under an enforce policy the copy skips an MX outside its patterns", async (t) => {
  const { sink, deliverer } = await setup(t, { tls: validCert });
  const r = await deliverer.attempt(tlsCopy("enforce.test"));
  t.match(r, { kind: "replies", host: "mx.enforce.test", tls: { verified: true } });
  t.equal(sink.messages.length, 1);
});

t.test("under an enforce policy matching no MX the copy is unverifiable", async (t) => {
  const { sink, deliverer } = await setup(t, { tls: validCert });
  const r = await deliverer.attempt(tlsCopy("stray.test"));
  t.match(r, {
    kind: "fault",
    category: "tls-unverifiable",
    reason: "TLS_UNVERIFIABLE: no MX of stray.test matches its MTA-STS policy (rogue.other.test)",
  });
  t.equal(sink.connections, 0, "the MX outside the policy was never contacted");
});

t.test(
  "an unreachable MX is a network fault to retry, not a reason to give up on TLS",
  async (t) => {
    const { sink, deliverer } = await setup(t, { tls: validCert });
    await sink.close();
    const r = await deliverer.attempt(tlsCopy("clinic.test"));
    t.match(r, { kind: "fault", category: "network", temporary: true });
  },
);

t.test(
  "without an MTA-STS policy a clean copy still goes opportunistically to a self-signed MX",
  async (t) => {
    const { sink, deliverer } = await setup(t, { tls: selfSigned(["mx.clinic.test"]) });
    const r = await deliverer.attempt(leased({ nextHop: "clinic.test", route: "clean" }));
    t.match(r, { kind: "replies", tls: { used: true, verified: false, required: false } });
    t.equal(sink.messages.length, 1);
  },
);

t.test(
  "under an enforce policy a clean copy needs verified TLS to an allowed MX too",
  async (t) => {
    const { sink, deliverer } = await setup(t, { tls: validCert });
    const ok = await deliverer.attempt(leased({ nextHop: "enforce.test", route: "clean" }));
    t.match(ok, {
      kind: "replies",
      host: "mx.enforce.test",
      tls: { verified: true, required: true },
    });
    t.equal(sink.messages.length, 1);
  },
);

t.test("under an enforce policy a clean copy waits rather than go unverified", async (t) => {
  const { sink, deliverer } = await setup(t, { tls: selfSigned(["mx.enforce.test"]) });
  const r = await deliverer.attempt(leased({ nextHop: "enforce.test", route: "clean" }));
  t.match(r, { kind: "fault", category: "tls", temporary: true, tls: { required: true } });
  t.equal(sink.messages.length, 0, "the clean copy was not sent over unverified TLS");
});
