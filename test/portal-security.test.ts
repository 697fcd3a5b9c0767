import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import t from "tap";
import { launchBrowser, newContext, requireBrowser } from "./helpers/browser.js";
import { runCli } from "./helpers/gateway.js";
import {
  codeIn,
  mailTo,
  sendSecure,
  signIn,
  startPortalGateway,
  Visitor,
} from "./helpers/portal.js";

/**
 * What the portal must refuse: scripts in a message, remote images fetched without consent,
 * guessing codes, one address's link or session opening another's message, expired and
 * revoked messages, and a stored body readable without the key-encryption key.
 */

const send = sendSecure;

t.test("a script in the message does not run and a remote image is not fetched", async (t) => {
  if (!requireBrowser(t)) return;
  let fetched = 0;
  const tracker = createServer((_req, res) => {
    fetched += 1;
    res.end("GIF89a");
  });
  await new Promise<void>((r) => tracker.listen(0, "127.0.0.1", r));
  t.teardown(() => tracker.close());
  const pixel = `http://127.0.0.1:${(tracker.address() as AddressInfo).port}/pixel.gif`;

  const s = await startPortalGateway(t);
  const patient = "ivy@patient.test";
  const html =
    `<p id="text">Your results are normal.</p>` +
    `<script>window.parent.document.title = "pwned"; alert(1)</script>` +
    `<img src="x" onerror="alert(2)"><img src="${pixel}" alt="tracker">` +
    `<a href="javascript:alert(3)">click</a><form action="${pixel}"><input name=q></form>`;
  const m = await send(s, patient, { subject: "results", html });

  const browser = await launchBrowser(t);
  const context = await newContext(browser);
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(m.link);
  const before = s.mail.messages.length;
  await page.getByRole("button", { name: "Send me a code" }).click();
  const code = await codeIn(await mailTo(s.mail, patient, /Your code/, { after: before }));
  await page.getByLabel("Code from the e-mail").fill(code);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.goto(`${s.base}/portal/messages/${m.portalId}`);
  const frame = page.frameLocator("iframe.frame");
  t.match(await frame.locator("#text, p").first().textContent(), /Your results are normal/);
  await page.waitForTimeout(500);

  t.same(dialogs, [], "no script ran: no alert");
  t.notMatch(await page.title(), /pwned/, "the frame could not touch the page");
  t.equal(await frame.locator("script").count(), 0, "no script element reached the frame");
  t.equal(await frame.locator("form").count(), 0, "no form reached the frame");
  t.equal(fetched, 0, "the remote image was not fetched");
  t.match(await page.textContent("main"), /Pictures from other websites are not shown/);

  const frameHeaders = await page.request.get(`${s.base}/portal/messages/${m.portalId}/body`);
  const csp = frameHeaders.headers()["content-security-policy"] ?? "";
  t.match(csp, /default-src 'none'/, "the frame's own policy loads nothing by default");
  t.match(csp, /sandbox/, "and sandboxes it even when opened on its own");
});

t.test("five wrong codes lock the address, even against the right code", async (t) => {
  const s = await startPortalGateway(t);
  const patient = "lou@patient.test";
  const m = await send(s, patient, { subject: "lock" });
  const v = new Visitor(s.base);
  const landing = await v.request(m.link);
  const before = s.mail.messages.length;
  await v.request(`${m.link}/code`, { _csrf: landing.csrf });
  const code = await codeIn(await mailTo(s.mail, patient, /Your code/, { after: before }));
  const wrong = code === "00000000" ? "11111111" : "00000000";
  let csrf = (await v.request(`${m.link}/code`)).csrf;
  for (let i = 0; i < 5; i++) {
    const r = await v.request(`${m.link}/code/verify`, { _csrf: csrf, code: wrong });
    t.equal(r.status, 400, `wrong code ${i + 1} is refused`);
    csrf = r.csrf;
  }
  const right = await v.request(`${m.link}/code/verify`, { _csrf: csrf, code });
  t.equal(right.status, 400, "the right code is refused while locked");
  t.notOk(v.hasSession(), "and no session was given");
  const failures = (await s.gw.store.events("portal-accounts")).filter(
    (e) => e.name === "portal:sign-in-failed",
  );
  t.equal(failures.length, 5, "each failed try is an audit event");
  t.equal(failures.at(-1)?.data?.locked, true, "the fifth locks");
});

t.test("a form without its CSRF token is refused", async (t) => {
  const s = await startPortalGateway(t);
  const m = await send(s, "max@patient.test", { subject: "csrf" });
  const v = new Visitor(s.base);
  await v.request(m.link);
  const r = await v.request(`${m.link}/code`, { _csrf: "forged" });
  t.equal(r.status, 403, "a forged token gets 403");
  t.equal(
    s.mail.messages.filter((x) => /Your code/.test(x.raw.toString())).length,
    0,
    "no code sent",
  );
});

t.test("one address's link or session never opens another address's message", async (t) => {
  const s = await startPortalGateway(t);
  const a = await send(s, "ann@patient.test", { subject: "for ann", text: "Ann's results" });
  const b = await send(s, "bob@patient.test", { subject: "for bob", text: "Bob's results" });
  const ann = await signIn(s, a.link, "ann@patient.test");
  const own = await ann.request(`/portal/messages/${a.portalId}/body`);
  t.match(own.text, /Ann&#39;s results|Ann's results/, "Ann reads her own message");
  const other = await ann.request(`/portal/messages/${b.portalId}`);
  t.equal(other.status, 404, "Bob's message id answers not found to Ann's session");
  t.notMatch(other.text, /Bob/, "and shows nothing of it");
  const frame = await ann.request(`/portal/messages/${b.portalId}/body`);
  t.equal(frame.status, 404, "nor its body frame");
  const viaLink = await ann.request(b.link);
  t.equal(viaLink.status, 200, "Bob's link asks for Bob's proof");
  t.match(viaLink.text, /Send me a code/);
  t.notMatch(viaLink.text, /Bob&#39;s results|Bob's results/);
});

t.test("an expired and a revoked message say so and show nothing", async (t) => {
  const s = await startPortalGateway(t);
  const patient = "eve@patient.test";
  const gone = await send(s, patient, { subject: "old", text: "Old results" });
  const pulled = await send(s, patient, { subject: "pulled", text: "Pulled results" });
  const v = await signIn(s, gone.link, patient);

  const db = new Database(path.join(s.gw.files.dataDir, "sealgate.db"));
  db.prepare("UPDATE portal_messages SET expires_at = ? WHERE id = ?").run(
    Date.now() - 1,
    gone.portalId,
  );
  db.close();
  t.equal(await s.gw.portal?.sweepExpired(), 1, "the sweep deletes the expired body");
  const expired = await v.request(`/portal/messages/${gone.portalId}`);
  t.equal(expired.status, 410);
  t.match(expired.text, /This message has expired/);
  t.notMatch(expired.text, /Old results/);

  const revoke = await runCli([
    "portal",
    "revoke",
    pulled.portalId,
    "--by",
    "it-admin",
    "--config",
    s.gw.files.file,
  ]);
  t.equal(revoke.code, 0, "sealgate portal revoke succeeds");
  t.match(revoke.stdout, /revoked/);
  const link = await new Visitor(s.base).request(pulled.link);
  t.equal(link.status, 410, "the revoked message's link answers 410");
  t.match(link.text, /This message was withdrawn/);
  const page = await v.request(`/portal/messages/${pulled.portalId}`);
  t.match(page.text, /This message was withdrawn/);
  t.notMatch(page.text, /Pulled results/);
  const trail = (await s.gw.store.events(pulled.queueId)).map((e) => e.name);
  t.ok(trail.includes("portal:revoked"), "the revocation is in the audit trail");
});

t.test("the stored body cannot be read without the key-encryption key", async (t) => {
  const s = await startPortalGateway(t);
  const secret = "Quillfeather-7731";
  await send(s, "kim@patient.test", { subject: "sealed", text: `Patient ${secret}` });
  const dir = s.gw.files.dataDir;
  // The queue keeps the original until it is purged; the portal's rows must not add a copy.
  const db = new Database(path.join(dir, "sealgate.db"), { readonly: true });
  const rows = db.prepare("SELECT body, wrapped_key FROM portal_messages").all() as {
    body: Buffer;
    wrapped_key: string;
  }[];
  db.close();
  t.equal(rows.length, 1);
  t.notOk(rows[0]?.body.includes(secret), "the portal row holds ciphertext only");
  t.notOk(rows[0]?.wrapped_key.includes(secret));
  t.match(rows[0]?.wrapped_key, /^sgk1\./, "its data key is wrapped under the KEK");
  const outbox = path.join(dir, "outbox");
  const files = (() => {
    try {
      return readdirSync(outbox).map((f) => readFileSync(path.join(outbox, f), "utf8"));
    } catch {
      return [];
    }
  })();
  t.notOk(
    files.some((f) => f.includes(secret)),
    "nothing in clear was written out",
  );
});
