import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { simpleParser } from "mailparser";
import t from "tap";
import { startDnsServer } from "./helpers/dns-server.js";
import { startTestGateway, waitFor, waitForEvent } from "./helpers/gateway.js";
import { issueCert, makeTestCa } from "./helpers/pki.js";
import { requirePostfix, splitMessage, startPostfix, toLf } from "./helpers/postfix.js";
import { swaks } from "./helpers/swaks.js";

/**
 * sealgate between real MTAs: swaks as the tenant's sending client, Postfix as the recipient's
 * MX (its own config folder, TLS from a test CA, Maildir delivery) and as an upstream MTA that
 * relays through sealgate.
 */

const ca = makeTestCa();

t.test(
  "swaks → sealgate → Postfix: a message with an attachment lands byte-identical in the Maildir",
  async (t) => {
    if (!requirePostfix(t, "swaks")) return;
    const mxCert = issueCert(ca, { names: ["mx.postfix.test"] });
    const pf = await startPostfix(t, { tls: mxCert });
    const dns = await startDnsServer({
      "postfix.test": { mx: [{ preference: 10, exchange: "mx.postfix.test" }] },
      "mx.postfix.test": { a: ["127.0.0.1"] },
    });
    t.teardown(() => dns.close());
    const gw = await startTestGateway(t, {
      delivery: {
        mode: "mx",
        mxPort: pf.port,
        dnsServers: [dns.address],
        tls: { caFile: ca.certFile },
        retrySchedule: [1],
      },
    });

    const dir = mkdtempSync(path.join(tmpdir(), "sealgate-attach-"));
    const attachment = path.join(dir, "scan.bin");
    const bytes = randomBytes(24 * 1024);
    writeFileSync(attachment, bytes);

    const sent = await swaks({
      server: gw.smtp,
      from: "alice@tenant.test",
      to: ["bob@postfix.test"],
      headers: { Subject: "quarterly figures" },
      body: "Please find the figures attached.\nRegards, Alice",
      attach: [attachment],
      tls: "required",
    });
    t.equal(sent.exitCode, 0, "swaks reports success");
    t.match(sent.dataReply ?? "", /^250 /, "sealgate answers 250 to the end of DATA");
    t.ok(sent.queueId, "the 250 reply carries the queue id");
    t.ok(sent.sentData, "the transcript shows the DATA swaks sent");

    const [delivered] = await pf.waitForMessages(1);
    t.ok(delivered, "the message reached Postfix's Maildir");
    if (!delivered || !sent.sentData) return;

    const original = splitMessage(Buffer.from(sent.sentData, "latin1"));
    const landed = splitMessage(delivered);
    t.ok(toLf(landed.body).equals(toLf(original.body)), "the MIME body is byte-identical");
    for (const line of original.headers.split(/\r?\n(?![ \t])/)) {
      t.ok(
        landed.headers.includes(line.replace(/\r\n/g, "\n")),
        `header kept: ${line.split(":")[0]}`,
      );
    }
    t.match(landed.headers, /^X-Sealgate-Loop: /m, "the copy carries the loop-guard stamp");

    const parsed = await simpleParser(delivered);
    t.equal(parsed.attachments.length, 1, "one attachment arrived");
    t.ok(parsed.attachments[0]?.content.equals(bytes), "the attachment decodes to the sent bytes");

    if (sent.queueId) {
      const events = await waitForEvent(gw.store, sent.queueId, "deliver:sent");
      const sentEvent = events.find((e) => e.name === "deliver:sent");
      t.equal(sentEvent?.rcpt, 1, "the delivery is recorded per recipient, by envelope position");
    }
    t.equal(pf.queued(), 0, "Postfix has nothing left in its queue");
  },
);

t.test(
  "Postfix with sealgate as its relayhost hands a message over and sealgate delivers it",
  async (t) => {
    if (!requirePostfix(t, "sendmail")) return;
    const gw = await startTestGateway(t, { delivery: { mode: "outbox" } });
    const pf = await startPostfix(t, { relayHost: gw.smtp, relayTls: "may" });

    const messageId = `<${randomBytes(8).toString("hex")}@upstream.postfix.test>`;
    const raw = [
      "From: Carol <carol@tenant.test>",
      "To: Dan <dan@elsewhere.test>",
      "Subject: relayed by postfix",
      `Message-ID: ${messageId}`,
      "Date: Thu, 03 Dec 2026 10:00:00 +0000",
      "",
      "A line that must arrive unchanged.",
      "",
    ].join("\n");
    await pf.sendmail(raw, { from: "carol@tenant.test", to: ["dan@elsewhere.test"] });

    const outbox = gw.config.delivery.outboxDir ?? "";
    const file = await waitFor(
      "a copy in the outbox",
      () => readdirSafe(outbox).find((f) => f.endsWith(".eml")) ?? undefined,
      { timeoutMs: 30_000 },
    ).catch((err: unknown) => {
      t.comment(pf.logTail());
      throw err;
    });
    const eml = readFileSync(path.join(outbox, file), "latin1");
    t.match(eml, new RegExp(`^Message-ID: ${messageId}`, "mi"), "Message-ID survives");
    t.match(eml, /\r\n\r\nA line that must arrive unchanged\.\r\n/, "the body arrives unchanged");
    t.match(eml, /by postfix\.sealgate\.test \(Postfix/, "Postfix's hop is recorded");

    const found = await gw.store.findMessages(messageId);
    t.equal(found.length, 1, "sealgate queued it exactly once");
    await waitFor("Postfix queue to drain", () => (pf.queued() === 0 ? true : undefined));
    t.match(
      pf.logTail(),
      /relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+.*status=sent/,
      "Postfix logs it as sent to sealgate",
    );
  },
);

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
