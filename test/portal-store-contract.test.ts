/**
 * One list of behaviours of the portal tables, held against both stores: the embedded SQLite
 * store in a temporary folder and the PostgreSQL store in a fresh schema. Every case gets an
 * empty store. The store keeps what it is given; the rules live in gateway/portal.
 */

import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t, { type Test } from "tap";
import { PostgresPortalStore } from "../gateway/store/portal-postgres.js";
import { SqlitePortalStore } from "../gateway/store/portal-sqlite.js";
import type { PortalMessageRecord, PortalStore } from "../gateway/store/portal-types.js";
import {
  dropSchema,
  freshSchemaName,
  requirePostgres,
  TEST_DATABASE_URL,
} from "./helpers/postgres.js";

const A = "a@example.org";
const B = "b@example.org";
const SENDER = "sender@clinic.example";
const MINUTE = 60_000;
const DAY = 86_400_000;
/** Whole milliseconds: both stores keep them exactly. */
const T0 = new Date("2030-01-01T09:00:00.000Z");

const at = (ms: number) => new Date(T0.getTime() + ms);
const hex = () => randomBytes(16).toString("hex");

function record(overrides: Partial<PortalMessageRecord> = {}): PortalMessageRecord {
  return {
    id: hex(),
    queueId: `Q${hex()}`,
    owner: A,
    direction: "received",
    counterpart: SENDER,
    counterpartName: "Dr Sender",
    subject: null,
    tokenHash: hex(),
    createdAt: T0,
    expiresAt: at(30 * DAY),
    wrappedKey: `sgk1.${hex()}`,
    body: randomBytes(64),
    passphraseHash: null,
    inReplyTo: null,
    ...overrides,
  };
}

type Case = [name: string, run: (t: Test, store: PortalStore) => Promise<void>];

const cases: Case[] = [
  [
    "a stored message comes back with every field and its body byte for byte",
    async (t, store) => {
      const body = Buffer.from([0, 0xff, 0x80, 0x0d, 0x0a]);
      const m = record({ subject: "Follow-up", body, passphraseHash: "scrypt$x" });
      await store.putMessage(m);
      const got = await store.getMessage(m.id);
      t.same(got, { ...m, revokedAt: null, revokedBy: null, openedAt: null });
      t.ok(got?.body?.equals(body), "the sealed bytes are unchanged, NUL and 8-bit included");
      t.equal(await store.getMessage(hex()), null, "an unknown id is null");
    },
  ],
  [
    "storing the same id again replaces its token hash and body and keeps one row",
    async (t, store) => {
      const first = record();
      await store.putMessage(first);
      const retry = { ...first, tokenHash: hex(), body: randomBytes(64), wrappedKey: "sgk1.new" };
      await store.putMessage(retry);

      const got = await store.getMessage(first.id);
      t.equal(got?.tokenHash, retry.tokenHash);
      t.ok(got?.body?.equals(retry.body ?? Buffer.alloc(0)), "the new body replaced the old");
      t.equal(got?.wrappedKey, "sgk1.new");
      t.equal(await store.messageByToken(first.tokenHash ?? ""), null, "the old token is gone");
      t.equal((await store.listMessages()).length, 1, "still one row");
    },
  ],
  [
    "findReceived finds the received row of a queue id and owner, never a sent one",
    async (t, store) => {
      const received = record();
      const sent = record({ queueId: received.queueId, direction: "sent", tokenHash: null });
      await store.putMessage(sent);
      await store.putMessage(received);
      t.equal((await store.findReceived(received.queueId, A))?.id, received.id);
      t.equal(await store.findReceived(received.queueId, B), null, "another owner: none");
      t.equal(await store.findReceived("Qother", A), null, "another queue id: none");
    },
  ],
  [
    "messageByToken finds the row by its token hash",
    async (t, store) => {
      const m = record();
      await store.putMessage(m);
      t.equal((await store.messageByToken(m.tokenHash ?? ""))?.id, m.id);
      t.equal(await store.messageByToken(hex()), null, "an unknown hash is null");
    },
  ],
  [
    "listMessages lists newest first, one inbox with owner, without body or key",
    async (t, store) => {
      const old = record({ createdAt: at(-DAY) });
      const mid = record({ owner: B });
      const fresh = record({ createdAt: at(DAY), direction: "sent", tokenHash: null });
      for (const m of [mid, fresh, old]) await store.putMessage(m);

      const all = await store.listMessages();
      t.same(
        all.map((m) => m.id),
        [fresh.id, mid.id, old.id],
        "newest first",
      );
      t.ok(
        all.every((m) => m.body === null && m.wrappedKey === null),
        "no row carries its body or key",
      );
      t.same(
        (await store.listMessages({ owner: A })).map((m) => m.id),
        [fresh.id, old.id],
        "only A's inbox, received and sent",
      );
      t.same(
        (await store.listMessages({ limit: 1 })).map((m) => m.id),
        [fresh.id],
      );
    },
  ],
  [
    "hasMessagesFor is true only for an address that received a message",
    async (t, store) => {
      await store.putMessage(record({ owner: B, direction: "sent", tokenHash: null }));
      t.equal(await store.hasMessagesFor(B), false, "a sent reply alone does not count");
      await store.putMessage(record());
      t.equal(await store.hasMessagesFor(A), true);
      t.equal(await store.hasMessagesFor("nobody@example.org"), false);
    },
  ],
  [
    "markOpened is true only the first time and keeps the first time",
    async (t, store) => {
      const m = record();
      await store.putMessage(m);
      t.equal(await store.markOpened(m.id, at(MINUTE)), true, "the first view");
      t.equal(await store.markOpened(m.id, at(2 * MINUTE)), false, "a later view");
      t.same((await store.getMessage(m.id))?.openedAt, at(MINUTE));
      t.equal(await store.markOpened(hex(), at(MINUTE)), false, "an unknown id");
    },
  ],
  [
    "revoke deletes body and key, records who and when, and is false the second time",
    async (t, store) => {
      const m = record();
      await store.putMessage(m);
      t.equal(await store.revoke(m.id, "admin", at(MINUTE)), true);
      const got = await store.getMessage(m.id);
      t.match(got, { body: null, wrappedKey: null, revokedBy: "admin", owner: A });
      t.same(got?.revokedAt, at(MINUTE));
      t.equal(await store.revoke(m.id, "other", at(2 * MINUTE)), false, "already revoked");
      t.equal((await store.getMessage(m.id))?.revokedBy, "admin", "the first revocation holds");
      t.equal(await store.revoke(hex(), "admin", at(MINUTE)), false, "an unknown id");
    },
  ],
  [
    "deleteExpiredBodies clears only rows expired by now and returns their ids",
    async (t, store) => {
      const now = at(30 * DAY);
      const past = record({ expiresAt: at(DAY) });
      const exactly = record({ expiresAt: now });
      const future = record({ expiresAt: at(31 * DAY) });
      const revoked = record({ expiresAt: at(DAY) });
      for (const m of [past, exactly, future, revoked]) await store.putMessage(m);
      await store.revoke(revoked.id, "admin", at(MINUTE));

      const gone = await store.deleteExpiredBodies(now);
      const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
      t.same(
        gone.sort(byId),
        [past, exactly].map((m) => ({ id: m.id, queueId: m.queueId })).sort(byId),
        "the expired rows with a body; not the future one, not the revoked one",
      );
      t.match(await store.getMessage(past.id), { body: null, wrappedKey: null, owner: A });
      const kept = await store.getMessage(future.id);
      t.ok(kept?.body?.equals(future.body ?? Buffer.alloc(0)), "the future body is untouched");
      t.equal(kept?.wrappedKey, future.wrappedKey);
      t.same(await store.deleteExpiredBodies(now), [], "a second sweep finds nothing");
    },
  ],
  [
    "recordFailure counts, locks at the limit and then counts from zero again",
    async (t, store) => {
      const lockUntil = at(15 * MINUTE);
      t.same(await store.recordFailure(A, "code", 3, lockUntil), {
        failures: 1,
        lockedUntil: null,
      });
      t.same(await store.recordFailure(A, "code", 3, lockUntil), {
        failures: 2,
        lockedUntil: null,
      });
      t.match(await store.getAccount(A), {
        codeFailures: 2,
        passwordFailures: 0,
        locks: { code: null, password: null, passphrase: null },
      });

      const third = await store.recordFailure(A, "code", 3, lockUntil);
      t.equal(third.failures, 3, "the failure that reached the limit");
      t.same(third.lockedUntil, lockUntil, "locked until the given time");
      t.match(await store.getAccount(A), { codeFailures: 0, passwordHash: null });
      t.same((await store.getAccount(A))?.locks.code, lockUntil);
      t.same((await store.getAccount(A))?.locks.password, null, "only codes are locked");

      const next = await store.recordFailure(A, "code", 3, at(60 * MINUTE));
      t.same(next, { failures: 1, lockedUntil: null }, "the counter starts again");
      t.same((await store.getAccount(A))?.locks.code, lockUntil, "the lock stays as it was");
      t.same(await store.recordFailure(A, "password", 3, lockUntil), {
        failures: 1,
        lockedUntil: null,
      });
      t.equal(await store.getAccount(B), null, "no account for an address never seen");
    },
  ],
  [
    "recordFailure at a limit of one locks on the first failure",
    async (t, store) => {
      const first = await store.recordFailure(B, "password", 1, at(MINUTE));
      t.same(first, { failures: 1, lockedUntil: at(MINUTE) });
    },
  ],
  [
    "clearFailures resets one kind's counter and leaves the other",
    async (t, store) => {
      const lockUntil = at(MINUTE);
      await store.recordFailure(A, "code", 5, lockUntil);
      await store.recordFailure(A, "password", 5, lockUntil);
      await store.recordFailure(A, "password", 5, lockUntil);
      await store.clearFailures(A, "password");
      t.match(await store.getAccount(A), { codeFailures: 1, passwordFailures: 0 });
      await store.clearFailures(B, "code");
      t.equal(await store.getAccount(B), null, "clearing an unknown address creates nothing");
    },
  ],
  [
    "setPassword creates the account, and on an existing one clears failures and lock",
    async (t, store) => {
      const unlocked = { code: null, password: null, passphrase: null };
      await store.setPassword(B, "scrypt$new");
      t.same(await store.getAccount(B), {
        address: B,
        passwordHash: "scrypt$new",
        codeFailures: 0,
        passwordFailures: 0,
        passphraseFailures: 0,
        locks: unlocked,
      });

      await store.recordFailure(A, "password", 1, at(MINUTE));
      await store.recordFailure(A, "code", 5, at(MINUTE));
      await store.setPassword(A, "scrypt$a");
      t.same(await store.getAccount(A), {
        address: A,
        passwordHash: "scrypt$a",
        codeFailures: 0,
        passwordFailures: 0,
        passphraseFailures: 0,
        locks: unlocked,
      });
    },
  ],
  [
    "each kind of failure has its own lock",
    async (t, store) => {
      await store.recordFailure(A, "password", 1, at(MINUTE));
      t.match(await store.getAccount(A), { locks: { password: at(MINUTE), code: null } });
      await store.recordFailure(A, "passphrase", 1, at(2 * MINUTE));
      t.same((await store.getAccount(A))?.locks, {
        code: null,
        password: at(MINUTE),
        passphrase: at(2 * MINUTE),
      });
    },
  ],
  [
    "countCodeMail allows max mails per window and a new window after it",
    async (t, store) => {
      const hour = 60 * MINUTE;
      const results = [];
      for (let i = 0; i < 4; i++)
        results.push(await store.countCodeMail(A, at(i * MINUTE), hour, 3));
      t.same(results, [true, true, true, false], "the fourth within the hour is refused");
      t.equal(await store.countCodeMail(B, at(3 * MINUTE), hour, 3), true, "per address");
      t.equal(await store.countCodeMail(A, at(59 * MINUTE), hour, 3), false, "still the window");
      t.equal(await store.countCodeMail(A, at(hour), hour, 3), true, "a new window at the hour");
      t.equal(await store.countCodeMail(A, at(hour + MINUTE), hour, 3), true);
    },
  ],
  [
    "deleteSessionsFor ends the address's other sessions and their unlocks",
    async (t, store) => {
      const s = (address: string) => ({
        idHash: hex(),
        address,
        csrfToken: "c",
        createdAt: T0,
        expiresAt: at(DAY),
      });
      const [keep, other, third, bs] = [s(A), s(A), s(A), s(B)];
      for (const x of [keep, other, third, bs]) await store.putSession(x);
      await store.putUnlock(other.idHash, "m1", at(DAY));
      await store.putUnlock(keep.idHash, "m1", at(DAY));
      t.equal(await store.deleteSessionsFor(A, keep.idHash), 2, "two other sessions ended");
      t.equal(await store.getSession(other.idHash), null);
      t.equal(await store.getSession(third.idHash), null);
      t.ok(await store.getSession(keep.idHash), "the kept one stays");
      t.ok(await store.getSession(bs.idHash), "another address's stays");
      t.equal(await store.isUnlocked(other.idHash, "m1", T0), false, "its unlock went with it");
      t.equal(await store.isUnlocked(keep.idHash, "m1", T0), true);
      t.equal(await store.deleteSessionsFor(B), 1, "without a kept one, all go");
    },
  ],
  [
    "an unlock holds for its session and message until it expires",
    async (t, store) => {
      const session = hex();
      await store.putUnlock(session, "m1", at(MINUTE));
      t.equal(await store.isUnlocked(session, "m1", T0), true);
      t.equal(await store.isUnlocked(session, "m2", T0), false, "not another message");
      t.equal(await store.isUnlocked(hex(), "m1", T0), false, "not another session");
      t.equal(await store.isUnlocked(session, "m1", at(MINUTE)), false, "not after it expires");
      await store.putUnlock(session, "m1", at(DAY));
      t.equal(await store.isUnlocked(session, "m1", at(MINUTE)), true, "a new unlock extends it");
      await store.deleteSession(session);
      t.equal(await store.isUnlocked(session, "m1", T0), false, "signing out removes it");
    },
  ],
  [
    "a code is stored, replaced, marked verified and deleted",
    async (t, store) => {
      const code = { address: A, purpose: "register" as const, codeHash: "h1", verifiedAt: null };
      await store.putCode({ ...code, expiresAt: at(15 * MINUTE) });
      t.same(await store.getCode(A), { ...code, expiresAt: at(15 * MINUTE) });

      await store.markCodeVerified(A, at(MINUTE));
      t.same((await store.getCode(A))?.verifiedAt, at(MINUTE));

      const reset = { ...code, purpose: "reset" as const, codeHash: "h2", expiresAt: at(DAY) };
      await store.putCode({ ...reset, verifiedAt: at(MINUTE) });
      t.same(await store.getCode(A), { ...reset, verifiedAt: null }, "a new code is unverified");

      await store.deleteCode(A);
      t.equal(await store.getCode(A), null);
      t.equal(await store.getCode(B), null, "an address without a code");
    },
  ],
  [
    "sessions are stored, read and deleted; expired sessions and codes are swept",
    async (t, store) => {
      const live = {
        idHash: hex(),
        address: A,
        csrfToken: "c1",
        createdAt: T0,
        expiresAt: at(DAY),
      };
      const old = { ...live, idHash: hex(), csrfToken: "c2", expiresAt: at(MINUTE) };
      await store.putSession(live);
      await store.putSession(old);
      t.same(await store.getSession(live.idHash), live);
      t.equal(await store.getSession(hex()), null, "an unknown session is null");

      const code = { address: B, purpose: "register" as const, codeHash: "h", verifiedAt: null };
      await store.putCode({ ...code, expiresAt: at(MINUTE) });
      await store.putCode({ ...code, address: A, expiresAt: at(DAY) });
      t.equal(await store.deleteExpiredSessions(at(MINUTE)), 2, "one session and one code");
      t.equal(await store.getSession(old.idHash), null);
      t.equal(await store.getCode(B), null);
      t.ok(await store.getSession(live.idHash), "the live session stays");
      t.ok(await store.getCode(A), "the live code stays");

      await store.deleteSession(live.idHash);
      t.equal(await store.getSession(live.idHash), null, "a signed-out session is gone");
    },
  ],
];

interface Backend {
  kind: "sqlite" | "postgres";
  available(t: Test): Promise<boolean>;
  /** An empty store, and how to remove what it left behind once it is closed. */
  open(): Promise<{ store: PortalStore; remove: () => Promise<void> }>;
}

const backends: Backend[] = [
  {
    kind: "sqlite",
    available: async () => true,
    async open() {
      const dir = mkdtempSync(path.join(tmpdir(), "sealgate-portal-"));
      const remove = async () => rmSync(dir, { recursive: true, force: true });
      return { store: new SqlitePortalStore({ dataDir: dir }), remove };
    },
  },
  {
    kind: "postgres",
    available: requirePostgres,
    async open() {
      const schema = freshSchemaName();
      const remove = () => dropSchema(schema);
      const store = await PostgresPortalStore.connect({ url: TEST_DATABASE_URL, schema });
      return { store, remove };
    },
  },
];

for (const backend of backends) {
  t.test(`the ${backend.kind} portal store`, async (t) => {
    if (!(await backend.available(t))) return;
    for (const [name, run] of cases) {
      await t.test(name, async (t) => {
        const { store, remove } = await backend.open();
        t.teardown(async () => {
          await store.close();
          await remove();
        });
        t.equal(store.kind, backend.kind);
        await run(t, store);
      });
    }
  });
}

t.test("the sqlite portal tables opened first still make a private folder and file", async (t) => {
  const previous = process.umask(0o022);
  t.teardown(() => void process.umask(previous));
  const dir = path.join(mkdtempSync(path.join(tmpdir(), "sealgate-portal-")), "data");
  const store = new SqlitePortalStore({ dataDir: dir });
  t.teardown(async () => {
    await store.close();
    rmSync(path.dirname(dir), { recursive: true, force: true });
  });
  await store.putMessage(record());
  const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);
  t.equal(mode(dir), "700", "the data folder is 0700");
  t.equal(mode(path.join(dir, "sealgate.db")), "600", "the database is 0600");
});

t.test("sqlite: a revoked or expired body and key leave no bytes in the file or WAL", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-portal-"));
  const store = new SqlitePortalStore({ dataDir: dir });
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const marks = ["Kestrel", "Marten"].map((w) => `${w}-${randomBytes(8).toString("hex")}`);
  const rows = marks.map((mark) =>
    record({
      // A stand-in for a sealed body: large enough to need overflow pages, and easy to find.
      body: Buffer.from(`${mark} `.repeat(2000)),
      wrappedKey: `sgk1.${mark}-key`,
      expiresAt: at(DAY),
    }),
  );
  for (const r of rows) await store.putMessage(r);
  const [revoked, expired] = rows;
  await store.revoke(revoked?.id ?? "", "admin", at(MINUTE));
  await store.deleteExpiredBodies(at(DAY));
  t.match(await store.getMessage(expired?.id ?? ""), { body: null, wrappedKey: null });
  const file = path.join(dir, "sealgate.db");
  const bytes = Buffer.concat(
    [file, `${file}-wal`].map((f) => (existsSync(f) ? readFileSync(f) : Buffer.alloc(0))),
  );
  for (const mark of marks) {
    t.notOk(bytes.includes(mark), `no trace of ${mark.split("-")[0]}'s body or key on disk`);
  }
});
