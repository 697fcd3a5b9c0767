/**
 * Held mail for admins, against both stores: what `sealgate queue held|release|drop` do
 * beneath the CLI. A message quarantined by a real policy rule is listed, released (routed
 * again as the admin decided, never quarantined twice) or dropped (bytes cleared, sender told).
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t, { type Test } from "tap";
import { loadConfig, type Config } from "../gateway/config/index.js";
import { silentLogger } from "../gateway/log.js";
import { createPipeline } from "../gateway/pipeline/index.js";
import { dropHeld, heldFailureDsn, listHeld, releaseHeld } from "../gateway/queue/index.js";
import { openStore } from "../gateway/store/index.js";
import { PostgresStore } from "../gateway/store/postgres.js";
import { SqliteStore } from "../gateway/store/sqlite.js";
import type { NewMessage, Store } from "../gateway/store/types.js";
import { loadPolicy, type PolicyEngine } from "../policy/index.js";
import {
  dropSchema,
  freshSchemaName,
  requirePostgres,
  TEST_DATABASE_URL,
} from "./helpers/postgres.js";

const SENDER = "staff@clinic.example.org";
const RCPTS = ["a@example.net", "b@example.com"];
const SUBJECT = "Quarterly results for the board";

function message(word: string, overrides: Partial<NewMessage> = {}): NewMessage {
  const raw = Buffer.from(
    [
      `From: Staff <${SENDER}>`,
      `To: ${RCPTS.join(", ")}`,
      `Subject: ${SUBJECT}`,
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "",
      `The figures are ${word} until Friday.`,
      "",
    ].join("\r\n"),
  );
  return {
    envelope: { mailFrom: SENDER, rcptTo: RCPTS },
    raw,
    messageId: null,
    connector: "m365",
    clientIp: "127.0.0.1",
    origin: "ingress",
    eightBit: false,
    smtpUtf8: false,
    ...overrides,
  };
}

/** A policy with one quarantine rule and one block rule, each on a keyword. */
async function quarantinePolicy(t: Test): Promise<PolicyEngine> {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-held-policy-"));
  const file = path.join(dir, "policy.yaml");
  writeFileSync(
    file,
    [
      "name: held-test",
      "default: allow",
      "rules:",
      "  - name: board-review",
      "    when: { keywords: [embargoed] }",
      "    then: [quarantine]",
      "  - name: never-send",
      "    when: { keywords: [forbidden] }",
      "    then: [block]",
      "",
    ].join("\n"),
  );
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return loadPolicy(file);
}

type Open = (t: Test) => Promise<{ store: Store; config: Config } | null>;

function configFor(dataDir: string): Config {
  const { config } = loadConfig(null, { dataDir });
  config.delivery.mode = "smarthost";
  config.delivery.smartHost = { host: "relay.example.org", port: 25, requireTls: false };
  return config;
}

const stores: [string, Open][] = [
  [
    "sqlite",
    async (t) => {
      const dataDir = mkdtempSync(path.join(tmpdir(), "sealgate-held-"));
      const store = new SqliteStore({ dataDir });
      t.teardown(async () => {
        await store.close();
        rmSync(dataDir, { recursive: true, force: true });
      });
      return { store, config: configFor(dataDir) };
    },
  ],
  [
    "postgres",
    async (t) => {
      if (!(await requirePostgres(t))) return null;
      const schema = freshSchemaName();
      const store = await PostgresStore.connect({ url: TEST_DATABASE_URL, schema });
      const dataDir = mkdtempSync(path.join(tmpdir(), "sealgate-held-"));
      t.teardown(async () => {
        await store.close();
        await dropSchema(schema);
        rmSync(dataDir, { recursive: true, force: true });
      });
      return { store, config: configFor(dataDir) };
    },
  ],
];

for (const [kind, open] of stores) {
  t.test(`${kind} store`, async (t) => {
    /** A store, a pipeline over the quarantine policy, and a way to run one message through. */
    async function setup(t: Test, opts: { portal?: boolean } = {}) {
      const opened = await open(t);
      if (!opened) return null;
      const { store, config } = opened;
      const engine = await quarantinePolicy(t);
      const pipeline = createPipeline({
        store,
        config,
        logger: silentLogger(),
        policy: () => engine,
        portal: opts.portal ?? true,
      });
      /** Leases every received message and runs it through the pipeline. */
      async function drain() {
        const leased = await store.leaseMessages({ owner: "test", limit: 10, leaseMs: 60_000 });
        for (const m of leased) await pipeline.process(m);
        return leased.map((m) => m.id);
      }
      async function held(word = "embargoed", overrides: Partial<NewMessage> = {}) {
        const id = await store.enqueue(message(word, overrides));
        await drain();
        return id;
      }
      return { store, config, drain, held };
    }

    t.test("a message quarantined by a policy rule is listed as held, newest first", async (t) => {
      const s = await setup(t);
      if (!s) return;
      const first = await s.held();
      await new Promise((r) => setTimeout(r, 5));
      const second = await s.held();
      const list = await listHeld(s.store);
      t.same(
        list.map((m) => m.id),
        [second, first],
        "both are listed, the newer first",
      );
      t.equal(list[0]?.reason, "quarantine", "with the stable reason code");
      t.same(list[0]?.rules, ["board-review"], "and the rule that asked for it");
      t.equal(list[0]?.recipientCount, 2);
      t.equal(list[0]?.connector, "m365");
      const text = JSON.stringify(list);
      for (const phi of [SENDER, ...RCPTS, "Quarterly", "figures"]) {
        t.notOk(text.includes(phi), `the list does not show ${phi}`);
      }
    });

    t.test("a released message is routed encrypted per recipient, not held again", async (t) => {
      const s = await setup(t);
      if (!s) return;
      const id = await s.held();
      t.equal((await s.store.getMessage(id))?.state, "held");

      const result = await releaseHeld(s.store, id, { as: "encrypt", by: "ops-anna" });
      t.same(result, { kind: "done", reason: "quarantine" });
      t.ok((await s.drain()).includes(id), "the pipeline takes it again");

      const after = await s.store.getMessage(id);
      t.equal(after?.state, "routed", "it is routed, not quarantined a second time");
      const deliveries = await s.store.deliveries(id);
      t.ok(deliveries.length > 0, "it has copies");
      for (const d of deliveries) {
        t.not(d.route, "clean", `copy ${d.id} does not travel in clear (${d.route})`);
        t.equal(d.sensitive, true, `copy ${d.id} is marked sensitive`);
      }
      const events = await s.store.events(id);
      const released = events.find((e) => e.name === "pipeline:released");
      t.same(released?.data, { by: "ops-anna", as: "encrypt", reason: "quarantine" });
      const verdicts = events.filter((e) => e.name === "policy:verdict");
      t.equal(verdicts.at(-1)?.data?.released, "encrypt", "the verdict records the release");
      t.equal(verdicts.at(-1)?.data?.action, "encrypt");
      t.equal(events.filter((e) => e.name === "pipeline:held").length, 1, "held only once");
      t.same(await listHeld(s.store), [], "the held list no longer shows it");
    });

    t.test("a message released as clean is routed unchanged on the clean route", async (t) => {
      const s = await setup(t);
      if (!s) return;
      const id = await s.held();
      const result = await releaseHeld(s.store, id, { as: "clean", by: "ops-anna" });
      t.equal(result.kind, "done");
      await s.drain();
      const [copy, ...more] = await s.store.deliveries(id);
      t.same(more, [], "one copy");
      t.equal(copy?.route, "clean");
      t.equal(copy?.sensitive, false);
      t.same(copy?.recipients.map((r) => r.address).sort(), [...RCPTS].sort());
      const [leased] = await s.store.leaseDeliveries({ owner: "t", limit: 1, leaseMs: 60_000 });
      t.same(leased?.raw, message("embargoed").raw, "the bytes are the original's");
      const released = (await s.store.events(id)).find((e) => e.name === "pipeline:released");
      t.equal(released?.data?.as, "clean", "the admin's decision is recorded");
    });

    t.test("a dropped message keeps no bytes and its sender gets a DSN", async (t) => {
      const s = await setup(t);
      if (!s) return;
      const id = await s.held();
      const before = await s.store.events(id);
      const dsnsBefore = before.filter((e) => e.name === "deliver:dsn").length;

      const result = await dropHeld(s.store, id, { by: "ops-anna", config: s.config });
      t.same(result, { kind: "done", reason: "quarantine" });
      const after = await s.store.getMessage(id);
      t.equal(after?.state, "done");
      t.equal(after?.raw, null, "its bytes are gone");
      t.same(await listHeld(s.store), [], "the held list no longer shows it");

      const events = await s.store.events(id);
      t.same(events.find((e) => e.name === "pipeline:dropped")?.data, {
        by: "ops-anna",
        reason: "quarantine",
      });
      const dsnEvents = events.filter((e) => e.name === "deliver:dsn");
      t.equal(dsnEvents.length, dsnsBefore + 1, "one more DSN is queued");
      const dsnId = String(dsnEvents.at(-1)?.data?.dsnQueueId);
      const dsn = await s.store.getMessage(dsnId);
      t.same(dsn?.envelope, { mailFrom: "", rcptTo: [SENDER] }, "to the sender, from <>");
      const text = dsn?.raw?.toString("utf8") ?? "";
      t.match(text, /Action: failed/);
      t.match(text, /Status: 5\.7\.1/);
      t.match(text, /deleted by an administrator/);
      t.match(text, id, "it names the reference");
      t.notOk(/Quarterly|figures/i.test(text), "no subject, no content");
    });

    t.test("unknown ids and messages not held are refused by name", async (t) => {
      const s = await setup(t);
      if (!s) return;
      const unknown = "0000000000000000Z";
      t.same(await releaseHeld(s.store, unknown, { as: "encrypt", by: "a" }), {
        kind: "refused",
        message: `no message ${unknown}`,
      });
      t.same(await dropHeld(s.store, unknown, { by: "a", config: s.config }), {
        kind: "refused",
        message: `no message ${unknown}`,
      });
      const bad = await releaseHeld(s.store, "not-an-id", { as: "encrypt", by: "a" });
      t.same(bad, {
        kind: "refused",
        message: '"not-an-id" is not a queue id (17 letters and digits)',
      });

      const sent = await s.store.enqueue(message("ordinary"));
      await s.drain();
      const refused = await releaseHeld(s.store, sent, { as: "clean", by: "a" });
      t.same(refused, { kind: "refused", message: `message ${sent} is not held (it is routed)` });
      const dropped = await dropHeld(s.store, sent, { by: "a", config: s.config });
      t.equal(dropped.kind, "refused");
      t.equal((await s.store.getMessage(sent))?.state, "routed", "it is left as it was");
    });

    t.test("a message blocked by policy cannot be released, only dropped", async (t) => {
      const s = await setup(t);
      if (!s) return;
      const id = await s.held("forbidden");
      const list = await listHeld(s.store);
      t.equal(list[0]?.reason, "blocked");
      const refused = await releaseHeld(s.store, id, { as: "clean", by: "a" });
      t.equal(refused.kind, "refused");
      t.match(refused.kind === "refused" ? refused.message : "", /blocked by policy/);
      t.equal((await s.store.getMessage(id))?.state, "held");
      const dsns = (await s.store.events(id)).filter((e) => e.name === "deliver:dsn").length;
      t.equal((await dropHeld(s.store, id, { by: "a", config: s.config })).kind, "done");
      const after = (await s.store.events(id)).filter((e) => e.name === "deliver:dsn").length;
      t.equal(after, dsns, "no second DSN: the sender was told it failed when it was blocked");
    });

    t.test("a held message that expires is cleared and its sender told", async (t) => {
      const s = await setup(t);
      if (!s) return;
      const id = await s.held();
      const blocked = await s.held("forbidden");
      const expired = await s.store.expireHeld(new Date(Date.now() + 1000), 10, (m) =>
        heldFailureDsn(m, s.config, "not released before the hold period ended"),
      );
      t.same([...expired].sort(), [id, blocked].sort(), "both expire");
      t.equal((await s.store.getMessage(id))?.raw, null, "their bytes are cleared");
      const names = (await s.store.events(id)).map((e) => e.name);
      t.same(names.slice(-2), ["pipeline:hold-expired", "deliver:dsn"], "the sender is told");
      const blockedNames = (await s.store.events(blocked)).map((e) => e.name);
      t.equal(blockedNames.at(-1), "pipeline:hold-expired", "a blocked one gets no second DSN");
    });

    t.test("a message held for want of a method is routed once one exists", async (t) => {
      const opened = await open(t);
      if (!opened) return;
      const { store, config } = opened;
      const encryptAll: PolicyEngine = {
        name: "encrypt-all",
        evaluate: async () => ({ action: "encrypt", method: "auto", rules: ["x"], findings: [] }),
      };
      const run = async (portal: boolean) => {
        const pipeline = createPipeline({
          store,
          config,
          logger: silentLogger(),
          policy: () => encryptAll,
          portal,
        });
        const leased = await store.leaseMessages({ owner: "t", limit: 10, leaseMs: 60_000 });
        for (const m of leased) await pipeline.process(m);
      };
      // No TLS in the order: with the portal off, nothing can carry the copy.
      config.secure.order = ["smime", "pgp", "portal"];
      const id = await store.enqueue(message("plain"));
      await run(false);
      const heldMsg = await store.getMessage(id);
      t.match(heldMsg?.holdReason, /^method-unavailable/, "held: no method, no portal");

      t.equal((await releaseHeld(store, id, { as: "encrypt", by: "a" })).kind, "done");
      await run(true);
      const deliveries = await store.deliveries(id);
      t.equal((await store.getMessage(id))?.state, "routed");
      t.ok(deliveries.length > 0);
      t.ok(
        deliveries.every((d) => d.route === "portal" && d.sensitive),
        "the portal now carries it",
      );
    });

    t.test("a release keeps the method and passphrase the policy asked for", async (t) => {
      const opened = await open(t);
      if (!opened) return;
      const { store, config } = opened;
      const portalOnly: PolicyEngine = {
        name: "portal-only",
        evaluate: async () => ({
          action: "encrypt",
          method: "portal",
          portalPassphrase: { env: "CASE_PASSPHRASE" },
          portalExpiryDays: 7,
          rules: ["legal-hold"],
          findings: [],
        }),
      };
      const pipeline = createPipeline({
        store,
        config,
        logger: silentLogger(),
        policy: () => portalOnly,
        portal: false,
      });
      const id = await store.enqueue(message("plain"));
      for (const m of await store.leaseMessages({ owner: "t", limit: 10, leaseMs: 60_000 })) {
        await pipeline.process(m);
      }
      t.match((await store.getMessage(id))?.holdReason, /^method-unavailable/);
      t.equal((await releaseHeld(store, id, { as: "encrypt", by: "a" })).kind, "done");
      const [released] = await store.leaseMessages({ owner: "t", limit: 10, leaseMs: 60_000 });
      await pipeline.process(released!);
      const verdicts = (await store.events(id)).filter((e) => e.name === "policy:verdict");
      t.match(verdicts.at(-1)?.data, {
        action: "encrypt",
        method: "portal",
        portalPassphrase: "required",
        portalPassphraseFrom: { env: "CASE_PASSPHRASE" },
        portalExpiryDays: 7,
        released: "encrypt",
      });
    });
  });
}

t.test(
  "a command opening the store beside a running gateway leaves its leases alone",
  async (t) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "sealgate-beside-"));
    const gateway = new SqliteStore({ dataDir });
    t.teardown(async () => {
      await gateway.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    await gateway.enqueue(message("embargoed"));
    const lease = { owner: "gateway", limit: 10, leaseMs: 60_000 };
    t.equal((await gateway.leaseMessages(lease)).length, 1, "the gateway is processing it");

    const command = await openStore(configFor(dataDir), { beside: true });
    await command.close();
    t.same(await gateway.leaseMessages(lease), [], "nobody may take it while the lease runs");
  },
);
