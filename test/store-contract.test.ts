/**
 * One list of behaviours, held against both stores: the embedded SQLite store in a temporary
 * folder and the PostgreSQL store in a fresh schema. Every case gets an empty store.
 */

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import t, { type Test } from "tap";
import { StoreError, type StoreErrorCode } from "../gateway/store/errors.js";
import { PostgresStore } from "../gateway/store/postgres.js";
import { SQLITE_FILE } from "../gateway/store/sqlite-file.js";
import { SqliteStore } from "../gateway/store/sqlite.js";
import type { NewMessage, Store } from "../gateway/store/types.js";
import {
  dropSchema,
  freshSchemaName,
  requirePostgres,
  TEST_DATABASE_URL,
  withClient,
} from "./helpers/postgres.js";

const SENDER = "sender@clinic.example";
const A = "a@example.org";
const B = "b@example.org";
const C = "c@example.net";
const MINUTE = 60_000;

function message(overrides: Partial<NewMessage> = {}): NewMessage {
  return {
    envelope: { mailFrom: SENDER, rcptTo: [A, B, C] },
    raw: Buffer.from("From: sender@clinic.example\r\nSubject: test\r\n\r\nhello\r\n"),
    messageId: `${randomBytes(6).toString("hex")}@clinic.example`,
    connector: "m365",
    clientIp: "127.0.0.1",
    origin: "ingress",
    eightBit: false,
    smtpUtf8: false,
    ...overrides,
  };
}

function dsnFor(rcpt: string): NewMessage {
  return message({ envelope: { mailFrom: "", rcptTo: [rcpt] }, origin: "dsn", messageId: null });
}

const lease = (owner: string, now?: Date) => ({
  owner,
  limit: 10,
  leaseMs: MINUTE,
  ...(now ? { now } : {}),
});

const later = (base: Date, ms: number) => new Date(base.getTime() + ms);

async function rejectsWith(t: Test, work: Promise<unknown>, code: StoreErrorCode) {
  const err = await work.then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof StoreError, `refused with a StoreError (${code})`);
  t.equal((err as StoreError).code, code);
}

/** Enqueues a message and routes it to one delivery for A and B, returning both ids. */
async function routedToOne(store: Store, raw?: Buffer) {
  const queueId = await store.enqueue(message());
  await store.routeMessage(queueId, [
    { recipients: [A, B], route: "tls", nextHop: "example.org", sensitive: true, raw },
  ]);
  const [delivery] = await store.deliveries(queueId);
  if (!delivery) throw new Error("routeMessage stored no delivery");
  return { queueId, deliveryId: delivery.id };
}

/** Every row of one of the store's tables as the database holds it, read around the store. */
type Rows = (
  table: "messages" | "deliveries" | "delivery_recipients" | "events",
) => Promise<Record<string, unknown>[]>;

type Case = [name: string, run: (t: Test, store: Store, rows: Rows) => Promise<void>];

const MARKER = "Potassium 5.9 for Jordan Quillfeather";

/** Whether a row holds the text anywhere, in any column (bytes read as UTF-8). */
function holds(row: Record<string, unknown>, text: string): boolean {
  return Object.values(row).some((v) =>
    Buffer.isBuffer(v)
      ? v.toString("utf8").includes(text)
      : JSON.stringify(v ?? null).includes(text),
  );
}

const cases: Case[] = [
  [
    "an enqueued message comes back byte for byte with its envelope and flags",
    async (t, store) => {
      const raw = Buffer.concat([Buffer.from("Subject: x\r\n\r\n"), Buffer.from([0, 0xff, 0x80])]);
      const sent = message({ raw, eightBit: true, loop: { route: "sensitive", hops: 2 } });
      const id = await store.enqueue(sent);
      const got = await store.getMessage(id);
      t.ok(got, "the message is stored");
      t.ok(got?.raw?.equals(raw), "the bytes are unchanged, 8-bit and NUL included");
      t.same(got?.envelope, sent.envelope);
      t.match(got, { state: "received", origin: "ingress", eightBit: true, smtpUtf8: false });
      t.same(got?.loop, { route: "sensitive", hops: 2 });
      t.equal(await store.getMessage("0000000000000000Z"), null, "an unknown id is null");
    },
  ],
  [
    "a message goes from received through routed to done as its recipients are settled",
    async (t, store) => {
      const original = message();
      const id = await store.enqueue(original);
      t.same(
        (await store.leaseMessages(lease("node-a"))).map((m) => m.id),
        [id],
      );

      const copy = Buffer.from("encrypted copy");
      await store.routeMessage(
        id,
        [
          { recipients: [A, B, A], route: "tls", nextHop: "example.org", sensitive: true },
          { recipients: [C], route: "smime", nextHop: "example.net", sensitive: true, raw: copy },
        ],
        [{ queueId: id, name: "secure:route", recipient: C, data: { route: "smime" } }],
      );
      t.equal((await store.getMessage(id))?.state, "routed");
      t.same(await store.leaseMessages(lease("node-b", later(new Date(), MINUTE))), []);

      const leased = await store.leaseDeliveries(lease("node-a"));
      const tls = leased.find((d) => d.route === "tls");
      const smime = leased.find((d) => d.route === "smime");
      if (!tls || !smime) throw new Error("both deliveries are leased");
      t.same(
        tls.recipients.map((r) => r.address),
        [A, B],
        "recipients once each, in order",
      );
      t.ok(tls.raw.equals(original.raw), "a copy without its own bytes sends the original");
      t.ok(smime.raw.equals(copy), "a copy with its own bytes sends those");
      t.equal(tls.message.id, id);

      const retryAt = later(new Date(), 10 * MINUTE);
      await store.completeDelivery(smime.id, {
        sent: [{ address: C, reply: "250 2.0.0 ok" }],
        failed: [],
        deferred: [],
      });
      await store.completeDelivery(tls.id, {
        sent: [{ address: A, reply: "250 2.0.0 ok" }],
        failed: [],
        deferred: [{ address: B, reply: "451 4.7.1 try later" }],
        nextAttemptAt: retryAt,
      });
      const after = await store.deliveries(id);
      t.match(
        after.find((d) => d.id === smime.id),
        { state: "done", attempts: 1 },
      );
      t.match(
        after.find((d) => d.id === tls.id),
        { state: "pending", attempts: 1 },
      );
      t.equal(after.find((d) => d.id === tls.id)?.nextAttemptAt.getTime(), retryAt.getTime());
      t.same(after.find((d) => d.id === tls.id)?.recipients, [
        { address: A, state: "sent", reply: "250 2.0.0 ok" },
        { address: B, state: "pending", reply: "451 4.7.1 try later" },
      ]);
      t.equal((await store.getMessage(id))?.state, "routed", "routed while B waits");
      t.same(await store.leaseDeliveries(lease("node-b", later(retryAt, -1))), []);

      const retry = await store.leaseDeliveries(lease("node-b", retryAt));
      t.same(
        retry.map((d) => d.id),
        [tls.id],
        "the deferred delivery is due at its time",
      );
      await store.completeDelivery(tls.id, {
        sent: [],
        failed: [{ address: B, reply: "550 5.1.1 no such user" }],
        deferred: [],
      });
      t.equal((await store.getMessage(id))?.state, "done");
      t.match(await store.stats(), { received: 0, routed: 0, done: 1, pendingDeliveries: 0 });
    },
  ],
  [
    "a message routed to no one (every recipient blocked) is done at once",
    async (t, store) => {
      const id = await store.enqueue(message());
      await store.routeMessage(id, []);
      t.equal((await store.getMessage(id))?.state, "done");
      t.same(await store.deliveries(id), []);
    },
  ],
  [
    "a leased message is not leased by another owner until the lease expires",
    async (t, store) => {
      const id = await store.enqueue(message());
      const t0 = new Date();
      t.same(
        (await store.leaseMessages(lease("node-a", t0))).map((m) => m.id),
        [id],
      );
      t.same(await store.leaseMessages(lease("node-b", later(t0, MINUTE / 2))), []);
      t.same(await store.leaseMessages(lease("node-b", later(t0, MINUTE))), [], "not at the end");
      const taken = await store.leaseMessages(lease("node-b", later(t0, MINUTE + 1)));
      t.same(
        taken.map((m) => m.id),
        [id],
        "an expired lease is taken over",
      );
    },
  ],
  [
    "a leased delivery is not leased by another owner until the lease expires",
    async (t, store) => {
      const { deliveryId } = await routedToOne(store);
      const t0 = new Date();
      t.same(
        (await store.leaseDeliveries(lease("node-a", t0))).map((d) => d.id),
        [deliveryId],
      );
      t.same(await store.leaseDeliveries(lease("node-b", later(t0, MINUTE / 2))), []);
      const taken = await store.leaseDeliveries(lease("node-b", later(t0, MINUTE + 1)));
      t.same(
        taken.map((d) => d.id),
        [deliveryId],
      );
    },
  ],
  [
    "leasing honours the limit and hands out the oldest work first",
    async (t, store) => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push(await store.enqueue(message()));
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
      const first = await store.leaseMessages({ ...lease("node-a"), limit: 2 });
      t.same(
        first.map((m) => m.id),
        ids.slice(0, 2),
      );
      const rest = await store.leaseMessages({ ...lease("node-b"), limit: 2 });
      t.same(
        rest.map((m) => m.id),
        ids.slice(2),
      );
    },
  ],
  [
    "deferDelivery sets the next attempt and notes the reason on pending recipients only",
    async (t, store) => {
      const { deliveryId, queueId } = await routedToOne(store);
      await store.leaseDeliveries(lease("node-a"));
      await store.completeDelivery(deliveryId, {
        sent: [{ address: A, reply: "250 ok" }],
        failed: [],
        deferred: [{ address: B, reply: "452 full" }],
      });
      const next = later(new Date(), 5 * MINUTE);
      await store.deferDelivery(deliveryId, {
        reason: "421 4.4.2 connection dropped",
        nextAttemptAt: next,
      });

      const [d] = await store.deliveries(queueId);
      t.match(d, { state: "pending", attempts: 2 });
      t.equal(d?.nextAttemptAt.getTime(), next.getTime());
      t.same(d?.recipients, [
        { address: A, state: "sent", reply: "250 ok" },
        { address: B, state: "pending", reply: "421 4.4.2 connection dropped" },
      ]);
      t.same(await store.leaseDeliveries(lease("node-b")), [], "not due before its time");
      t.equal((await store.leaseDeliveries(lease("node-b", next))).length, 1);
    },
  ],
  [
    "nextDue reports the earliest pending work, and null when there is none",
    async (t, store) => {
      t.equal(await store.nextDue(), null, "an empty store has nothing due");
      const id = await store.enqueue(message());
      t.ok((await store.nextDue())!.getTime() <= Date.now(), "a new message is due now");

      const t0 = new Date();
      await store.leaseMessages(lease("node-a", t0));
      t.equal((await store.nextDue())?.getTime(), t0.getTime() + MINUTE, "due when leased out");

      await store.routeMessage(id, [
        { recipients: [A], route: "clean", nextHop: "example.org", sensitive: false },
      ]);
      t.ok((await store.nextDue())!.getTime() <= Date.now(), "a new delivery is due now");
      const t1 = new Date();
      const [delivery] = await store.leaseDeliveries(lease("node-a", t1));
      t.equal((await store.nextDue())?.getTime(), t1.getTime() + MINUTE, "due when its lease ends");
      const retryAt = later(t1, 30 * MINUTE);
      await store.deferDelivery(delivery!.id, { reason: "421 busy", nextAttemptAt: retryAt });
      t.equal((await store.nextDue())?.getTime(), retryAt.getTime(), "due at the retry");

      await store.completeDelivery(delivery!.id, {
        sent: [{ address: A, reply: "250 ok" }],
        failed: [],
        deferred: [],
      });
      t.equal(await store.nextDue(), null, "nothing left");
    },
  ],
  [
    "findMessages finds by queue id in any case and by Message-ID with or without brackets",
    async (t, store) => {
      const mid = "4f2a.91@clinic.example";
      const first = await store.enqueue(message({ messageId: mid }));
      const resent = await store.enqueue(message({ messageId: mid }));
      await store.enqueue(message());

      const byQueueId = await store.findMessages(first.toLowerCase());
      t.same(
        byQueueId.map((m) => m.id),
        [first],
      );
      t.match(byQueueId[0], { messageId: mid, state: "received", recipientCount: 3 });
      t.equal(byQueueId[0]?.holdReason, null);

      const both = [first, resent].sort();
      t.same((await store.findMessages(mid)).map((m) => m.id).sort(), both);
      t.same((await store.findMessages(`<${mid}>`)).map((m) => m.id).sort(), both);
      t.same((await store.findMessages(` <${mid}> `)).map((m) => m.id).sort(), both);
      t.same(await store.findMessages("nobody@nowhere.example"), []);
    },
  ],
  [
    "enqueue with received data records the smtp:received event with the message",
    async (t, store) => {
      const id = await store.enqueue(message(), { size: 123, recipients: 2, connector: "m365" });
      const events = await store.events(id);
      t.same(
        events.map((e) => [e.name, e.data]),
        [["smtp:received", { size: 123, recipients: 2, connector: "m365" }]],
      );
      t.same(await store.events(await store.enqueue(message())), [], "without it, no event");
    },
  ],
  [
    "events come back in the order they were recorded, for their message only",
    async (t, store) => {
      const id = await store.enqueue(message());
      const other = await store.enqueue(message());
      const names = [
        "smtp:received",
        "pipeline:parsed",
        "policy:verdict",
        "secure:route",
        "deliver:sent",
      ] as const;
      for (const [i, name] of names.entries()) {
        await store.recordEvent({ queueId: id, name, data: { step: i, nested: { ok: true } } });
        await store.recordEvent({ queueId: other, name: "smtp:received" });
      }
      await store.recordEvent({ queueId: id, name: "deliver:sent", recipient: B });

      const events = await store.events(id);
      t.same(
        events.map((e) => e.name),
        [...names, "deliver:sent"],
      );
      t.same(events[2]?.data, { step: 2, nested: { ok: true } });
      t.equal(events[5]?.rcpt, 2, "the recipient is named by its position in the envelope");
      t.equal(events[5]?.data, undefined);
      t.ok(
        events.every((e, i) => i === 0 || e.id > events[i - 1]!.id),
        "ids increase",
      );
      t.ok(events.every((e) => e.at instanceof Date && e.queueId === id));
    },
  ],
  [
    "holdMessage keeps the message out of delivery and queues the DSN with it",
    async (t, store) => {
      const id = await store.enqueue(message());
      await store.leaseMessages(lease("node-a"));
      await store.holdMessage(id, "cannot parse", dsnFor(SENDER));

      t.match(await store.getMessage(id), { state: "held", holdReason: "cannot parse" });
      const events = await store.events(id);
      t.same(
        events.map((e) => e.name),
        ["pipeline:held", "deliver:dsn"],
      );
      const dsnId = events[1]?.data?.dsnQueueId as string;
      t.match(await store.getMessage(dsnId), { origin: "dsn", state: "received" });
      t.equal((await store.getMessage(dsnId))?.envelope.mailFrom, "");

      const next = await store.leaseMessages(lease("node-b", later(new Date(), 2 * MINUTE)));
      t.same(
        next.map((m) => m.id),
        [dsnId],
        "only the DSN waits for the pipeline",
      );
      t.match(await store.stats(), { held: 1, received: 1 });
    },
  ],
  [
    "a hold whose DSN cannot be stored is not recorded at all",
    async (t, store) => {
      const id = await store.enqueue(message());
      const broken = { ...dsnFor(SENDER), raw: null as unknown as Buffer };
      await t.rejects(store.holdMessage(id, "cannot parse", broken));
      t.equal((await store.getMessage(id))?.state, "received");
      t.same(await store.events(id), []);
      t.match(await store.stats(), { received: 1, held: 0 });
    },
  ],
  [
    "a failed recipient's DSN is queued in the same transaction as the failure",
    async (t, store) => {
      const { queueId, deliveryId } = await routedToOne(store);
      const failed = [{ address: B, reply: "550 5.1.1 no such user" }];
      const sent = [{ address: A, reply: "250 ok" }];
      const broken = { ...dsnFor(SENDER), raw: null as unknown as Buffer };
      await t.rejects(
        store.completeDelivery(deliveryId, { sent, failed, deferred: [], dsn: broken }),
      );
      t.same(
        (await store.deliveries(queueId))[0]?.recipients.map((r) => r.state),
        ["pending", "pending"],
        "without its DSN the failure is not recorded",
      );

      await store.completeDelivery(deliveryId, { sent, failed, deferred: [], dsn: dsnFor(SENDER) });
      const events = await store.events(queueId);
      t.same(
        events.map((e) => e.name),
        ["deliver:dsn"],
      );
      const dsn = await store.getMessage(events[0]?.data?.dsnQueueId as string);
      t.match(dsn, { origin: "dsn", state: "received" });
      t.equal((await store.getMessage(queueId))?.state, "done");
    },
  ],
  [
    "a routing that fails half way leaves the message waiting with no deliveries",
    async (t, store) => {
      const id = await store.enqueue(message());
      const plan = { recipients: [A], route: "tls" as const, nextHop: "x", sensitive: true };
      const bad = { queueId: id, name: "secure:route" as const, data: { n: 1n } };
      await t.rejects(store.routeMessage(id, [plan], [bad]));
      t.equal((await store.getMessage(id))?.state, "received");
      t.same(await store.deliveries(id), []);
      t.same(await store.events(id), []);
    },
  ],
  [
    "routing a message twice is refused, so a slow worker cannot send it again",
    async (t, store) => {
      const { queueId } = await routedToOne(store);
      const plan = { recipients: [A], route: "tls" as const, nextHop: "x", sensitive: true };
      await rejectsWith(t, store.routeMessage(queueId, [plan]), "STORE_CONFLICT");
      t.equal((await store.deliveries(queueId)).length, 1, "no second delivery");
    },
  ],
  [
    "NUL characters from a hostile peer are stored, not turned into an error",
    async (t, store) => {
      const id = await store.enqueue(message({ messageId: "bad\0id@clinic.example" }));
      t.ok(await store.getMessage(id), "the message is queued");
      await store.routeMessage(id, [
        { recipients: [A], route: "clean", nextHop: "example.org", sensitive: false },
      ]);
      const [delivery] = await store.leaseDeliveries(lease("node-a"));
      const reply = "550 5.1.1 no\0 such user";
      await store.completeDelivery(delivery!.id, {
        sent: [],
        failed: [{ address: A, reply }],
        deferred: [],
      });
      await store.recordEvent({ queueId: id, name: "deliver:bounced", data: { reply } });
      const [after] = await store.deliveries(id);
      t.equal(after?.recipients[0]?.state, "failed");
      t.match(after?.recipients[0]?.reply, /^550 5\.1\.1 no.? such user$/);
      t.match((await store.events(id))[0]?.data, { reply: /^550 5\.1\.1 no.? such user$/ });
    },
  ],
  [
    "a message's bytes and its copies' are cleared when its last copy settles, not before",
    async (t, store, rows) => {
      const body = Buffer.from(`Subject: labs\r\n\r\n${MARKER}\r\n`);
      const id = await store.enqueue(message({ raw: body }));
      const copy = Buffer.from(`encrypted-ish copy: ${MARKER}`);
      await store.routeMessage(id, [
        { recipients: [A], route: "tls", nextHop: "example.org", sensitive: true, raw: copy },
        { recipients: [C], route: "clean", nextHop: "example.net", sensitive: false },
      ]);
      const [tls, clean] = await store.leaseDeliveries(lease("node-a"));
      if (!tls || !clean) throw new Error("both copies are leased");
      t.ok(tls.raw.equals(copy) && clean.raw.equals(body), "leased copies carry their bytes");

      await store.completeDelivery(tls.id, {
        sent: [{ address: A, reply: "250 ok" }],
        failed: [],
        deferred: [],
      });
      const settled = (await rows("deliveries")).find((d) => Number(d.id) === tls.id);
      t.equal(settled?.raw, null, "a settled copy's own bytes go at once");
      t.ok((await store.getMessage(id))?.raw?.equals(body), "the original stays while C waits");

      await store.completeDelivery(clean.id, {
        sent: [],
        failed: [],
        deferred: [{ address: C, reply: "451 later" }],
        nextAttemptAt: new Date(),
      });
      const [retry] = await store.leaseDeliveries(lease("node-a", later(new Date(), 1)));
      t.ok(retry?.raw.equals(body), "a deferred copy is retried with the original bytes");
      await store.completeDelivery(clean.id, {
        sent: [],
        failed: [{ address: C, reply: "550 no" }],
        deferred: [],
      });
      const done = await store.getMessage(id);
      t.match(done, { state: "done", raw: null }, "done: the original's bytes are cleared");
      const all = [...(await rows("messages")), ...(await rows("deliveries"))];
      t.notOk(
        all.some((r) => holds(r, MARKER)),
        "no row of messages or deliveries holds the text",
      );
      t.same(await store.leaseDeliveries(lease("node-b", later(new Date(), 10 * MINUTE))), []);
    },
  ],
  [
    "a held message keeps its bytes and a message routed to no one is cleared",
    async (t, store) => {
      const body = Buffer.from(`Subject: x\r\n\r\n${MARKER}\r\n`);
      const held = await store.enqueue(message({ raw: body }));
      await store.holdMessage(held, "quarantine: rules no-ssn-out");
      t.ok((await store.getMessage(held))?.raw?.equals(body), "held: the bytes wait for release");

      const nobody = await store.enqueue(message({ raw: body }));
      await store.routeMessage(nobody, []);
      t.match(await store.getMessage(nobody), { state: "done", raw: null });
    },
  ],
  [
    "a held message past its retention has its bytes cleared and is done, with an event",
    async (t, store) => {
      const body = Buffer.from(`Subject: x\r\n\r\n${MARKER}\r\n`);
      const old = await store.enqueue(message({ raw: body }));
      await store.holdMessage(old, "quarantine");
      await new Promise((resolve) => setTimeout(resolve, 5));
      const cutoff = new Date();
      await new Promise((resolve) => setTimeout(resolve, 5));
      const recent = await store.enqueue(message({ raw: body }));
      await store.holdMessage(recent, "quarantine");
      const waiting = await store.enqueue(message({ raw: body }));

      t.same(await store.expireHeld(cutoff, 10), [old], "only the held one older than the cutoff");
      t.match(await store.getMessage(old), { state: "done", raw: null, holdReason: "quarantine" });
      t.match(await store.getMessage(recent), { state: "held", raw: body });
      t.match(await store.getMessage(waiting), { state: "received", raw: body });
      const events = await store.events(old);
      t.same(
        events.map((e) => e.name),
        ["pipeline:held", "pipeline:hold-expired"],
      );
      t.type(events[1]?.data?.age, "number");
      t.same(await store.expireHeld(cutoff, 10), [], "and only once");
    },
  ],
  [
    "a message without bytes is refused",
    async (t, store) => {
      const broken = { ...message(), raw: null as unknown as Buffer };
      await rejectsWith(t, store.enqueue(broken), "STORE_INVALID");
    },
  ],
  [
    "events name a recipient by its envelope position and the rows hold no address",
    async (t, store, rows) => {
      const id = await store.enqueue(message());
      await store.routeMessage(
        id,
        [{ recipients: [A, B, C], route: "tls", nextHop: "example.org", sensitive: true }],
        [{ queueId: id, name: "secure:route", recipient: C, data: { route: "tls" } }],
      );
      await store.recordEvent({ queueId: id, name: "portal:viewed", recipient: B.toUpperCase() });
      await store.recordEvent({ queueId: id, name: "deliver:sent", recipient: "x@elsewhere.test" });
      await store.recordEvent({
        queueId: "portal-accounts",
        name: "portal:sign-in-failed",
        recipient: A,
      });
      const events = await store.events(id);
      t.same(
        events.map((e) => [e.name, e.rcpt ?? null]),
        [
          ["secure:route", 3],
          ["portal:viewed", 2],
          ["deliver:sent", null],
        ],
        "exact first, then ignoring case; an address not in the envelope is no recipient",
      );
      const stored = await rows("events");
      t.equal(stored.length, 4);
      t.notOk(
        stored.some((r) =>
          [A, B, C, "x@elsewhere.test"].some((a) =>
            JSON.stringify(Object.values(r)).toLowerCase().includes(a),
          ),
        ),
        "no column of any event row holds an address",
      );
    },
  ],
  [
    "replies and deferral reasons are stored without the addresses they quote",
    async (t, store) => {
      const { queueId, deliveryId } = await routedToOne(store);
      await store.completeDelivery(deliveryId, {
        sent: [{ address: A, reply: "250 2.1.5 <a@example.org> ok" }],
        failed: [],
        deferred: [{ address: B, reply: "450 4.2.1 <b@example.org>: mailbox busy" }],
      });
      const next = later(new Date(), MINUTE);
      await store.deferDelivery(deliveryId, {
        reason: "421 4.4.2 b@example.org: dropped",
        nextAttemptAt: next,
      });
      t.same(
        (await store.deliveries(queueId))[0]?.recipients.map((r) => r.reply),
        ["250 2.1.5 <…> ok", "421 4.4.2 … dropped"],
      );
    },
  ],
  [
    "an attempt's events are recorded with its outcome or deferral, or not at all",
    async (t, store) => {
      const { queueId, deliveryId } = await routedToOne(store);
      const sent = (q: string) => ({ queueId: q, name: "deliver:sent" as const, recipient: A });
      const broken = { ...dsnFor(SENDER), raw: null as unknown as Buffer };
      await t.rejects(
        store.completeDelivery(deliveryId, {
          sent: [{ address: A, reply: "250 ok" }],
          failed: [{ address: B, reply: "550 no" }],
          deferred: [],
          dsn: broken,
          events: [sent(queueId)],
        }),
      );
      t.same(await store.events(queueId), [], "an outcome that fails records no event");

      const bad = { queueId, name: "deliver:deferred" as const, data: { n: 1n } };
      const next = later(new Date(), MINUTE);
      await t.rejects(
        store.deferDelivery(deliveryId, { reason: "421", nextAttemptAt: next, events: [bad] }),
      );
      t.match((await store.deliveries(queueId))[0], { attempts: 0 }, "nor is the deferral");

      const deferred = {
        queueId,
        name: "deliver:deferred" as const,
        recipient: B,
        data: { code: 421 },
      };
      await store.deferDelivery(deliveryId, {
        reason: "421",
        nextAttemptAt: next,
        events: [deferred],
      });
      await store.completeDelivery(deliveryId, {
        sent: [{ address: A, reply: "250 ok" }],
        failed: [],
        deferred: [],
        events: [sent(queueId)],
      });
      t.same(
        (await store.events(queueId)).map((e) => [e.name, e.rcpt, e.data]),
        [
          ["deliver:deferred", 2, { code: 421 }],
          ["deliver:sent", 1, undefined],
        ],
      );
    },
  ],
  [
    "calls about an unknown message or delivery are refused as not found",
    async (t, store) => {
      const nobody = "00000000000000000";
      await rejectsWith(t, store.routeMessage(nobody, []), "STORE_NOT_FOUND");
      await rejectsWith(t, store.holdMessage(nobody, "x"), "STORE_NOT_FOUND");
      const none = { sent: [], failed: [], deferred: [] };
      await rejectsWith(t, store.completeDelivery(999_999, none), "STORE_NOT_FOUND");
      const deferral = { reason: "x", nextAttemptAt: new Date() };
      await rejectsWith(t, store.deferDelivery(999_999, deferral), "STORE_NOT_FOUND");
      t.same(await store.events(nobody), [], "and nothing was recorded");
    },
  ],
];

interface Backend {
  kind: "sqlite" | "postgres";
  available(t: Test): Promise<boolean>;
  /** An empty store, its rows read around it, and how to remove what it left once closed. */
  open(): Promise<{ store: Store; rows: Rows; remove: () => Promise<void> }>;
}

const backends: Backend[] = [
  {
    kind: "sqlite",
    available: async () => true,
    async open() {
      const dir = mkdtempSync(path.join(tmpdir(), "sealgate-store-"));
      const remove = async () => rmSync(dir, { recursive: true, force: true });
      const rows: Rows = async (table) => {
        const db = new Database(path.join(dir, SQLITE_FILE), { readonly: true });
        try {
          return db.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[];
        } finally {
          db.close();
        }
      };
      return { store: new SqliteStore({ dataDir: dir }), rows, remove };
    },
  },
  {
    kind: "postgres",
    available: requirePostgres,
    async open() {
      const schema = freshSchemaName();
      const remove = () => dropSchema(schema);
      const rows: Rows = (table) =>
        withClient(async (c) => (await c.query(`SELECT * FROM "${schema}".${table}`)).rows);
      const store = await PostgresStore.connect({ url: TEST_DATABASE_URL, schema });
      return { store, rows, remove };
    },
  },
];

for (const backend of backends) {
  t.test(`the ${backend.kind} store`, async (t) => {
    if (!(await backend.available(t))) return;
    for (const [name, run] of cases) {
      await t.test(name, async (t) => {
        const { store, rows, remove } = await backend.open();
        t.teardown(async () => {
          await store.close();
          await remove();
        });
        await run(t, store, rows);
      });
    }
  });
}
