import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t, { type Test } from "tap";
import { createDeliverer } from "../gateway/deliver/index.js";
import { MxResolver } from "../gateway/deliver/mx.js";
import { silentLogger } from "../gateway/log.js";
import { leased, LOOP_SECRET, testConfig } from "./helpers/deliveries.js";
import { startDnsServer } from "./helpers/dns-server.js";
import { issueCert, makeTestCa } from "./helpers/pki.js";
import { startSink } from "./helpers/sink.js";
import { requireTools } from "./helpers/tools.js";

if (!requireTools(t, "openssl")) process.exit(0);

const dir = mkdtempSync(path.join(tmpdir(), "sealgate-deliver-mx-"));
const ca = makeTestCa();
const mxCert = issueCert(ca, { names: ["mx2.clinic.test"] });

// 127.0.0.2 is loopback too, but nothing listens there: the first MX is down.
const dns = await startDnsServer({
  "clinic.test": {
    mx: [
      { preference: 20, exchange: "mx2.clinic.test" },
      { preference: 10, exchange: "mx1.clinic.test" },
    ],
  },
  "mx1.clinic.test": { a: ["127.0.0.2"] },
  "mx2.clinic.test": { a: ["127.0.0.1"] },
  "implicit.test": { a: ["127.0.0.1"] },
  "nomail.test": { mx: [{ preference: 0, exchange: "." }] },
  "broken.test": { servfail: true },
});
t.teardown(() => dns.close());

t.test("the resolver lists MX hosts in preference order with their addresses", async (t) => {
  const resolver = new MxResolver({ servers: [dns.address] });
  t.same(await resolver.resolve("clinic.test"), [
    { name: "mx1.clinic.test", addresses: ["127.0.0.2"] },
    { name: "mx2.clinic.test", addresses: ["127.0.0.1"] },
  ]);
});

t.test("a domain without MX is its own mail host (RFC 5321 §5.1)", async (t) => {
  const resolver = new MxResolver({ servers: [dns.address] });
  t.same(await resolver.resolve("implicit.test"), [
    { name: "implicit.test", addresses: ["127.0.0.1"] },
  ]);
});

t.test("a null MX, an unknown domain and a failing server are told apart", async (t) => {
  const resolver = new MxResolver({ servers: [dns.address] });
  await t.rejects(resolver.resolve("nomail.test"), { code: "DNS_NULL_MX" });
  await t.rejects(resolver.resolve("missing.test"), { code: "DNS_NXDOMAIN" });
  await t.rejects(resolver.resolve("broken.test"), { code: "DNS_TEMPORARY" });
});

async function mxDeliverer(t: Test, port: number) {
  const config = testConfig(
    {
      delivery: {
        mode: "mx",
        mxPort: port,
        dnsServers: [dns.address],
        tls: { caFile: ca.certFile },
        connectTimeout: 3,
      },
    },
    dir,
  );
  const deliverer = createDeliverer({ config, logger: silentLogger(), loopSecret: LOOP_SECRET });
  t.teardown(() => deliverer.close());
  return deliverer;
}

t.test("when the first MX is down the next one gets the message", async (t) => {
  const sink = await startSink({ tls: mxCert });
  t.teardown(() => sink.close());
  const deliverer = await mxDeliverer(t, sink.port);
  const r = await deliverer.attempt(
    leased({ nextHop: "clinic.test", recipients: ["a@clinic.test"] }),
  );
  t.equal(r.kind, "replies");
  if (r.kind !== "replies") return;
  t.equal(r.host, "mx2.clinic.test");
  t.equal(sink.messages.length, 1);
});

t.test("a sensitive copy checks the certificate against the MX host name", async (t) => {
  const sink = await startSink({ tls: mxCert });
  t.teardown(() => sink.close());
  const deliverer = await mxDeliverer(t, sink.port);
  const ok = await deliverer.attempt(
    leased({ nextHop: "clinic.test", recipients: ["a@clinic.test"], sensitive: true }),
  );
  t.match(ok, { kind: "replies", tls: { used: true, verified: true, required: true } });

  // implicit.test resolves to the same host, whose certificate does not name it.
  const refused = await deliverer.attempt(
    leased({ nextHop: "implicit.test", recipients: ["a@implicit.test"], sensitive: true }),
  );
  t.match(refused, { kind: "fault", category: "tls", temporary: true });
  t.equal(sink.messages.length, 1, "only the verified copy arrived");
});

t.test("a null MX fails the copy permanently; a DNS failure defers it", async (t) => {
  const deliverer = await mxDeliverer(t, 9);
  const nullMx = await deliverer.attempt(leased({ nextHop: "nomail.test" }));
  t.match(nullMx, { kind: "fault", category: "no-route", temporary: false, status: "5.1.10" });
  const nx = await deliverer.attempt(leased({ nextHop: "missing.test" }));
  t.match(nx, { kind: "fault", category: "no-route", temporary: false, status: "5.1.2" });
  const servfail = await deliverer.attempt(leased({ nextHop: "broken.test" }));
  t.match(servfail, { kind: "fault", category: "dns", temporary: true });
});

t.test("no reachable MX at all is a temporary network fault", async (t) => {
  const sink = await startSink({});
  const port = sink.port;
  await sink.close();
  const deliverer = await mxDeliverer(t, port);
  const r = await deliverer.attempt(leased({ nextHop: "clinic.test" }));
  t.match(r, { kind: "fault", category: "network", temporary: true, host: "mx2.clinic.test" });
});
