import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import t, { type Test } from "tap";
import { createDeliverer, type Deliverer } from "../gateway/deliver/index.js";
import { createLogger, silentLogger, type Logger } from "../gateway/log.js";
import { QueueRunner, type PipelineStep } from "../gateway/queue/index.js";
import { SqliteStore } from "../gateway/store/index.js";
import type { NewMessage, Store } from "../gateway/store/types.js";
import { LOOP_SECRET, sampleRaw, testConfig } from "./helpers/deliveries.js";
import { startSink, type Sink, type SinkOptions } from "./helpers/sink.js";

/** The trivial pipeline: every message goes out as one clean copy to the smart host. */
function routeAllClean(store: Store): PipelineStep {
  return {
    async process(message) {
      await store.routeMessage(message.id, [
        {
          recipients: message.envelope.rcptTo,
          route: "clean",
          nextHop: "smarthost.test",
          sensitive: false,
        },
      ]);
    },
  };
}

function newMessage(o: { from?: string; to?: string[]; origin?: NewMessage["origin"] } = {}) {
  return {
    envelope: { mailFrom: o.from ?? "alice@sender.test", rcptTo: o.to ?? ["bob@r.test"] },
    raw: sampleRaw(),
    messageId: "sample-1@sender.test",
    connector: "test",
    clientIp: "127.0.0.1",
    origin: o.origin ?? "ingress",
    eightBit: false,
    smtpUtf8: false,
  } satisfies NewMessage;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Setup {
  store: SqliteStore;
  sink: Sink;
  runner: QueueRunner;
  deliverer: Deliverer;
}

async function setup(
  t: Test,
  o: {
    sink?: SinkOptions;
    delivery?: Record<string, unknown>;
    logger?: Logger;
    wrap?: (d: Deliverer) => Deliverer;
  } = {},
): Promise<Setup> {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-runner-"));
  const sink = await startSink(o.sink ?? {});
  const config = testConfig(
    {
      delivery: {
        mode: "smarthost",
        smartHost: { host: "127.0.0.1", port: sink.port, requireTls: false },
        retrySchedule: [0.3],
        concurrency: 4,
        connectTimeout: 5,
        ...o.delivery,
      },
    },
    dir,
  );
  const store = new SqliteStore({ dataDir: dir });
  const logger = o.logger ?? silentLogger();
  const real = createDeliverer({ config, logger, loopSecret: LOOP_SECRET });
  const deliverer = o.wrap ? o.wrap(real) : real;
  const pipeline = routeAllClean(store);
  const runner = new QueueRunner({ store, config, logger, deliverer, pipeline, nodeId: "test" });
  t.teardown(async () => {
    await runner.stop();
    await deliverer.close();
    await sink.close();
    await store.close();
  });
  return { store, sink, runner, deliverer };
}

async function eventNames(store: Store, queueId: string): Promise<string[]> {
  return (await store.events(queueId)).map((e) => e.name);
}

t.test("451 then 250: the copy waits for the backoff, then is delivered once", async (t) => {
  const { store, sink, runner } = await setup(t, {
    sink: { rcptReply: (_a, n) => (n === 1 ? "451 4.3.0 Try again" : undefined) },
  });
  runner.start();
  const queued = Date.now();
  const id = await store.enqueue(newMessage());
  runner.kick();
  await until("delivery", async () => (await store.getMessage(id))?.state === "done");
  t.ok(Date.now() - queued >= 300, "the retry waited for the schedule");
  t.equal(sink.messages.length, 1, "delivered exactly once");
  t.same(await eventNames(store, id), ["deliver:deferred", "deliver:sent"]);
  const [deferred, sent] = await store.events(id);
  t.match(deferred?.data, { code: 451, status: "4.3.0", attempts: 1 });
  t.match(sent?.data, { code: 250, nextHop: "smarthost.test", tls: "none" });
  const [delivery] = await store.deliveries(id);
  t.match(delivery, { state: "done", attempts: 2 });
});

t.test("a held message past holdRetention is expired by the runner", async (t) => {
  const { store, runner } = await setup(t, { delivery: { holdRetention: 0.05 } });
  const id = await store.enqueue(newMessage());
  await store.holdMessage(id, "quarantine");
  await new Promise((r) => setTimeout(r, 100));
  runner.start();
  await until("expired", async () => (await store.getMessage(id))?.state === "done");
  t.equal((await store.getMessage(id))?.raw, null, "its bytes are cleared");
  const events = await store.events(id);
  t.same(
    events.map((e) => e.name),
    ["pipeline:held", "pipeline:hold-expired", "deliver:dsn"],
  );
  // The hold's notice promised the sender word if it fails: the DSN says it was not sent.
  const dsn = await store.getMessage(String(events[2]?.data?.dsnQueueId));
  t.same(dsn?.envelope, { mailFrom: "", rcptTo: ["alice@sender.test"] });
  t.match(dsn?.raw?.toString("utf8"), /Status: 5\.7\.1/);
  t.match(dsn?.raw?.toString("utf8"), /not released before the hold period ended/);
});

t.test("a message blocked by policy expires without a second DSN", async (t) => {
  const { store, runner } = await setup(t, { delivery: { holdRetention: 0.05 } });
  const id = await store.enqueue(newMessage());
  await store.holdMessage(id, "blocked: rules r");
  await new Promise((r) => setTimeout(r, 100));
  runner.start();
  await until("expired", async () => (await store.getMessage(id))?.state === "done");
  t.same(
    (await store.events(id)).map((e) => e.name),
    ["pipeline:held", "pipeline:hold-expired"],
    "its sender was told it failed when it was blocked",
  );
});

t.test("550 fails the recipient and a DSN reaches the sender from <>", async (t) => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ level: "info", destination });
  const { store, sink, runner } = await setup(t, {
    logger,
    sink: { rcptReply: (a) => (a.startsWith("nobody") ? "550 5.1.1 User unknown" : undefined) },
  });
  runner.start();
  const id = await store.enqueue(newMessage({ to: ["bob@r.test", "nobody@r.test"] }));
  runner.kick();
  await sink.waitForMessages(2);
  const dsn = sink.messages.find((m) => m.mailFrom === "");
  t.ok(dsn, "the DSN was delivered with a null envelope sender");
  t.same(dsn?.rcptTo, ["alice@sender.test"]);
  t.match(dsn?.raw.toString("latin1") ?? "", /Final-Recipient: rfc822; nobody@r\.test/);
  t.match(dsn?.raw.toString("latin1") ?? "", /Diagnostic-Code: smtp; 550 5\.1\.1 User unknown/);

  const events = await store.events(id);
  t.same(
    events.map((e) => [e.name, e.rcpt ?? null]),
    [
      ["deliver:sent", 1],
      ["deliver:bounced", 2],
      ["deliver:dsn", null],
    ],
  );
  t.notMatch(JSON.stringify(events.map((e) => e.data)), /User unknown|@/, "codes, never text");
  const [delivery] = await store.deliveries(id);
  t.match(delivery?.recipients, [
    { address: "bob@r.test", state: "sent" },
    { address: "nobody@r.test", state: "failed", reply: "550 5.1.1 User unknown" },
  ]);

  await runner.stop();
  const log = lines.join("");
  t.match(log, /"event":"deliver:attempt"/, "one summary line per attempt");
  t.match(log, new RegExp(`"queueId":"${id}".*"rcptCount":2.*"code":250`));
  t.notMatch(log, /@r\.test|@sender\.test|Lab results/, "no address or subject in the log");
});

t.test("no DSN is sent for a null sender or about a DSN", async (t) => {
  const { store, sink, runner } = await setup(t, {
    sink: { rcptReply: () => "550 5.1.1 User unknown" },
  });
  runner.start();
  const fromNull = await store.enqueue(newMessage({ from: "" }));
  const aboutDsn = await store.enqueue(newMessage({ from: "x@y.test", origin: "dsn" }));
  runner.kick();
  for (const id of [fromNull, aboutDsn]) {
    await until("bounce", async () => (await store.getMessage(id))?.state === "done");
    t.same(await eventNames(store, id), ["deliver:bounced"], "bounced, no deliver:dsn");
  }
  t.equal((await store.stats()).received + (await store.stats()).routed, 0, "nothing queued");
  t.equal(sink.messages.length, 0);
});

t.test("a copy still deferred after maxLifetime expires with a DSN", async (t) => {
  const { store, sink, runner } = await setup(t, {
    sink: { rcptReply: (a) => (a === "bob@r.test" ? "451 4.2.1 Mailbox busy" : undefined) },
    // Room for several retries even on a loaded machine: the point is retry, then expiry.
    delivery: { maxLifetime: 3, retrySchedule: [0.2, 0.2] },
  });
  runner.start();
  const id = await store.enqueue(newMessage());
  runner.kick();
  await until("expiry", async () => (await eventNames(store, id)).includes("deliver:expired"));
  const names = await eventNames(store, id);
  t.ok(names.filter((n) => n === "deliver:deferred").length >= 2, "retried before expiring");
  t.ok(names.includes("deliver:dsn"), "the sender is told");
  const expired = (await store.events(id)).find((e) => e.name === "deliver:expired");
  t.match(expired?.data, { code: 451, status: "4.2.1" });
  t.ok(Number(expired?.data?.age) >= 1);
  await sink.waitForMessages(1);
  t.match(sink.messages[0]?.raw.toString("latin1") ?? "", /Action: failed\r\nStatus: 5\.2\.1/);
});

t.test("an exception inside an attempt becomes a deferral, not a lost message", async (t) => {
  let calls = 0;
  const { store, sink, runner } = await setup(t, {
    wrap: (real) => ({
      attempt: (d) => (++calls === 1 ? Promise.reject(new TypeError("boom")) : real.attempt(d)),
      close: () => real.close(),
    }),
  });
  runner.start();
  const id = await store.enqueue(newMessage());
  runner.kick();
  await until("delivery", async () => (await store.getMessage(id))?.state === "done");
  t.same(await eventNames(store, id), ["deliver:deferred", "deliver:sent"]);
  t.match((await store.events(id))[0]?.data, { category: "internal", status: "4.3.0" });
  t.equal(sink.messages.length, 1);
});

t.test("stop() waits for the attempt in flight and records it", async (t) => {
  const { store, sink, runner } = await setup(t, { sink: { dataDelayMs: 400 } });
  runner.start();
  const id = await store.enqueue(newMessage());
  runner.kick();
  await until("the attempt to start", async () => sink.connections > 0);
  await runner.stop();
  t.equal((await store.getMessage(id))?.state, "done", "recorded before stop() resolved");
  t.equal(sink.messages.length, 1);
});

t.test("concurrency bounds the attempts in flight", async (t) => {
  let inFlight = 0;
  let peak = 0;
  const { store, runner } = await setup(t, {
    delivery: { concurrency: 2 },
    wrap: (real) => ({
      async attempt(d) {
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 50));
        try {
          return await real.attempt(d);
        } finally {
          inFlight--;
        }
      },
      close: () => real.close(),
    }),
  });
  const ids = await Promise.all([1, 2, 3, 4, 5].map(() => store.enqueue(newMessage())));
  runner.start();
  for (const id of ids) {
    await until("all delivered", async () => (await store.getMessage(id))?.state === "done");
  }
  t.equal(peak, 2, "never more than delivery.concurrency at once");
});
