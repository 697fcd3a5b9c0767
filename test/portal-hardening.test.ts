/**
 * The portal's second line of defence, through the real HTTP listener: a per-message
 * passphrase from policy, answers that do not tell addresses apart, locks that a stranger
 * cannot turn against the owner, a reset that ends old sessions, codes and passwords bound to
 * their address, and security headers on every response.
 */

import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import nodemailer from "nodemailer";
import t from "tap";
import { waitForEvent } from "./helpers/gateway.js";
import {
  codeByLink,
  codeIn,
  mailTo,
  sendSecure,
  setPassword,
  signIn,
  startPortalGateway,
  Visitor,
} from "./helpers/portal.js";

const PASSWORD = "river stone lantern cloud";
const PASSPHRASE_ENV = "SEALGATE_TEST_PORTAL_PASSPHRASE";
const PASSPHRASE = `Otter-${randomBytes(6).toString("hex")}`;

/** A policy whose [secure] rule asks for a passphrase kept in an environment variable. */
function passphrasePolicy(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-policy-"));
  const file = path.join(dir, "policy.yaml");
  writeFileSync(
    file,
    [
      "name: passphrase-test",
      "default: allow",
      "rules:",
      "  - name: secure-tag",
      '    when: { subjectTag: "[secure]" }',
      `    then: [{ encrypt: { method: portal, passphrase: { env: ${PASSPHRASE_ENV} } } }]`,
      "",
    ].join("\n"),
  );
  return file;
}

t.test(
  "a message whose policy requires a passphrase opens, and its attachment downloads, only " +
    "after the right passphrase; a wrong one is refused and audited",
  async (t) => {
    process.env[PASSPHRASE_ENV] = PASSPHRASE;
    t.teardown(() => void delete process.env[PASSPHRASE_ENV]);
    const s = await startPortalGateway(t, { policy: { file: passphrasePolicy() } });
    const patient = "pat@patient.test";
    const pdf = Buffer.concat([Buffer.from("%PDF-1.4\n"), randomBytes(3000)]);
    const m = await sendSecure(s, patient, {
      subject: "locked",
      text: "Biopsy result: benign.",
      attachments: [{ filename: "result.pdf", content: pdf, contentType: "application/pdf" }],
    });
    const v = await signIn(s, m.link, patient);

    const asked = await v.request(`/portal/messages/${m.portalId}`);
    t.equal(asked.status, 401, "the message page asks for the passphrase first");
    t.match(asked.text, /This message has an extra passphrase/);
    t.notMatch(asked.text, /Biopsy|benign|result\.pdf/, "and shows nothing of the message");
    const frame = await v.request(`/portal/messages/${m.portalId}/body`);
    t.equal(frame.status, 404, "its body frame does not open");
    t.notMatch(frame.text, /Biopsy/);

    const wrong = await v.request(`/portal/messages/${m.portalId}/passphrase`, {
      _csrf: asked.csrf,
      passphrase: "not the passphrase",
    });
    t.equal(wrong.status, 401, "a wrong passphrase is refused");
    t.match(wrong.text, /That passphrase is not right/);
    t.equal((await v.request(`/portal/messages/${m.portalId}/body`)).status, 404, "still shut");
    const failed = (await s.gw.store.events(m.queueId)).filter(
      (e) => e.name === "portal:sign-in-failed",
    );
    t.match(failed, [{ data: { kind: "passphrase", portalId: m.portalId, failures: 1 } }]);

    const right = await v.request(`/portal/messages/${m.portalId}/passphrase`, {
      _csrf: wrong.csrf,
      passphrase: PASSPHRASE,
    });
    t.equal(right.status, 303, "the right passphrase opens it");
    const page = await v.request(`/portal/messages/${m.portalId}`);
    t.equal(page.status, 200);
    t.match(page.text, /result\.pdf/);
    const body = await v.request(`/portal/messages/${m.portalId}/body`);
    t.match(body.text, /Biopsy result: benign\./, "the frame shows the message");
    const link = /href="(\/portal\/messages\/[^"]+\/attachments\/\d+)"/.exec(page.text)?.[1] ?? "";
    const download = await v.request(link);
    t.equal(download.status, 200);
    t.ok(download.body.equals(pdf), "the attachment downloads byte for byte");

    const other = await signIn(s, m.link, patient);
    const again = await other.request(`/portal/messages/${m.portalId}`);
    t.equal(again.status, 401, "another session must enter it again");
    const file = await other.request(link);
    t.equal(file.status, 404, "and cannot download the attachment before it does");
    t.notOk(file.body.includes(pdf.subarray(9, 40)), "no attachment bytes");

    const events = JSON.stringify(await s.gw.store.events(m.queueId));
    t.notOk(events.includes(PASSPHRASE), "no event holds the passphrase");
    const verdict = (await s.gw.store.events(m.queueId)).find((e) => e.name === "policy:verdict");
    t.equal(verdict?.data?.portalPassphrase, "required", "the verdict records it as required");
    const db = new Database(path.join(s.gw.files.dataDir, "sealgate.db"), { readonly: true });
    const row = db
      .prepare("SELECT passphrase_hash FROM portal_messages WHERE id = ?")
      .get(m.portalId) as { passphrase_hash: string };
    db.close();
    t.match(row.passphrase_hash, /^scrypt\$/, "the row keeps an scrypt hash");
    t.notOk(row.passphrase_hash.includes(PASSPHRASE), "not the passphrase");
  },
);

t.test("wrong passphrases lock the passphrase, not the sign-in", async (t) => {
  process.env[PASSPHRASE_ENV] = PASSPHRASE;
  t.teardown(() => void delete process.env[PASSPHRASE_ENV]);
  const s = await startPortalGateway(t, { policy: { file: passphrasePolicy() } });
  const patient = "lin@patient.test";
  const m = await sendSecure(s, patient, { subject: "guess", text: "Guarded" });
  const v = await signIn(s, m.link, patient);
  let csrf = (await v.request(`/portal/messages/${m.portalId}`)).csrf;
  for (let i = 0; i < 5; i++) {
    const r = await v.request(`/portal/messages/${m.portalId}/passphrase`, {
      _csrf: csrf,
      passphrase: `guess ${i}`,
    });
    csrf = r.csrf;
  }
  const locked = await v.request(`/portal/messages/${m.portalId}/passphrase`, {
    _csrf: csrf,
    passphrase: PASSPHRASE,
  });
  t.equal(locked.status, 401, "the right passphrase is refused while locked");
  t.match(locked.text, /too many wrong passphrases/);
  t.equal((await v.request(`/portal/messages/${m.portalId}/body`)).status, 404);
  const inbox = await v.request("/portal/inbox");
  t.equal(inbox.status, 200, "the session itself still works");
  t.ok(await signIn(s, m.link, patient), "and a code still signs in");
});

t.test(
  "a copy whose passphrase variable is missing waits; it is never stored without",
  async (t) => {
    delete process.env[PASSPHRASE_ENV];
    const s = await startPortalGateway(t, { policy: { file: passphrasePolicy() } });
    const transport = nodemailer.createTransport({
      host: s.gw.smtp.host,
      port: s.gw.smtp.port,
      secure: false,
      tls: { rejectUnauthorized: false },
    });
    const info = (await transport.sendMail({
      from: "dr.ruiz@clinic.test",
      to: "max@patient.test",
      subject: "[secure] waits",
      text: "Waiting",
    })) as { response: string };
    transport.close();
    const queueId = /queued as (\S+)/.exec(info.response)?.[1] ?? "";
    const deferred = await waitForEvent(s.gw.store, queueId, "deliver:deferred");
    const names = deferred.map((e) => e.name);
    t.notOk(names.includes("portal:stored"), "nothing stored");
    t.ok(names.includes("deliver:deferred"), "the copy waits");
    t.notOk(
      s.mail.messages.some((x) => x.rcptTo.includes("max@patient.test")),
      "no notice was sent",
    );
  },
);

t.test("the reset page answers a known and an unknown address the same way", async (t) => {
  const s = await startPortalGateway(t);
  const known = "kay@patient.test";
  const unknown = "nobody@patient.test";
  await sendSecure(s, known, { subject: "reset", text: "x" });
  const before = s.mail.messages.length;

  const answer = async (address: string) => {
    const v = new Visitor(s.base);
    const form = await v.request("/portal/reset");
    const r = await v.request("/portal/reset", { _csrf: form.csrf, address });
    const shape = r.text.replaceAll(address, "ADDRESS").replace(/value="[^"]{20,}"/g, "TOKEN");
    return { status: r.status, shape, type: r.headers.get("content-type") };
  };
  const a = await answer(known);
  const b = await answer(unknown);
  t.equal(a.status, b.status, "the same status");
  t.equal(a.type, b.type, "the same type");
  t.equal(a.shape, b.shape, "the same page, but for the address typed");
  t.match(a.shape, /If this address has secure messages here/, "and it promises nothing");

  await mailTo(s.mail, known, /Your code/, { after: before });
  t.notOk(
    s.mail.messages.some((m) => m.rcptTo.includes(unknown)),
    "only the known address was mailed a code",
  );
});

t.test("a password reset through /portal/reset ends the sessions from before", async (t) => {
  const s = await startPortalGateway(t);
  const patient = "rae@patient.test";
  const m = await sendSecure(s, patient, { subject: "reset", text: "Reset me" });
  const old = await signIn(s, m.link, patient);
  await setPassword(old, PASSWORD);
  t.equal((await old.request("/portal/inbox")).status, 200, "the old session works");

  const v = new Visitor(s.base);
  const form = await v.request("/portal/reset");
  const before = s.mail.messages.length;
  const sent = await v.request("/portal/reset", { _csrf: form.csrf, address: patient });
  const code = await codeIn(await mailTo(s.mail, patient, /Your code/, { after: before }));
  const verified = await v.request("/portal/reset/verify", {
    _csrf: sent.csrf,
    address: patient,
    code,
  });
  t.equal(verified.status, 303, "the mailed code is accepted");
  await setPassword(v, `${PASSWORD} anew`);

  const stale = await old.request("/portal/inbox");
  t.equal(stale.status, 303, "the session from before the reset is signed out");
  t.equal(stale.location, "/portal/sign-in");
  t.equal((await v.request("/portal/inbox")).status, 200, "the resetting session stays");
  const signIn2 = async (password: string) => {
    const w = new Visitor(s.base);
    const f = await w.request("/portal/sign-in");
    return w.request("/portal/sign-in", { _csrf: f.csrf, address: patient, password });
  };
  t.equal((await signIn2(PASSWORD)).status, 400, "the old password no longer signs in");
  t.equal((await signIn2(`${PASSWORD} anew`)).status, 303, "the new one does");
});

t.test("five wrong passwords do not stop the owner proving the address by code", async (t) => {
  const s = await startPortalGateway(t);
  const patient = "ola@patient.test";
  const m = await sendSecure(s, patient, { subject: "lock", text: "x" });
  await setPassword(await signIn(s, m.link, patient), PASSWORD);
  const stranger = new Visitor(s.base);
  let csrf = (await stranger.request("/portal/sign-in")).csrf;
  for (let i = 0; i < 6; i++) {
    const r = await stranger.request("/portal/sign-in", {
      _csrf: csrf,
      address: patient,
      password: `guess number ${i}`,
    });
    csrf = r.csrf;
  }
  const owner = await signIn(s, m.link, patient);
  t.equal((await owner.request("/portal/inbox")).status, 200, "a mailed code still signs in");
});

t.test("code mails to one address are limited per hour, and the link page says so", async (t) => {
  const s = await startPortalGateway(t, { portal: { maxCodeMailsPerHour: 2 } });
  const patient = "tom@patient.test";
  const m = await sendSecure(s, patient, { subject: "codes", text: "x" });
  const v = new Visitor(s.base);
  await codeByLink(s, v, m.link, patient);
  await codeByLink(s, new Visitor(s.base), m.link, patient);
  const third = new Visitor(s.base);
  const landing = await third.request(m.link);
  const r = await third.request(`${m.link}/code`, { _csrf: landing.csrf });
  t.equal(r.status, 429, "the third within the hour is not sent");
  t.match(r.text, /no new one was sent/, "and the page says so instead of claiming a code");
  await new Promise((resolve) => setTimeout(resolve, 300));
  const codes = s.mail.messages.filter(
    (x) => x.rcptTo.includes(patient) && /Your code/.test(x.raw.toString("latin1")),
  );
  t.equal(codes.length, 2, "two code mails, from three visitors");
});

t.test("a code or password of one address does not sign in at another's link", async (t) => {
  const s = await startPortalGateway(t);
  const a = await sendSecure(s, "ann@patient.test", { subject: "a", text: "Ann" });
  const b = await sendSecure(s, "bob@patient.test", { subject: "b", text: "Bob" });
  const ann = new Visitor(s.base);
  const code = await codeByLink(s, ann, a.link, "ann@patient.test");
  const atBob = new Visitor(s.base);
  const page = await atBob.request(`${b.link}/code`);
  const r = await atBob.request(`${b.link}/code/verify`, { _csrf: page.csrf, code });
  t.equal(r.status, 400, "Ann's code is refused at Bob's link");
  t.notOk(atBob.hasSession(), "and gives no session");

  const annIn = new Visitor(s.base);
  const p = await annIn.request(`${a.link}/code`);
  t.equal(
    (await annIn.request(`${a.link}/code/verify`, { _csrf: p.csrf, code })).status,
    303,
    "the code still works for Ann",
  );
  const refusals = s.gw.logs().match(/"event":"portal:code-refused"/g) ?? [];
  t.equal(refusals.length, 1, "only the code at Bob's link is logged as refused");
  t.notMatch(s.gw.logs(), /Reply was already sent|FST_ERR_REP_ALREADY_SENT/, "one answer each");
  await setPassword(annIn, PASSWORD);
  const landing = await atBob.request(b.link);
  const pw = await atBob.request(`${b.link}/sign-in`, { _csrf: landing.csrf, password: PASSWORD });
  t.equal(pw.status, 400, "Ann's password does not sign in at Bob's link");
  t.notOk(atBob.hasSession());
});

t.test("an expired message's link says it has expired", async (t) => {
  const s = await startPortalGateway(t);
  const m = await sendSecure(s, "zed@patient.test", { subject: "old", text: "Old news" });
  const db = new Database(path.join(s.gw.files.dataDir, "sealgate.db"));
  db.prepare("UPDATE portal_messages SET expires_at = ? WHERE id = ?").run(
    Date.now() - 1,
    m.portalId,
  );
  db.close();
  const r = await new Visitor(s.base).request(m.link);
  t.equal(r.status, 410);
  t.match(r.text, /This message has expired/);
  t.notMatch(r.text, /Send me a code|Old news/, "and offers nothing to sign in to");
});

t.test("security headers are on /healthz, a 404 and an unknown POST", async (t) => {
  const s = await startPortalGateway(t);
  const v = new Visitor(s.base);
  const health = await v.request("/healthz");
  t.equal(health.status, 200);
  t.match(JSON.parse(health.text), { status: "ok" }, "the JSON route still answers JSON");
  const missing = await v.request("/no/such/page");
  t.equal(missing.status, 404);
  const post = await fetch(`${s.base}/no/such/form`, { method: "POST", body: "x=1" });
  t.equal(post.status, 404);
  for (const [what, headers] of [
    ["/healthz", health.headers],
    ["a 404", missing.headers],
    ["an unknown POST", post.headers],
  ] as const) {
    t.match(headers.get("content-security-policy"), /default-src 'none'/, `${what}: CSP`);
    t.match(headers.get("content-security-policy"), /frame-ancestors 'self'/);
    t.equal(headers.get("x-frame-options"), "SAMEORIGIN", `${what}: X-Frame-Options`);
    t.equal(headers.get("referrer-policy"), "no-referrer", `${what}: Referrer-Policy`);
    t.equal(headers.get("x-content-type-options"), "nosniff", `${what}: nosniff`);
    t.equal(headers.get("cache-control"), "no-store", `${what}: no-store`);
  }
});
