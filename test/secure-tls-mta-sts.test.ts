import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { rootCertificates } from "node:tls";
import t from "tap";
import { MtaStsResolver } from "../gateway/secure/mta-sts.js";
import { createTlsProber, describeProbe } from "../gateway/secure/tls-probe.js";
import { testConfig } from "./helpers/deliveries.js";
import { startDnsServer } from "./helpers/dns-server.js";
import { startHttpsServer } from "./helpers/https-server.js";
import { issueCert, makeTestCa } from "./helpers/pki.js";
import { startSink } from "./helpers/sink.js";
import { requireTools } from "./helpers/tools.js";

/**
 * The probe with MTA-STS: policies served over HTTPS on loopback, MX hosts answered by one
 * SMTP server whose certificate names every MX host, so only the policy decides which is used.
 * Each domain lists a foreign MX (rogue.other.test) first, as a spoofed MX record would.
 */

if (!requireTools(t, "openssl")) process.exit(0);

const dir = mkdtempSync(path.join(tmpdir(), "sealgate-tls-sts-"));
const ca = makeTestCa();
const domains = ["enforce", "testing", "stray"];
const https = await startHttpsServer({
  tls: issueCert(ca, { names: domains.map((d) => `mta-sts.${d}.test`) }),
});
t.teardown(() => https.close());
const sink = await startSink({
  tls: issueCert(ca, { names: ["rogue.other.test", "mx.enforce.test", "mx.testing.test"] }),
});
t.teardown(() => sink.close());

const zones: Parameters<typeof startDnsServer>[0] = {
  "rogue.other.test": { a: ["127.0.0.1"] },
  "plain.test": { mx: [{ preference: 10, exchange: "mx.enforce.test" }] },
};
for (const d of domains) {
  zones[d === "stray" ? "stray.test" : `${d}.test`] = {
    mx: [
      { preference: 10, exchange: "rogue.other.test" },
      ...(d === "stray" ? [] : [{ preference: 20, exchange: `mx.${d}.test` }]),
    ],
  };
  zones[`mx.${d}.test`] = { a: ["127.0.0.1"] };
  zones[`_mta-sts.${d}.test`] = { txt: ["v=STSv1; id=1"] };
  zones[`mta-sts.${d}.test`] = { a: ["127.0.0.1"] };
}
const dns = await startDnsServer(zones);
t.teardown(() => dns.close());

const policy = (mode: string, mx: string) =>
  `version: STSv1\r\nmode: ${mode}\r\nmx: ${mx}\r\nmax_age: 86400\r\n`;
https.routes.set("mta-sts.enforce.test/.well-known/mta-sts.txt", {
  body: policy("enforce", "*.enforce.test"),
});
https.routes.set("mta-sts.testing.test/.well-known/mta-sts.txt", {
  body: policy("testing", "mx.testing.test"),
});
https.routes.set("mta-sts.stray.test/.well-known/mta-sts.txt", {
  body: policy("enforce", "mx.stray.test"),
});

function prober(delivery: Record<string, unknown> = {}) {
  const config = testConfig(
    {
      delivery: {
        mode: "mx",
        mxPort: sink.port,
        dnsServers: [dns.address],
        tls: { caFile: ca.certFile },
        tlsProbe: { timeout: 3 },
        ...delivery,
      },
    },
    dir,
  );
  // The policy host listens on loopback, not on 443: the MTA-STS resolver is injected.
  const mtaSts = new MtaStsResolver({
    dnsServers: [dns.address],
    ca: [...rootCertificates, ca.certPem],
    port: https.port,
    timeoutMs: 3000,
  });
  const p = createTlsProber(config, { mtaSts });
  t.teardown(() => p.close());
  return p;
}

t.test("an enforce policy counts as proof and its MX patterns are honoured", async (t) => {
  const result = await prober().probe("enforce.test");
  t.same(result, {
    verified: true,
    mx: "mx.enforce.test",
    tlsVersion: "TLSv1.3",
    mtaSts: "enforce",
    proof: "mta-sts",
  });
  t.equal(describeProbe(result), "mx.enforce.test, verified (TLSv1.3), MTA-STS enforce");
});

t.test("without a policy the first MX with a verified certificate is the answer", async (t) => {
  const result = await prober().probe("plain.test");
  t.match(result, { verified: true, mx: "mx.enforce.test", mtaSts: "none", proof: "certificate" });
});

t.test("an enforce policy that matches no MX host leaves nothing verified", async (t) => {
  const before = sink.connections;
  const result = await prober().probe("stray.test");
  t.same(result, {
    verified: false,
    reason: "no MX of stray.test matches its MTA-STS policy (rogue.other.test)",
    mtaSts: "enforce",
  });
  t.equal(
    describeProbe(result),
    "no MX of stray.test matches its MTA-STS policy (rogue.other.test), MTA-STS enforce",
  );
  t.equal(sink.connections, before, "the non-matching MX was never contacted");
});

t.test("a testing policy is no proof: its patterns are not applied", async (t) => {
  const result = await prober().probe("testing.test");
  t.match(result, {
    verified: true,
    mx: "rogue.other.test",
    mtaSts: "testing",
    proof: "certificate",
  });
});

t.test("with requireMtaSts, testing mode and no policy are not verified", async (t) => {
  const strict = prober({ tlsProbe: { timeout: 3, requireMtaSts: true } });
  t.same(await strict.probe("testing.test"), {
    verified: false,
    reason: "MTA-STS policy of testing.test is in testing mode",
    mtaSts: "testing",
  });
  t.same(await strict.probe("plain.test"), {
    verified: false,
    reason: "MTA-STS policy of plain.test is missing",
    mtaSts: "none",
  });
  t.match(await strict.probe("enforce.test"), { verified: true, proof: "mta-sts" });
});

t.test("the policy is fetched once per id, whatever the number of probes", async (t) => {
  const p = prober();
  const before = https.requests.length;
  await p.probe("enforce.test");
  p.forget("enforce.test");
  await p.probe("enforce.test");
  t.equal(https.requests.length - before, 1);
});
