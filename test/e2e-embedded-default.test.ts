import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";
import { launchBrowser, newContext, requireBrowser } from "./helpers/browser.js";
import { repoRoot, runCli, waitFor } from "./helpers/gateway.js";
import { freePort } from "./helpers/postfix.js";

/**
 * The README's walk-through on the embedded default, word for word but on free ports: start
 * with no configuration, send the bundled samples, read the routes in `sealgate trace`, find
 * the portal notice in the outbox, and open it in a browser with the code from the outbox.
 */

function outboxTexts(dir: string): { name: string; text: string }[] {
  try {
    return readdirSync(dir)
      .sort()
      .map((name) => ({ name, text: readFileSync(path.join(dir, name), "utf8") }));
  } catch {
    return [];
  }
}

t.test("the embedded default delivers the samples and shows a portal message", async (t) => {
  if (!requireBrowser(t)) return;
  const data = path.join(mkdtempSync(path.join(tmpdir(), "sealgate-embedded-")), "data");
  const smtp = `127.0.0.1:${await freePort()}`;
  const http = `127.0.0.1:${await freePort()}`;
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "cli/entry.ts", "start", "--data", data, "--smtp", smtp, "--http", http],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
  );
  let banner = "";
  child.stderr.on("data", (c: Buffer) => (banner += c.toString("utf8")));
  child.stdout.resume();
  t.teardown(() => {
    child.kill("SIGKILL");
  });
  await waitFor("the start banner", () => (/portal http/.test(banner) ? true : undefined));
  t.match(banner, /embedded default \(no --config given\)/, "it says it runs the embedded default");
  t.match(banner, new RegExp(`delivering into ${data}/outbox`), "and where copies go");
  t.match(banner, /plain HTTP: for loopback testing only/, "and that the portal is plain HTTP");

  const sent = await runCli(["send-samples", "--smtp", smtp]);
  t.equal(sent.code, 0, "send-samples succeeds");
  const ids = [...sent.stdout.matchAll(/(\d\d-[\w-]+\.eml)\s+→\s+queued as (\S+)/g)];
  t.equal(ids.length, 4, "each sample got a queue id");

  const outbox = path.join(data, "outbox");
  // Two clean samples leave as they are; the two sensitive ones leave as portal notices.
  await waitFor("four copies in the outbox", () =>
    outboxTexts(outbox).length >= 4 ? true : undefined,
  );
  const routes = new Map<string, string>();
  for (const [, file, id] of ids) {
    const trace = await runCli(["trace", id ?? "", "--data", data]);
    t.equal(trace.code, 0, `sealgate trace ${file}`);
    routes.set(file ?? "", /secure:route .*route=(\w+)/.exec(trace.stdout)?.[1] ?? "");
  }
  t.same(
    Object.fromEntries(routes),
    {
      "01-clean-schedule.eml": "clean",
      "02-secure-tag.eml": "portal",
      "03-ssn-in-attachment.eml": "portal",
      "04-invoice-order-numbers.eml": "clean",
    },
    "the trace shows each sample's route",
  );
  const notices = outboxTexts(outbox).filter((f) => /\/m\/[A-Za-z0-9_-]+/.test(f.text));
  // 02 has one recipient, 03 two (To and Cc): one notice each, and nothing else of theirs.
  t.equal(notices.length, 3, "the sensitive samples left only as notices, one per recipient");
  for (const n of notices) t.notMatch(n.text, /\d{3}-\d\d-\d{4}/, "with no SSN in them");

  // The README: grep the link, open it, "Send me a code", grep the code, enter it.
  const link = /http:\/\/127\.0\.0\.1:\d+\/m\/[A-Za-z0-9_-]*/.exec(notices[0]?.text ?? "")?.[0];
  t.ok(link?.startsWith(`http://${http}/m/`), "the link points at the running portal");
  const browser = await launchBrowser(t);
  const page = await (await newContext(browser)).newPage();
  await page.goto(link ?? "");
  await page.getByRole("button", { name: "Send me a code" }).click();
  const code = await waitFor("the code mail in the outbox", () => {
    const mails = outboxTexts(outbox).filter((f) => /Your code is/.test(f.text));
    return /Your code is (\d{8})/.exec(mails.at(-1)?.text ?? "")?.[1];
  });
  await page.getByLabel("Code from the e-mail").fill(code);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("New password").fill("a long enough passphrase");
  await page.getByLabel("Type the password again").fill("a long enough passphrase");
  await page.getByRole("button", { name: "Save password" }).click();
  await page.waitForURL(/\/portal\/messages\//);
  const text = await page.frameLocator("iframe.frame").locator("body").textContent();
  t.ok(text && text.trim().length > 0, "the message reads in the portal");

  const before = outboxTexts(outbox).length;
  await page.getByRole("link", { name: "Reply", exact: true }).click();
  await page.getByLabel("Your message").fill("Thanks, received.");
  await page.getByRole("button", { name: "Send reply" }).click();
  const reply = await waitFor("the reply in the outbox", () =>
    outboxTexts(outbox)
      .slice(before)
      .find((f) => /X-Sealgate-Portal-Reply/i.test(f.text)),
  );
  t.match(reply.text, /Thanks, received\./, "the reply went back through the gateway");
});
