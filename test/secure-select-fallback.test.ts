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
 * A verified-TLS copy whose MX cannot prove itself when it is sent falls to the next method:
 * with the portal running the deliverer hands it there (result.fallback). With the portal off
 * the fault reaches the queue, and the copy waits like any TLS failure: retried until
 * maxLifetime, never sent in clear, then failed with 5.7.5 and a DSN to the sender.
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
  "with the portal off, a tls copy that cannot verify at send time waits until maxLifetime",
  async (t) => {
    const delivery = leased({
      route: "tls",
      sensitive: true,
      recipients: ["a@clinic.test", "b@clinic.test"],
      nextHop: "clinic.test",
    });
    const d = decide({ ...options, delivery, result: unverifiable });
    t.equal(d.kind, "defer", "the copy waits and is tried again, on TLS only");
    if (d.kind !== "defer") return;
    t.equal(d.nextAttemptAt.getTime(), options.now.getTime() + 60_000, "on the retry schedule");
    t.match(d.reason, /^4\.7\.5 tls-unverifiable: TLS_UNVERIFIABLE/);
    t.same(
      d.events.map((e) => [e.name, e.recipient]),
      [
        ["deliver:deferred", "a@clinic.test"],
        ["deliver:deferred", "b@clinic.test"],
      ],
    );
    t.notMatch(JSON.stringify(d.events), /Subject|Hello Bob/, "events hold no content");

    const receivedAt = new Date(options.now.getTime() - 86_401_000);
    const old = leased({ route: "tls", sensitive: true, nextHop: "clinic.test", receivedAt });
    const expired = decide({ ...options, delivery: old, result: unverifiable });
    t.equal(expired.kind, "complete", "at maxLifetime it fails");
    if (expired.kind !== "complete") return;
    t.same(expired.outcome.sent, [], "never sent in clear");
    t.equal(expired.outcome.failed.length, 1);
    const dsn = expired.outcome.dsn?.raw.toString() ?? "";
    t.match(dsn, /Status: 5\.7\.5/, "the sender is told, with 5.7.5");
    t.match(expired.events[0], { name: "deliver:expired", data: { status: "4.7.5" } });
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
