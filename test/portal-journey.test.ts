import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { simpleParser } from "mailparser";
import t from "tap";
import {
  launchBrowser,
  newContext,
  requireBrowser,
  screenshot,
  VIEWPORTS,
} from "./helpers/browser.js";
import { waitForEvent } from "./helpers/gateway.js";
import { binaryFile, codeIn, linkIn, mailTo, startPortalGateway } from "./helpers/portal.js";
import { swaks } from "./helpers/swaks.js";
import { requireTools } from "./helpers/tools.js";

/**
 * The recipient's whole journey in a real browser: a message with PHI and two attachments
 * goes through the gateway to a recipient with no key; the notice arrives; the link, the
 * code from the mailbox and a new password open it; the text reads right; the attachments
 * download byte-identical; a reply with an attachment reaches the sender's mailbox.
 */

const SENDER = "dr.ruiz@clinic.test";
const PATIENT = "jordan.q@patient.test";
const SSN = "345-67-8901";
const BODY = `Dear Jordan, your potassium was 5.9 mmol/L. Patient SSN ${SSN}. Results attached.`;
const PASSWORD = "correct horse battery staple";

t.test("a recipient with no key reads, downloads and replies in the portal", async (t) => {
  if (!requireBrowser(t) || !requireTools(t, "swaks")) return;
  const { gw, mail } = await startPortalGateway(t);
  const pdf = binaryFile("results.pdf", 40_000);
  const csv = binaryFile("labs.csv", 0);
  writeFileSync(csv.file, `name,ssn,potassium\nJordan Q,${SSN},5.9\n`);
  csv.bytes = readFileSync(csv.file);

  const sent = await swaks({
    server: gw.smtp,
    from: SENDER,
    to: [PATIENT],
    headers: { Subject: "Your lab results", From: `Dr Ana Ruiz <${SENDER}>` },
    body: BODY,
    attach: [pdf.file, csv.file],
  });
  t.equal(sent.exitCode, 0, "swaks: the gateway accepted the message");
  const queueId = sent.queueId ?? "";
  const events = await waitForEvent(gw.store, queueId, "portal:stored");
  t.match(
    events.find((e) => e.name === "secure:route")?.data,
    { route: "portal" },
    "the recipient has no key, so the copy goes to the portal",
  );

  const notice = await mailTo(mail, PATIENT, /secure/i);
  const noticeText = notice.raw.toString("latin1");
  t.notMatch(
    noticeText,
    /potassium|345-67-8901|lab results|results\.pdf/i,
    "the notice holds no PHI",
  );
  t.match(noticeText, /Subject: Secure message/, "and a neutral subject");
  t.match(noticeText, /Dr Ana Ruiz/, "it names the sender");
  const link = linkIn(notice);

  const browser = await launchBrowser(t);
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(link);
  t.match(await page.textContent("h1"), /You have a secure message/, "the link opens the portal");
  t.match(await page.textContent("main"), /sent to you securely by Dr Ana Ruiz/);
  await screenshot(context, "1-landing", "desktop");

  const before = mail.messages.length;
  await page.getByRole("button", { name: "Send me a code" }).click();
  await page.waitForURL(/\/code$/);
  const code = await codeIn(await mailTo(mail, PATIENT, /Your code/, { after: before }));
  await screenshot(context, "2-code", "desktop");
  await page.getByLabel("Code from the e-mail").fill(code);
  await page.getByRole("button", { name: "Continue" }).click();

  await page.waitForURL(/\/portal\/password/);
  await screenshot(context, "3-password", "desktop");
  await page.getByLabel("New password").fill(PASSWORD);
  await page.getByLabel("Type the password again").fill(PASSWORD);
  await page.getByRole("button", { name: "Save password" }).click();

  await page.waitForURL(/\/portal\/messages\/[0-9a-f]+$/);
  t.equal(await page.textContent("h1"), "Your lab results", "the message opens with its subject");
  const frame = page.frameLocator("iframe.frame");
  t.match(await frame.locator("body").textContent(), BODY, "the text reads as it was sent");
  await screenshot(context, "4-message", "desktop");

  for (const file of [pdf, csv]) {
    const name = path.basename(file.file);
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: new RegExp(`Download ${name.replace(".", "\\.")}`) }).click(),
    ]);
    t.equal(download.suggestedFilename(), name, `${name} keeps its name`);
    const got = readFileSync((await download.path()) ?? "");
    t.ok(got.equals(file.bytes), `${name} downloads byte-identical`);
  }

  await page.getByRole("link", { name: "Reply", exact: true }).click();
  await page.waitForURL(/\/reply$/);
  const replyFile = binaryFile("insurance-card.pdf", 12_000);
  await page.getByLabel("Your message").fill("Thank you, doctor. My insurance card is attached.");
  await page.getByLabel("Attach files (optional)").setInputFiles(replyFile.file);
  await screenshot(context, "5-reply", "desktop");
  const beforeReply = mail.messages.length;
  await page.getByRole("button", { name: "Send reply" }).click();
  t.match(await page.textContent("main"), /Your reply has been sent securely/);

  const reply = await mailTo(mail, SENDER, /X-Sealgate-Portal-Reply/i, { after: beforeReply });
  const parsed = await simpleParser(reply.raw);
  t.equal(parsed.replyTo?.value[0]?.address, PATIENT, "answering it goes to the recipient");
  t.match(parsed.from?.text, new RegExp(`${PATIENT} via Riverside Clinic`), "From names them");
  t.equal(parsed.subject, "Re: Your lab results", "and threads under the original");
  t.match(parsed.text, /My insurance card is attached/);
  const att = parsed.attachments.find((a) => a.filename === "insurance-card.pdf");
  t.ok(att?.content.equals(replyFile.bytes), "the reply's attachment arrives byte-identical");
  t.ok(reply.secure, "the reply travelled over TLS to the sender's mail system");

  await page.goto(link.replace(/\/m\/.*/, "/portal/inbox"));
  const inbox = await page.textContent("main");
  t.match(inbox, /Dr Ana Ruiz/, "the inbox lists the message");
  t.match(inbox, /Sent by you/, "and keeps the recipient's copy of the reply");
  await screenshot(context, "6-inbox", "desktop");

  const trail = (await gw.store.events(queueId)).map((e) => e.name);
  for (const name of ["portal:opened", "portal:viewed", "portal:downloaded", "portal:replied"]) {
    t.ok(trail.includes(name as never), `the audit trail records ${name}`);
  }

  // The same pages on a phone: signed in again with the password just set.
  const phone = await newContext(browser, VIEWPORTS.phone);
  const p2 = await phone.newPage();
  await p2.goto(link);
  await screenshot(phone, "1-landing", "phone");
  await p2.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await p2.getByRole("button", { name: "Sign in" }).click();
  await p2.waitForURL(/\/portal\/messages\//);
  t.match(await p2.frameLocator("iframe.frame").locator("body").textContent(), BODY);
  const width = Number(await p2.evaluate("document.documentElement.scrollWidth"));
  t.ok(
    width <= VIEWPORTS.phone.width,
    "the message page fits a phone screen without sideways scrolling",
  );
  await screenshot(phone, "4-message", "phone");
  await p2.goto(link.replace(/\/m\/.*/, "/portal/inbox"));
  await screenshot(phone, "6-inbox", "phone");

  const logs = gw.logs();
  for (const secret of [SSN, "potassium", "Your lab results", PATIENT, code, PASSWORD]) {
    t.notOk(logs.includes(secret), `no log line holds "${secret.slice(0, 6)}…"`);
  }
});
