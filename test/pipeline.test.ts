import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t, { type Test } from "tap";
import { loadConfig, type Config } from "../gateway/config/index.js";
import { silentLogger } from "../gateway/log.js";
import { createPipeline } from "../gateway/pipeline/index.js";
import { SqliteStore, type NewMessage, type Store } from "../gateway/store/index.js";
import { loadPolicy, type PolicyEngine, type Verdict } from "../policy/index.js";

function message(subject: string, body: string, rcptTo: string[]): NewMessage {
  const raw = Buffer.from(
    [
      "From: Staff <staff@clinic.example.org>",
      `To: ${rcptTo.join(", ")}`,
      `Subject: ${subject}`,
      "Message-ID: <pipeline-test@clinic.example.org>",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "",
      body,
      "",
    ].join("\r\n"),
  );
  return {
    envelope: { mailFrom: "staff@clinic.example.org", rcptTo },
    raw,
    messageId: "pipeline-test@clinic.example.org",
    connector: "loopback",
    clientIp: "127.0.0.1",
    origin: "ingress",
    eightBit: false,
    smtpUtf8: false,
  };
}

async function setup(
  t: Test,
  policy?: PolicyEngine,
  mode: Config["delivery"]["mode"] = "smarthost",
) {
  const dataDir = mkdtempSync(path.join(tmpdir(), "sealgate-pipeline-"));
  const { config } = loadConfig(null, { dataDir });
  config.delivery.mode = mode;
  config.delivery.smartHost = { host: "relay.example.org", port: 25, requireTls: false };
  const store: Store = new SqliteStore({ dataDir });
  t.teardown(() => store.close());
  const engine = policy ?? (await defaultPolicy);
  const pipeline = createPipeline({ store, config, logger: silentLogger(), policy: () => engine });
  async function run(m: NewMessage) {
    const id = await store.enqueue(m);
    const [leased] = await store.leaseMessages({ owner: "test", limit: 1, leaseMs: 60_000 });
    if (!leased) throw new Error("nothing leased");
    await pipeline.process(leased);
    return { id, deliveries: await store.deliveries(id), events: await store.events(id) };
  }
  return { store, run };
}

/** The shipped default policy, loaded once for the whole file. */
const defaultPolicy = loadPolicy();

class FixedPolicy implements PolicyEngine {
  readonly name = "fixed";
  constructor(readonly verdict: Verdict | Error) {}
  async evaluate(): Promise<Verdict> {
    if (this.verdict instanceof Error) throw this.verdict;
    return this.verdict;
  }
}

t.test("a clean message goes out on the clean route to every recipient", async (t) => {
  const { run } = await setup(t);
  const r = await run(message("Lunch", "Pizza at noon.", ["a@example.net", "b@example.com"]));
  t.equal(r.deliveries.length, 1);
  t.equal(r.deliveries[0]?.route, "clean");
  t.equal(r.deliveries[0]?.sensitive, false);
  t.same(r.deliveries[0]?.recipients.map((x) => x.address).sort(), [
    "a@example.net",
    "b@example.com",
  ]);
});

t.test("the [secure] subject tag routes the message as sensitive over verified TLS", async (t) => {
  const { run } = await setup(t);
  const r = await run(message("[secure] referral", "See attached.", ["a@example.net"]));
  t.equal(r.deliveries[0]?.route, "tls");
  t.equal(r.deliveries[0]?.sensitive, true);
  const verdict = r.events.find((e) => e.name === "policy:verdict");
  t.same(verdict?.data?.rules, ["secure-subject-tag"]);
});

t.test(
  "a valid SSN in the body makes the message sensitive; the event holds no value",
  async (t) => {
    const { run } = await setup(t);
    const r = await run(message("Claim", "Member SSN 345-67-8901, thanks.", ["a@example.net"]));
    t.equal(r.deliveries[0]?.route, "tls");
    const json = JSON.stringify(r.events);
    t.notMatch(json, /345-?67-?8901/, "no event carries the matched SSN");
    t.notMatch(json, /Claim/, "no event carries the subject");
  },
);

t.test("an invalid or sample SSN does not make a message sensitive", async (t) => {
  const { run } = await setup(t);
  const r = await run(
    message("Numbers", "000-12-3456 and 078-05-1120 and 666-12-3456", ["a@x.test"]),
  );
  t.equal(r.deliveries[0]?.route, "clean");
});

t.test("in mx mode each recipient domain gets its own copy", async (t) => {
  const { run } = await setup(t, undefined, "mx");
  const r = await run(message("Hi", "Hello", ["a@one.test", "b@two.test", "c@ONE.test"]));
  t.same(r.deliveries.map((d) => d.nextHop).sort(), ["one.test", "two.test"]);
});

t.test("when the policy cannot decide, the message is held and the sender is told", async (t) => {
  const { store, run } = await setup(t, new FixedPolicy(new Error("boom")));
  const r = await run(message("Hi", "Hello", ["a@example.net"]));
  t.equal(r.deliveries.length, 0, "nothing is delivered");
  const msg = await store.getMessage(r.id);
  t.equal(msg?.state, "held");
  t.match(msg?.holdReason, /policy-failed/);
  const dsn = r.events.find((e) => e.name === "deliver:dsn");
  t.ok(dsn, "a notice to the sender was queued");
  const notice = await store.getMessage(String(dsn?.data?.dsnQueueId));
  t.same(notice?.envelope.rcptTo, ["staff@clinic.example.org"]);
  t.equal(notice?.envelope.mailFrom, "");
});

t.test(
  "a block verdict delivers nothing and bounces the policy's text to the sender",
  async (t) => {
    const { store, run } = await setup(
      t,
      new FixedPolicy({
        action: "block",
        rules: ["no-ssn-out"],
        findings: [],
        blockText: "Not allowed",
      }),
    );
    const r = await run(message("Hi", "Hello", ["a@example.net"]));
    t.equal(r.deliveries.length, 0);
    const dsnId = r.events.find((e) => e.name === "deliver:dsn")?.data?.dsnQueueId;
    const dsn = await store.getMessage(String(dsnId));
    t.match(dsn?.raw?.toString(), /Not allowed/);
    t.match(dsn?.raw?.toString(), /5\.7\.1/);
  },
);

t.test(
  "a method that is not available holds the copy instead of sending it in clear",
  async (t) => {
    const { store, run } = await setup(
      t,
      new FixedPolicy({
        action: "encrypt",
        method: "portal",
        rules: ["portal-only"],
        findings: [],
      }),
    );
    const r = await run(message("Hi", "Hello", ["a@example.net"]));
    t.equal(r.deliveries.length, 0);
    t.equal((await store.getMessage(r.id))?.state, "held");
  },
);

t.test("a message that came back with a valid stamp keeps its sensitive route", async (t) => {
  const { run } = await setup(t);
  const m = message("Lunch", "Nothing sensitive here.", ["a@example.net"]);
  m.loop = { route: "sensitive", hops: 1 };
  const r = await run(m);
  t.equal(r.deliveries[0]?.route, "tls", "the earlier sensitive verdict is not relaxed");
  t.ok(r.events.some((e) => e.name === "pipeline:loop"));
});

t.test("notify-sender tells the sender the rules and counts but never the value", async (t) => {
  const { store, run } = await setup(
    t,
    new FixedPolicy({
      action: "encrypt",
      method: "auto",
      rules: ["identifiers"],
      findings: [{ detector: "us-ssn", count: 2, confidence: "high" }],
      notifySender: true,
    }),
  );
  const r = await run(message("Claim for Jordan", "SSN 345-67-8901", ["a@example.net"]));
  const id = r.events.find((e) => e.name === "pipeline:notice")?.data?.noticeQueueId;
  const notice = await store.getMessage(String(id));
  t.same(notice?.envelope.rcptTo, ["staff@clinic.example.org"]);
  const text = notice?.raw?.toString() ?? "";
  t.match(text, /us-ssn: 2 found \(high confidence\)/);
  t.match(text, /identifiers/);
  t.notMatch(text, /345-67-8901|Jordan/, "neither the value nor the subject is in the notice");
});

t.test("a clean loop stamp does not let a message skip scanning", async (t) => {
  const { run } = await setup(t);
  const m = message("Re: lunch", "Member SSN 345-67-8901", ["a@example.net"]);
  m.loop = { route: "clean", hops: 1 };
  const r = await run(m);
  t.equal(r.deliveries[0]?.route, "tls", "PHI under a reused clean stamp is still found");
});

/** A note with a ZIP attachment whose bytes are not a ZIP: nobody can read what it holds. */
function withCorruptZip(rcptTo: string[]): NewMessage {
  const m = message("Files", "", rcptTo);
  const head = m.raw.toString().split("\r\n\r\n")[0] ?? "";
  const zip = Buffer.concat([Buffer.from("PK\x03\x04"), Buffer.alloc(200, 0x5a)]);
  m.raw = Buffer.from(
    [
      head.replace(
        "Content-Type: text/plain; charset=utf-8",
        'Content-Type: multipart/mixed; boundary="b1"',
      ),
      "",
      "--b1",
      "Content-Type: text/plain; charset=utf-8",
      "",
      "The files you asked for.",
      "--b1",
      'Content-Type: application/zip; name="files.zip"',
      "Content-Transfer-Encoding: base64",
      'Content-Disposition: attachment; filename="files.zip"',
      "",
      zip.toString("base64"),
      "--b1--",
      "",
    ].join("\r\n"),
  );
  return m;
}

async function allowByDefaultPolicy(t: Test, extraRules = ""): Promise<PolicyEngine> {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-floor-"));
  const file = path.join(dir, "policy.yaml");
  writeFileSync(
    file,
    [
      "name: allow-by-default",
      "default: allow",
      "rules:",
      "  - name: identifiers",
      "    when: { detector: us-ssn, confidence: medium }",
      "    then: [encrypt]",
      extraRules,
    ].join("\n"),
  );
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return loadPolicy(file);
}

t.test(
  "a part that cannot be scanned is held, not released by a policy whose default is allow",
  async (t) => {
    const { store, run } = await setup(t, await allowByDefaultPolicy(t));
    const r = await run(withCorruptZip(["a@example.net"]));
    t.equal(r.deliveries.length, 0, "nothing is delivered");
    const msg = await store.getMessage(r.id);
    t.equal(msg?.state, "held");
    t.match(msg?.holdReason, /quarantine: rules builtin:unscannable-not-released/);
    const verdict = r.events.find((e) => e.name === "policy:verdict");
    t.equal(verdict?.data?.action, "quarantine");
    t.ok(
      r.events.some((e) => e.name === "deliver:dsn"),
      "the sender is told",
    );
  },
);

t.test("a rule that fires may still allow a message with an unscannable part", async (t) => {
  const internal = [
    "  - name: internal",
    "    when: { recipient: [example.net] }",
    "    then: [allow]",
  ].join("\n");
  const { run } = await setup(t, await allowByDefaultPolicy(t, internal));
  const r = await run(withCorruptZip(["a@example.net"]));
  t.equal(r.deliveries.length, 1);
  t.equal(r.deliveries[0]?.route, "clean");
});
