/**
 * The portal core over a real embedded store: a sensitive copy routed "portal" is sealed into
 * the portal tables and a notice queued; the recipient signs up with a mailed code, reads,
 * replies; admins revoke; the sweep expires. The clock is injected so tests can move it.
 */

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { simpleParser } from "mailparser";
import t, { type Test } from "tap";
import { loadConfig, type Config } from "../gateway/config/index.js";
import { EVENT_NAMES } from "../gateway/events.js";
import { createLogger } from "../gateway/log.js";
import { ACCOUNT_EVENTS_ID, PortalCore } from "../gateway/portal/core.js";
import { openBody } from "../gateway/portal/crypto.js";
import type { ReplyRequest } from "../gateway/portal/service.js";
import { en, type Strings } from "../gateway/portal/web/strings.js";
import { SqlitePortalStore } from "../gateway/store/portal-sqlite.js";
import { SqliteStore } from "../gateway/store/sqlite.js";
import type { StoredEvent, StoredMessage } from "../gateway/store/types.js";

const SENDER = "dr.ruiz@clinic.test";
const PATIENT = "jordan.q@patient.test";
const OTHER = "sam.k@patient.test";
const NURSE = "nurse@clinic.test";
const SUBJECT = "Potassium result for Jordan";
const SSN = "345-67-8901";
const BODY = `Your potassium was 5.9 mmol/L. Patient SSN ${SSN}.`;
const PASSWORD = "correct horse battery staple";
const WRONG = "wrong password here";
const MINUTE = 60_000;
const DAY = 86_400_000;
const PDF = Buffer.concat([Buffer.from("%PDF-1.4\n"), randomBytes(2000)]);
/** What must never show outside the sealed body and the reply itself. */
const CONTENT = /potassium|345-67-8901|mmol/i;

const ORIGINAL = Buffer.from(
  `From: Dr Ana Ruiz <${SENDER}>
To: ${PATIENT}, Sam K <${OTHER}>
Cc: ${NURSE}
Subject: ${SUBJECT}
Message-ID: <orig-1@clinic.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

${BODY}
`.replace(/\n/g, "\r\n"),
  "latin1",
);

async function setup(t: Test, tune: (config: Config) => void = () => undefined) {
  const dataDir = mkdtempSync(path.join(tmpdir(), "sealgate-portal-core-"));
  const { config } = loadConfig(null, { dataDir });
  config.portal.baseUrl = "https://portal.clinic.test/";
  tune(config);
  const queue = new SqliteStore({ dataDir });
  const portal = new SqlitePortalStore({ dataDir });
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  const logger = createLogger({ level: "trace", destination });
  const kek = randomBytes(32);
  const clock = { now: new Date() };
  const core = new PortalCore({ portal, queue, config, kek, logger, now: () => clock.now });
  t.teardown(async () => {
    await portal.close();
    await queue.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Enqueues the original, routes it to the portal for these recipients, delivers it. */
  async function deliverTo(recipients: string[], verdict?: Record<string, unknown>) {
    const queueId = await queue.enqueue({
      envelope: { mailFrom: SENDER, rcptTo: recipients },
      raw: ORIGINAL,
      messageId: "orig-1@clinic.test",
      connector: "m365",
      clientIp: "127.0.0.1",
      origin: "ingress",
      eightBit: false,
      smtpUtf8: false,
    });
    if (verdict) await queue.recordEvent({ queueId, name: "policy:verdict", data: verdict });
    const plan = { recipients, route: "portal" as const, nextHop: "portal", sensitive: true };
    await queue.routeMessage(queueId, [plan]);
    const leased = await queue.leaseDeliveries({ owner: "test", limit: 10, leaseMs: MINUTE });
    const delivery = leased.find((d) => d.queueId === queueId);
    if (!delivery) throw new Error("the routed copy was not leased");
    const result = await core.deliver(delivery);
    const ids = await Promise.all(recipients.map((r) => portal.findReceived(queueId, r)));
    return { queueId, delivery, result, portalIds: ids.map((m) => m?.id ?? "") };
  }

  /** Mail queued since the last call (notices, codes, replies), each message once. */
  const queued = () => queue.leaseMessages({ owner: "outbox", limit: 100, leaseMs: DAY });

  const advance = (ms: number) => (clock.now = new Date(clock.now.getTime() + ms));
  return { core, queue, portal, kek, config, clock, advance, logs: lines, deliverTo, queued };
}

type Harness = Awaited<ReturnType<typeof setup>>;

async function textOf(m: StoredMessage): Promise<string> {
  return (await simpleParser(m.raw)).text ?? "";
}

async function codeIn(m: StoredMessage): Promise<string> {
  const code = /Your code is (\d{8})/.exec(await textOf(m))?.[1];
  if (!code) throw new Error("no code in the code mail");
  return code;
}

/** Asks for a code and reads it from the one mail it queued. */
async function mailedCode(h: Harness, address: string): Promise<string> {
  await h.core.sendCode(address, "register");
  const [mail, ...more] = await h.queued();
  if (!mail || more.length > 0) throw new Error("sendCode did not queue exactly one mail");
  return codeIn(mail);
}

async function signUp(h: Harness, address: string): Promise<void> {
  const code = await mailedCode(h, address);
  await h.core.verifyCode(address, code);
  await h.core.setPassword(address, PASSWORD);
}

const named = (events: StoredEvent[], name: string) => events.filter((e) => e.name === name);
/** The data of each event of this name recorded for the queue id. */
const dataOf = async (h: Harness, queueId: string, name: string) =>
  named(await h.queue.events(queueId), name).map((e) => e.data);

t.test("a portal copy is stored sealed: unreadable without the key-encryption key", async (t) => {
  const h = await setup(t);
  const { result, portalIds } = await h.deliverTo([PATIENT]);
  t.match(result, { kind: "replies", recipients: [{ address: PATIENT, kind: "accepted" }] });

  const row = await h.portal.getMessage(portalIds[0] ?? "");
  const sealed = { wrappedKey: row?.wrappedKey ?? "", body: row?.body ?? Buffer.alloc(0) };
  t.ok(sealed.body.length > BODY.length, "a body is stored");
  t.notMatch(sealed.body.toString("latin1"), CONTENT, "the stored body holds no message text");
  t.notOk(sealed.body.includes(SUBJECT), "nor the subject");
  t.equal(row?.subject, null, "the subject is not kept by default");
  t.ok(openBody(sealed, row?.id ?? "", h.kek).equals(ORIGINAL), "the KEK opens the original");
  t.throws(() => openBody(sealed, row?.id ?? "", randomBytes(32)), "another KEK cannot open it");
  t.throws(() => openBody(sealed, "0".repeat(32), h.kek), "nor can the body on another row");
});

t.test("each recipient gets a notice with a link and none of the message", async (t) => {
  const h = await setup(t);
  const { queueId, delivery, portalIds } = await h.deliverTo([PATIENT, OTHER]);
  const notices = await h.queued();
  t.equal(notices.length, 2, "one notice per recipient");
  const links: string[] = [];
  for (const [i, address] of [PATIENT, OTHER].entries()) {
    const notice = notices.find((n) => n.envelope.rcptTo.join() === address);
    t.match(notice, { origin: "notice", envelope: { mailFrom: "" } }, `a notice to ${address}`);
    const raw = notice?.raw.toString("latin1") ?? "";
    const text = notice ? await textOf(notice) : "";
    t.notMatch(raw, CONTENT, "the notice holds no body text");
    t.notOk(raw.includes(SUBJECT), "nor the subject");
    t.match(raw, /^Subject: Secure message\r$/m, "its subject is the neutral one");
    const token = /https:\/\/portal\.clinic\.test\/m\/([A-Za-z0-9_-]{43})\b/.exec(text)?.[1];
    t.ok(token, "the notice links to /m/<token> under the base URL");
    t.same(await h.core.resolveToken(token ?? ""), { portalId: portalIds[i], address });
    links.push(token ?? "");
  }
  t.not(links[0], links[1], "each recipient has a link of their own");
  t.equal(await h.core.resolveToken("not-a-token"), null);

  await h.core.deliver(delivery);
  const retried = await h.queued();
  const ids = await Promise.all([PATIENT, OTHER].map((r) => h.portal.findReceived(queueId, r)));
  t.same(
    ids.map((m) => m?.id),
    portalIds,
    "a retry keeps the portal ids",
  );
  t.equal((await h.portal.listMessages()).length, 2, "and stores no second copy");
  const again = await Promise.all(retried.map(textOf));
  t.ok(
    links.every((token) => again.some((text) => text.includes(`/m/${token}`))),
    "the retried notices carry the same links",
  );
});

t.test("a recipient signs up with a mailed code and then signs in with a password", async (t) => {
  const h = await setup(t);
  await h.deliverTo([PATIENT]);
  await h.queued();

  await h.core.sendCode("stranger@example.org", "register");
  t.same(await h.queued(), [], "an address with no portal mail gets no code");
  const notVerified = { name: "PortalError", code: "PORTAL_NOT_VERIFIED" };
  await t.rejects(h.core.setPassword(PATIENT, PASSWORD), notVerified, "no code entered yet");

  await h.core.sendCode(` ${PATIENT.toUpperCase()} `, "register");
  const [mail, ...more] = await h.queued();
  t.equal(more.length, 0, "one code mail");
  t.match(mail, { origin: "notice", envelope: { rcptTo: [PATIENT] } });
  const code = mail ? await codeIn(mail) : "";
  t.same(await h.core.verifyCode(PATIENT, code), { kind: "ok" });
  t.equal(await h.core.accountStatus(PATIENT), "new");
  await t.rejects(h.core.setPassword(PATIENT, "short"), { code: "PORTAL_WEAK_PASSWORD" });
  await h.core.setPassword(PATIENT, PASSWORD);
  t.equal(await h.core.accountStatus(PATIENT), "active");
  t.same(await h.core.verifyPassword(PATIENT, PASSWORD), { kind: "ok" });
  t.match(await h.core.verifyPassword(PATIENT, `${PASSWORD}!`), { kind: "wrong", remaining: 4 });
  t.same(await h.core.verifyPassword(OTHER, PASSWORD), { kind: "no-account" });
  t.equal(named(await h.queue.events(ACCOUNT_EVENTS_ID), "portal:password-set").length, 1);
});

t.test("a code works once, and only within its lifetime", async (t) => {
  const h = await setup(t);
  await h.deliverTo([PATIENT]);
  await h.queued();
  const code = await mailedCode(h, PATIENT);
  t.same(await h.core.verifyCode(PATIENT, code), { kind: "ok" });
  t.match(await h.core.verifyCode(PATIENT, code), { kind: "wrong" }, "the second use fails");

  h.advance(16 * MINUTE);
  await t.rejects(h.core.setPassword(PATIENT, PASSWORD), { code: "PORTAL_NOT_VERIFIED" });
  const late = await mailedCode(h, PATIENT);
  h.advance(16 * MINUTE);
  t.match(await h.core.verifyCode(PATIENT, late), { kind: "wrong" }, "an expired code fails");
});

t.test("five wrong codes lock the address until lockMinutes have passed", async (t) => {
  const h = await setup(t, (c) => void (c.portal.codeTtlMinutes = 60));
  await h.deliverTo([PATIENT]);
  await h.queued();
  const code = await mailedCode(h, PATIENT);
  const wrong = code === "00000000" ? "11111111" : "00000000";
  for (const remaining of [4, 3, 2, 1]) {
    t.same(await h.core.verifyCode(PATIENT, wrong), { kind: "wrong", remaining });
  }
  const until = new Date(h.clock.now.getTime() + 15 * MINUTE);
  t.same(await h.core.verifyCode(PATIENT, wrong), { kind: "locked", until }, "the fifth locks");
  t.same(await h.core.verifyCode(PATIENT, code), { kind: "locked", until }, "even the right code");
  await h.core.sendCode(PATIENT, "register");
  t.same(await h.queued(), [], "no new code while locked");
  const failed = await dataOf(h, ACCOUNT_EVENTS_ID, "portal:sign-in-failed");
  t.same(failed.map((d) => d?.locked).join(), "false,false,false,false,true", "recorded");
  const ref = h.core.accountRef(PATIENT);
  t.match(ref, /^acct-[A-Za-z0-9_-]{16}$/);
  t.ok(
    failed.every((d) => d?.account === ref),
    "each failure names the account by its reference",
  );
  t.equal(h.core.accountRef(PATIENT.toUpperCase()), ref, "whatever the case of the address");
  t.not(h.core.accountRef("someone.else@patient.test"), ref);
  t.notMatch(JSON.stringify(failed), new RegExp(PATIENT.split("@")[0] ?? "", "i"), "no address");

  h.advance(14 * MINUTE);
  t.match(await h.core.verifyCode(PATIENT, code), { kind: "locked" }, "still locked at 14 min");
  h.advance(2 * MINUTE);
  t.same(await h.core.verifyCode(PATIENT, code), { kind: "ok" }, "the code works again");
});

t.test("five wrong passwords lock the address until lockMinutes have passed", async (t) => {
  const h = await setup(t);
  await h.deliverTo([PATIENT]);
  await h.queued();
  await signUp(h, PATIENT);
  for (let i = 0; i < 4; i++) await h.core.verifyPassword(PATIENT, WRONG);
  t.match(await h.core.verifyPassword(PATIENT, WRONG), { kind: "locked" });
  t.match(await h.core.verifyPassword(PATIENT, PASSWORD), { kind: "locked" }, "right one too");
  h.advance(16 * MINUTE);
  t.same(await h.core.verifyPassword(PATIENT, PASSWORD), { kind: "ok" }, "it works again");
  const again = await h.core.verifyPassword(PATIENT, WRONG);
  t.same(again, { kind: "wrong", remaining: 4 }, "and the count started again");
});

t.test("a session opens only its own address's messages, byte for byte", async (t) => {
  const h = await setup(t);
  const { queueId, portalIds } = await h.deliverTo([PATIENT, OTHER]);
  const [mine = "", theirs = ""] = portalIds;
  const session = await h.core.createSession(` ${PATIENT.toUpperCase()}`);
  const info = await h.core.getSession(session.sessionId);
  t.match(info, { address: PATIENT, csrfToken: session.csrfToken });
  const address = info?.address ?? "";

  t.same(await h.core.open(theirs, address), { kind: "not-found" }, "not another's message");
  t.same(await h.core.open(randomBytes(16).toString("hex"), address), { kind: "not-found" });
  const opened = await h.core.open(mine, address);
  t.equal(opened.kind, "ok");
  t.ok(opened.kind === "ok" && opened.raw.equals(ORIGINAL), "the exact original bytes");
  await h.core.open(mine, address);
  await h.core.open(mine, address, { view: false });
  const events = await h.queue.events(queueId);
  t.equal(named(events, "portal:viewed").length, 2, "two views; the frame is not one");
  t.equal(named(events, "portal:opened").length, 1, "opened once");
  const inbox = (await h.core.inbox(address)).map((m) => m.portalId);
  t.same(inbox, [mine], "the inbox lists only the address's own message");

  h.advance(13 * 3_600_000);
  t.equal(await h.core.getSession(session.sessionId), null, "the session ends after 12 hours");
  const next = await h.core.createSession(PATIENT);
  await h.core.endSession(next.sessionId);
  t.equal(await h.core.getSession(next.sessionId), null, "a signed-out session is gone");
});

t.test("a revoked message cannot be read, and its body and key are gone", async (t) => {
  const h = await setup(t);
  const { queueId, delivery, portalIds } = await h.deliverTo([PATIENT]);
  const id = portalIds[0] ?? "";
  t.equal(await h.core.revoke(id, "admin"), "revoked");
  t.match(await h.core.open(id, PATIENT), { kind: "revoked", meta: { status: "revoked" } });
  t.match(await h.portal.getMessage(id), { body: null, wrappedKey: null, revokedBy: "admin" });
  const revoked = await dataOf(h, queueId, "portal:revoked");
  t.same(revoked, [{ portalId: id, by: "admin" }], "a portal:revoked event names who");
  t.equal(await h.core.revoke(id, "admin"), "already-revoked");
  t.equal(await h.core.revoke("f".repeat(32), "admin"), "not-found");

  await h.core.deliver(delivery);
  t.match(await h.portal.getMessage(id), { body: null }, "a retried delivery does not restore it");
  t.match(await h.core.open(id, PATIENT), { kind: "revoked" });
});

t.test("after expiryDays a message reads as expired and the sweep deletes it", async (t) => {
  const h = await setup(t);
  const { queueId, portalIds } = await h.deliverTo([PATIENT]);
  const id = portalIds[0] ?? "";
  h.advance(30 * DAY - MINUTE);
  t.equal(await h.core.sweepExpired(), 0, "nothing expires early");
  t.equal((await h.core.open(id, PATIENT)).kind, "ok");

  h.advance(MINUTE);
  t.match(await h.core.open(id, PATIENT), { kind: "expired", meta: { status: "expired" } });
  t.match(await h.core.inbox(PATIENT), [{ portalId: id, status: "expired" }]);
  t.equal(await h.core.sweepExpired(), 1);
  t.match(await h.portal.getMessage(id), { body: null, wrappedKey: null, owner: PATIENT });
  const expired = await dataOf(h, queueId, "portal:expired");
  t.same(expired, [{ portalId: id }], "a portal:expired event");
  t.equal(await h.core.sweepExpired(), 0, "a second sweep finds nothing");
});

t.test("a policy's portalExpiryDays gives the copy a shorter life", async (t) => {
  const h = await setup(t);
  const verdict = { action: "encrypt", method: "portal", portalExpiryDays: 3 };
  const { portalIds } = await h.deliverTo([PATIENT], verdict);
  const id = portalIds[0] ?? "";
  const stored = await h.portal.getMessage(id);
  t.equal(
    (stored?.expiresAt.getTime() ?? 0) - (stored?.createdAt.getTime() ?? 0),
    3 * DAY,
    "it expires three days after it was stored, not portal.expiryDays",
  );
  h.advance(3 * DAY);
  t.equal((await h.core.open(id, PATIENT)).kind, "expired");
});

t.test("a reply goes to the sender, threaded, with its attachment and a sent copy", async (t) => {
  const h = await setup(t);
  const { portalIds } = await h.deliverTo([PATIENT]);
  await h.queued();
  const id = portalIds[0] ?? "";
  const plain = { portalId: id, replyAll: false, text: "x", attachments: [] };
  const reply = (address: string, o: Partial<ReplyRequest> = {}) =>
    h.core.submitReply({ ...plain, address, ...o });
  h.advance(MINUTE);
  const attachments = [{ filename: "scan.pdf", contentType: "application/pdf", content: PDF }];
  const sent = await reply(PATIENT, { text: "Thank you, doctor.", attachments });
  if (sent.kind !== "queued") throw new Error(`the reply was not queued: ${sent.kind}`);

  const queued = await h.queue.getMessage(sent.queueId);
  t.match(queued, { origin: "portal", envelope: { rcptTo: [SENDER] } });
  t.equal(queued?.envelope.rcptTo.length, 1, "only the sender");
  t.equal(queued?.envelope.mailFrom, h.config.delivery.postmaster, "bounces go to the portal");
  const parsed = await simpleParser(queued?.raw ?? Buffer.alloc(0));
  t.equal(parsed.inReplyTo, "<orig-1@clinic.test>");
  t.equal(parsed.headers.get("x-sealgate-portal-reply"), id);
  t.equal(parsed.replyTo?.value[0]?.address, PATIENT, "answers go to the recipient");
  t.match(parsed.text, /Thank you, doctor\./);
  t.ok(parsed.attachments[0]?.content.equals(PDF), "the attachment arrives byte for byte");

  const inbox = await h.core.inbox(PATIENT);
  t.match(inbox, [{ portalId: sent.portalId, direction: "sent" }, { portalId: id }]);
  const copy = await h.core.open(sent.portalId, PATIENT);
  t.ok(copy.kind === "ok" && copy.raw.equals(queued?.raw ?? Buffer.alloc(0)), "the sent copy");
  t.same(await reply(OTHER), { kind: "not-found" }, "nobody replies to another's message");

  const all = await reply(PATIENT, { replyAll: true });
  const toAll = all.kind === "queued" ? await h.queue.getMessage(all.queueId) : null;
  const everyone = [...(toAll?.envelope.rcptTo ?? [])].sort();
  t.same(everyone, [SENDER, NURSE, OTHER], "reply-all adds the other To and Cc, not the author");
  await h.core.revoke(id, "admin");
  t.same(await reply(PATIENT), { kind: "revoked" }, "nor to a revoked one");
});

t.test("no event data and no log line carries the subject, body or a matched value", async (t) => {
  const h = await setup(t);
  const { queueId, portalIds } = await h.deliverTo([PATIENT]);
  const id = portalIds[0] ?? "";
  await h.queued();
  await h.core.verifyCode(PATIENT, "00000000");
  await signUp(h, PATIENT);
  for (let i = 0; i < 5; i++) await h.core.verifyPassword(PATIENT, WRONG);
  await h.core.open(id, PATIENT);
  await h.core.recordDownload(id, PATIENT, 0);
  const reply = await h.core.submitReply({
    portalId: id,
    address: PATIENT,
    replyAll: true,
    text: `About ${SSN}: my potassium`,
    attachments: [{ filename: "potassium.pdf", contentType: "application/pdf", content: PDF }],
  });
  h.advance(31 * DAY);
  await h.core.sweepExpired();
  await h.core.revoke(id, "admin");

  const replyId = reply.kind === "queued" ? reply.queueId : "";
  const ids = [queueId, ACCOUNT_EVENTS_ID, replyId];
  const events = (await Promise.all(ids.map((q) => h.queue.events(q)))).flat();
  const names = [...new Set(events.map((e) => e.name))].sort();
  const portalEvents = EVENT_NAMES.filter((n) => n.startsWith("portal:")).sort();
  t.same(names, portalEvents, "every portal event was recorded");
  const data = JSON.stringify(events.map((e) => e.data ?? null));
  const logs = h.logs.join("");
  t.match(logs, /portal:code-sent/, "the logger was given lines");
  t.match(logs, /portal:locked/);
  for (const [what, text] of Object.entries({ "event data": data, "the log": logs })) {
    t.notMatch(text, CONTENT, `${what}: no body text or matched value`);
    t.notOk(text.includes(SUBJECT), `${what}: no subject`);
    for (const a of [PATIENT, SENDER, OTHER, NURSE]) t.notOk(text.includes(a), `${what}: no ${a}`);
  }
});

t.test("the sender's copy says where the message went and holds no link", async (t) => {
  const h = await setup(t, (c) => void (c.portal.copySenderOnNotice = true));
  await h.deliverTo([PATIENT]);
  const mails = await h.queued();
  t.equal(mails.length, 2, "the recipient's notice and the sender's copy");
  const notice = mails.find((m) => m.envelope.rcptTo.join() === PATIENT);
  const copy = mails.find((m) => m.envelope.rcptTo.join() === SENDER);
  const link = /https:\/\/portal\.clinic\.test\/m\/[A-Za-z0-9_-]+/.exec(
    notice ? await textOf(notice) : "",
  )?.[0];
  t.ok(link, "the recipient's notice has the link");
  const raw = copy?.raw.toString("latin1") ?? "";
  t.notOk(raw.includes("/m/"), "the sender's copy has no portal link at all");
  t.notOk(link && raw.includes(link), "least of all the recipient's");
  const text = copy ? await textOf(copy) : "";
  t.match(text, new RegExp(`Your message to ${PATIENT.replace(".", "\\.")} was delivered`));
  t.match(text, /through the sealgate secure portal/);
  t.notMatch(raw, CONTENT, "and none of the message");
  t.match(raw, /^Subject: Delivered securely: Secure message\r$/m);
});

t.test(
  "a passphrase named by policy is hashed into the row and asked before opening",
  async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), "sealgate-pass-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, "passphrase");
    writeFileSync(file, "Heron-Tide-42\n");
    const h = await setup(t);
    const verdict = {
      action: "encrypt",
      portalPassphrase: "required",
      portalPassphraseFrom: { file },
    };
    const { queueId, portalIds } = await h.deliverTo([PATIENT], verdict);
    const id = portalIds[0] ?? "";
    const row = await h.portal.getMessage(id);
    t.match(row?.passphraseHash, /^scrypt\$/, "an scrypt hash is stored");
    t.same(await dataOf(h, queueId, "portal:stored"), [
      {
        portalId: id,
        noticeQueueId: String((await h.queued())[0]?.id),
        expiresAt: row?.expiresAt.toISOString(),
        passphrase: "required",
      },
    ]);
    const session = await h.core.createSession(PATIENT);
    const opts = { session: session.sessionId };
    t.match(await h.core.open(id, PATIENT, opts), { kind: "passphrase-required" });
    t.match(await h.core.open(id, PATIENT), { kind: "passphrase-required" }, "without a session");
    const reply = { portalId: id, address: PATIENT, replyAll: false, text: "x", attachments: [] };
    t.same(await h.core.submitReply({ ...reply, session: session.sessionId }), {
      kind: "passphrase-required",
    });
    t.same(await h.core.unlock(id, PATIENT, session.sessionId, "Heron-Tide-42\n"), {
      kind: "wrong",
      remaining: 4,
    });
    t.same(await h.core.unlock(id, OTHER, session.sessionId, "Heron-Tide-42"), {
      kind: "not-found",
    });
    t.same(await h.core.unlock(id, PATIENT, session.sessionId, "Heron-Tide-42"), { kind: "ok" });
    t.equal((await h.core.open(id, PATIENT, opts)).kind, "ok", "this session may read it");
    const other = await h.core.createSession(PATIENT);
    t.match(await h.core.open(id, PATIENT, { session: other.sessionId }), {
      kind: "passphrase-required",
    });
    t.equal((await h.core.submitReply({ ...reply, session: session.sessionId })).kind, "queued");
  },
);

t.test("a missing passphrase file fails the wrap, naming the file and not storing", async (t) => {
  const h = await setup(t);
  const verdict = { action: "encrypt", portalPassphraseFrom: { file: "/nonexistent/pass" } };
  await t.rejects(h.deliverTo([PATIENT], verdict), {
    code: "PORTAL_PASSPHRASE_UNAVAILABLE",
    message: /file \/nonexistent\/pass/,
  });
  t.same(await h.portal.listMessages(), [], "no copy was stored");
  t.same(await h.queued(), [], "no notice queued");
});

t.test("notices and code mail speak the language given", async (t) => {
  const fr: Strings = {
    ...en,
    lang: "fr",
    mail: {
      ...en.mail,
      noticeIntro: (sender: string, org: string) => `Message sécurisé de ${sender} (${org}).`,
      codeIs: (code: string) => `Votre code : ${code}`,
    },
  };
  const h = await setup(t);
  const core = new PortalCore({
    portal: h.portal,
    queue: h.queue,
    config: h.config,
    kek: h.kek,
    logger: createLogger({ level: "fatal" }),
    strings: fr,
  });
  const queueId = await h.queue.enqueue({
    envelope: { mailFrom: SENDER, rcptTo: [PATIENT] },
    raw: ORIGINAL,
    messageId: null,
    connector: "m365",
    clientIp: "127.0.0.1",
    origin: "ingress",
    eightBit: false,
    smtpUtf8: false,
  });
  const plan = {
    recipients: [PATIENT],
    route: "portal" as const,
    nextHop: "portal",
    sensitive: true,
  };
  await h.queue.routeMessage(queueId, [plan]);
  const [delivery] = await h.queue.leaseDeliveries({ owner: "t", limit: 10, leaseMs: MINUTE });
  if (!delivery) throw new Error("not leased");
  await core.deliver(delivery);
  const [notice] = await h.queued();
  t.match(notice ? await textOf(notice) : "", /Message sécurisé de Dr Ana Ruiz \(sealgate\)\./);
  await core.sendCode(PATIENT, "register");
  const [code] = await h.queued();
  t.match(code ? await textOf(code) : "", /Votre code : \d{8}/);
});

t.test("a policy's showSubject puts the original subject in the notice and inbox", async (t) => {
  const h = await setup(t);
  const { portalIds } = await h.deliverTo([PATIENT], {
    action: "encrypt",
    portalShowSubject: true,
  });
  const [notice] = await h.queued();
  t.match(notice?.raw.toString("latin1"), new RegExp(`^Subject: ${SUBJECT}\\r$`, "m"));
  t.match(await h.core.inbox(PATIENT), [{ portalId: portalIds[0], subject: SUBJECT }]);

  const shown = await setup(t, (c) => void (c.portal.showSubject = true));
  await shown.deliverTo([PATIENT], { action: "encrypt", portalShowSubject: false });
  const [neutral] = await shown.queued();
  t.match(neutral?.raw.toString("latin1"), /^Subject: Secure message\r$/m, "false hides it");
});
