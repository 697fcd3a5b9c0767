import { rootCertificates } from "node:tls";
import t from "tap";
import {
  MtaStsResolver,
  mxMatches,
  parseStsPolicy,
  parseStsTxt,
  type MtaStsOptions,
} from "../gateway/secure/mta-sts.js";
import { startDnsServer } from "./helpers/dns-server.js";
import { startHttpsServer } from "./helpers/https-server.js";
import { issueCert, makeTestCa } from "./helpers/pki.js";
import { requireTools } from "./helpers/tools.js";

/**
 * MTA-STS (RFC 8461): the TXT record and the policy file as data, then the whole lookup
 * against a DNS server and an HTTPS policy host on loopback.
 */

const POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx1.clinic.test\r\nmx: *.backup.test\r\n";

t.test("a policy file gives its mode, MX patterns and max_age", async (t) => {
  const policy = parseStsPolicy(`${POLICY}max_age: 86400\r\nfuture_key: ignored\r\n`, {
    id: "20261203",
    domain: "clinic.test",
  });
  t.same(policy, {
    id: "20261203",
    mode: "enforce",
    mx: ["mx1.clinic.test", "*.backup.test"],
    maxAge: 86400,
  });
  const lf = parseStsPolicy("version: STSv1\nmode: none\nmax_age: 0\n", { id: "a", domain: "x" });
  t.equal(lf.mode, "none", "LF line ends and a none policy without mx are accepted");
});

t.test("a broken policy file is refused with what is wrong, never half-read", async (t) => {
  const parse = (text: string) => () => parseStsPolicy(text, { id: "1", domain: "clinic.test" });
  t.throws(parse("version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n"), {
    code: "STS_POLICY_INVALID",
    message: "MTA-STS policy of clinic.test: version is not STSv1",
  });
  t.throws(parse("version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n"), /unknown mode/);
  t.throws(parse("version: STSv1\nmode: enforce\nmax_age: 1\n"), /no mx patterns/);
  t.throws(parse("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 99999999999\n"), /max_age/);
  t.throws(parse("version: STSv1\nmode: enforce\nmx: a.test\n"), /max_age/);
  t.throws(parse("<html>not a policy</html>"), /not key: value/);
});

t.test("the TXT record yields its id; other records are ignored, two are ambiguous", async (t) => {
  t.equal(parseStsTxt(["v=STSv1; id=20160831085700Z;"], "a.test"), "20160831085700Z");
  t.equal(parseStsTxt(["v=spf1 -all", "v=STSv1 ;id=abc"], "a.test"), "abc");
  t.equal(parseStsTxt(["v=spf1 -all"], "a.test"), null);
  t.throws(() => parseStsTxt(["v=STSv1; id=1", "v=STSv1; id=2"], "a.test"), {
    code: "STS_TXT_INVALID",
  });
  t.throws(() => parseStsTxt(["v=STSv1; id=not-alnum"], "a.test"), { code: "STS_TXT_INVALID" });
});

t.test("a wildcard MX pattern stands for exactly one leftmost label (§4.1)", async (t) => {
  t.ok(mxMatches("mx1.example.com", "*.example.com"));
  t.ok(mxMatches("MX1.Example.com.", "*.example.com"));
  t.notOk(mxMatches("example.com", "*.example.com"));
  t.notOk(mxMatches("a.b.example.com", "*.example.com"));
  t.ok(mxMatches("mail.example.com", "mail.example.com"));
  t.notOk(mxMatches("mail.example.com.evil.test", "mail.example.com"));
});

if (!requireTools(t, "openssl")) process.exit(0);

const ca = makeTestCa();
const names = ["enforce", "rotate", "moved", "html", "gone"].map((d) => `mta-sts.${d}.test`);
const https = await startHttpsServer({ tls: issueCert(ca, { names }) });
t.teardown(() => https.close());

const zones: Parameters<typeof startDnsServer>[0] = {
  "_mta-sts.badcert.test": { txt: ["v=STSv1; id=1"] },
  "mta-sts.badcert.test": { a: ["127.0.0.1"] },
  "_mta-sts.nohost.test": { txt: ["v=STSv1; id=1"] },
  "_mta-sts.plain.test": { txt: ["v=spf1 -all"] },
};
for (const d of ["enforce", "rotate", "moved", "html", "gone"]) {
  zones[`_mta-sts.${d}.test`] = { txt: ["v=STSv1; id=1"] };
  zones[`mta-sts.${d}.test`] = { a: ["127.0.0.1"] };
}
const dns = await startDnsServer(zones);
t.teardown(() => dns.close());

const policyPath = "/.well-known/mta-sts.txt";
https.routes.set(`mta-sts.enforce.test${policyPath}`, { body: `${POLICY}max_age: 600\r\n` });
https.routes.set(`mta-sts.rotate.test${policyPath}`, { body: `${POLICY}max_age: 600\r\n` });
https.routes.set(`mta-sts.moved.test${policyPath}`, {
  status: 301,
  headers: { location: "https://mta-sts.enforce.test/.well-known/mta-sts.txt" },
});
https.routes.set(`mta-sts.html.test${policyPath}`, { contentType: "text/html", body: POLICY });

let now = 5_000_000;
function resolver(extra: MtaStsOptions = {}): MtaStsResolver {
  const r = new MtaStsResolver({
    dnsServers: [dns.address],
    ca: [...rootCertificates, ca.certPem],
    port: https.port,
    timeoutMs: 3000,
    clock: { now: () => now },
    ...extra,
  });
  t.teardown(() => r.cancel());
  return r;
}

const fetches = (domain: string) =>
  https.requests.filter((r) => r === `GET mta-sts.${domain} ${policyPath}`).length;

t.test("an enforce policy is fetched over verified HTTPS and kept for its max_age", async (t) => {
  const sts = resolver();
  const first = await sts.lookup("enforce.test");
  t.match(first, { kind: "policy", cached: false, policy: { mode: "enforce", maxAge: 600 } });
  const again = await sts.lookup("Enforce.test.");
  t.match(again, { kind: "policy", cached: true, policy: { id: "1" } });
  t.equal(fetches("enforce.test"), 1, "one fetch while the id is unchanged");

  now += 601_000;
  await sts.lookup("enforce.test");
  t.equal(fetches("enforce.test"), 2, "fetched again after max_age");
});

t.test("a new id in the TXT record fetches the policy again", async (t) => {
  const sts = resolver();
  await sts.lookup("rotate.test");
  https.routes.set(`mta-sts.rotate.test${policyPath}`, {
    body: "version: STSv1\nmode: testing\nmx: mx1.clinic.test\nmax_age: 600\n",
  });
  t.equal((await sts.lookup("rotate.test")).kind, "policy");
  t.equal(fetches("rotate.test"), 1);
  dns.zones.set("_mta-sts.rotate.test", { txt: ["v=STSv1; id=2"] });
  const rotated = await sts.lookup("rotate.test");
  t.match(rotated, { kind: "policy", cached: false, policy: { id: "2", mode: "testing" } });
  t.equal(fetches("rotate.test"), 2);
});

t.test("a cached policy keeps applying while the policy host is down (§5.1)", async (t) => {
  const sts = resolver();
  https.routes.set(`mta-sts.gone.test${policyPath}`, { body: `${POLICY}max_age: 600\r\n` });
  t.match(await sts.lookup("gone.test"), { kind: "policy", cached: false });
  dns.zones.set("_mta-sts.gone.test", { txt: ["v=STSv1; id=9"] });
  https.routes.delete(`mta-sts.gone.test${policyPath}`);
  t.match(await sts.lookup("gone.test"), { kind: "policy", cached: true, policy: { id: "1" } });
});

t.test("no policy: no record, a certificate that does not verify, a redirect, HTML", async (t) => {
  const sts = resolver();
  t.same(await sts.lookup("plain.test"), {
    kind: "none",
    reason: "plain.test publishes no MTA-STS record",
  });
  t.same(await sts.lookup("missing.test"), {
    kind: "none",
    reason: "missing.test publishes no MTA-STS record",
  });
  t.match(await sts.lookup("badcert.test"), {
    kind: "none",
    reason: /^mta-sts\.badcert\.test: certificate does not verify \(ERR_TLS_CERT_ALTNAME_INVALID\)/,
  });
  t.match(await sts.lookup("nohost.test"), {
    kind: "none",
    reason: "no address for mta-sts.nohost.test",
  });
  t.same(await sts.lookup("moved.test"), {
    kind: "none",
    reason: "mta-sts.moved.test: HTTP 301",
  });
  t.equal(fetches("enforce.test"), 2, "the redirect was not followed");
  t.same(await sts.lookup("html.test"), {
    kind: "none",
    reason: "mta-sts.html.test: policy is not text/plain",
  });
});

t.test("a failed fetch is remembered for a while, then tried again", async (t) => {
  const sts = resolver({ failureTtlMs: 60_000 });
  const reason = "mta-sts.html.test: policy is not text/plain";
  const before = fetches("html.test");
  t.same(await sts.lookup("html.test"), { kind: "none", reason });
  t.same(await sts.lookup("html.test"), { kind: "none", reason });
  t.equal(fetches("html.test") - before, 1, "no second fetch within the failure lifetime");
  now += 61_000;
  await sts.lookup("html.test");
  t.equal(fetches("html.test") - before, 2);
});

t.test("a policy host whose certificate comes from an untrusted CA gives no policy", async (t) => {
  const sts = resolver({ ca: [...rootCertificates] });
  t.match(await sts.lookup("enforce.test"), {
    kind: "none",
    reason: /certificate does not verify \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
  });
});
