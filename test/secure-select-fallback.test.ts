import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";
import { createDeliverer, type AttemptResult } from "../gateway/deliver/index.js";
import { silentLogger } from "../gateway/log.js";
import { decide } from "../gateway/queue/index.js";
import { leased, LOOP_SECRET, testConfig } from "./helpers/deliveries.js";
import { startDnsServer } from "./helpers/dns-server.js";
import { startSink } from "./helpers/sink.js";

/**
 * A verified-TLS copy whose MX cannot prove itself when it is sent falls to the next method.
 * Until the portal exists that means: not retried, never sent in clear, recipients failed with
 * a notice to the sender, and a secure:route event saying why.
 */

const unverifiable: AttemptResult = {
  kind: "fault",
  category: "tls-unverifiable",
  temporary: true,
  status: "4.7.5",
  reason: "TLS_UNVERIFIABLE: no MX of clinic.test gave verified TLS; mx.clinic.test: SELF_SIGNED",
  host: "mx.clinic.test",
  tls: { used: false, version: null, verified: false, required: true },
};

const options = {
  now: new Date(),
  config: { retrySchedule: [60, 300], maxLifetime: 86_400, postmaster: "postmaster@org.test" },
  reportingMta: "gw.org.test",
  organisation: "Org",
};

t.test(
  "a tls copy that cannot verify at send time is held for the portal, not retried",
  async (t) => {
    const delivery = leased({
      route: "tls",
      sensitive: true,
      recipients: ["a@clinic.test", "b@clinic.test"],
      nextHop: "clinic.test",
    });
    const d = decide({ ...options, delivery, result: unverifiable });
    t.equal(d.kind, "complete", "no deferral: the copy is not tried again on TLS");
    if (d.kind !== "complete") return;
    t.same(d.outcome.sent, []);
    t.same(d.outcome.deferred, []);
    t.same(
      d.outcome.failed.map((f) => f.address),
      ["a@clinic.test", "b@clinic.test"],
    );
    t.ok(d.outcome.dsn, "the sender is told");
    const dsn = d.outcome.dsn?.raw.toString() ?? "";
    t.match(dsn, /TLS failed at send time/);
    t.match(dsn, /5\.7\.5/);
    const routes = d.events.filter((e) => e.name === "secure:route");
    t.equal(routes.length, 2, "one routing event per recipient");
    t.match(routes[0]?.data, {
      route: "portal",
      held: true,
      reason: /^portal: TLS failed at send time \(TLS_UNVERIFIABLE: .*SELF_SIGNED\); portal not/,
    });
    t.notMatch(JSON.stringify(d.events), /Subject|Hello Bob/, "events hold no content");
  },
);

t.test("an unreachable MX is still retried: only a TLS verdict moves the copy", async (t) => {
  const delivery = leased({ route: "tls", sensitive: true, nextHop: "clinic.test" });
  const d = decide({
    ...options,
    delivery,
    result: { ...unverifiable, category: "network", reason: "ECONNREFUSED", status: "4.4.1" },
  });
  t.equal(d.kind, "defer");
});

t.test("an encrypted copy reaches an MX without STARTTLS; a tls copy does not", async (t) => {
  const sink = await startSink({});
  const dns = await startDnsServer({
    "plain.test": { mx: [{ preference: 10, exchange: "mx.plain.test" }] },
    "mx.plain.test": { a: ["127.0.0.1"] },
  });
  const dataDir = mkdtempSync(path.join(tmpdir(), "sealgate-fallback-"));
  const config = testConfig(
    { delivery: { mode: "mx", mxPort: sink.port, dnsServers: [dns.address] } },
    dataDir,
  );
  const deliverer = createDeliverer({ config, logger: silentLogger(), loopSecret: LOOP_SECRET });
  t.teardown(async () => {
    await deliverer.close();
    await sink.close();
    await dns.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const tls = await deliverer.attempt(
    leased({ route: "tls", sensitive: true, nextHop: "plain.test", recipients: ["a@plain.test"] }),
  );
  t.match(tls, { kind: "fault", category: "tls-unverifiable" });
  t.equal(sink.messages.length, 0, "the tls copy never left in clear");

  const smime = await deliverer.attempt(
    leased({
      route: "smime",
      sensitive: true,
      nextHop: "plain.test",
      recipients: ["b@plain.test"],
    }),
  );
  t.match(smime, { kind: "replies", recipients: [{ kind: "accepted" }] });
  t.equal(sink.messages.length, 1, "the S/MIME copy, encrypted already, was delivered");
});
