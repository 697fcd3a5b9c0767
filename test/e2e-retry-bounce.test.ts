import t from "tap";
import { runCli, startTestGateway, waitForEvent } from "./helpers/gateway.js";
import { requirePostfix, startPostfix, type PostfixOptions } from "./helpers/postfix.js";
import { swaks } from "./helpers/swaks.js";

/**
 * Retries and bounces against a real next hop: a Postfix whose recipient restrictions answer
 * 450 or 550 for chosen mailboxes, as a tenant's smart host or a recipient MX would.
 */

function refusing(map: Record<string, string>): PostfixOptions {
  const entries = Object.entries(map)
    .map(([address, reply]) => `{ ${address} = ${reply} }`)
    .join(", ");
  return {
    settings: {
      smtpd_recipient_restrictions: [
        `check_recipient_access inline:{ ${entries} }`,
        "permit_mynetworks",
        "reject_unauth_destination",
      ].join(", "),
    },
  };
}

function smarthostTo(port: number) {
  return {
    delivery: {
      mode: "smarthost",
      smartHost: { host: "127.0.0.1", port, requireTls: false },
      retrySchedule: [1],
    },
  };
}

function headerOf(raw: Buffer, name: string): string | undefined {
  const m = new RegExp(`^${name}:\\s*(.*)$`, "mi").exec(raw.toString("latin1"));
  return m?.[1]?.trim();
}

t.test(
  "a 450 from the next hop is retried and the message is delivered once it accepts",
  async (t) => {
    if (!requirePostfix(t, "swaks")) return;
    const pf = await startPostfix(t, refusing({ "busy@postfix.test": "450 4.2.1 mailbox busy" }));
    const gw = await startTestGateway(t, smarthostTo(pf.port));

    const sent = await swaks({
      server: gw.smtp,
      from: "alice@tenant.test",
      to: ["busy@postfix.test"],
      headers: { Subject: "try again", "Message-Id": "<retry-1@tenant.test>" },
      body: "Delivered on a later attempt.",
    });
    t.equal(sent.exitCode, 0, "sealgate accepts the message");
    const queueId = sent.queueId ?? "";

    const deferred = await waitForEvent(gw.store, queueId, "deliver:deferred");
    const event = deferred.find((e) => e.name === "deliver:deferred");
    t.equal(event?.rcpt, 1, "the deferral names the recipient by its envelope position");
    t.match(JSON.stringify(event?.data), /450/, "and records the 450 reply");
    t.same(pf.messages(), [], "nothing is delivered while the next hop refuses");

    await pf.reconfigure({});
    const [msg] = await pf.waitForMessages(1, 30_000);
    t.equal(headerOf(msg ?? Buffer.alloc(0), "Delivered-To"), "busy@postfix.test", "it arrives");
    await waitForEvent(gw.store, queueId, "deliver:sent");
    const [delivery] = await gw.store.deliveries(queueId);
    t.ok((delivery?.attempts ?? 0) >= 2, "after more than one attempt");
    t.equal(delivery?.state, "done", "and the copy is done");

    await gw.stop();
    const trace = await runCli(["trace", queueId, "--config", gw.files.file]);
    t.equal(trace.code, 0, "sealgate trace succeeds");
    t.match(trace.stdout, queueId, "the timeline names the queue id");
    t.match(trace.stdout, /secure:route\s+busy@postfix\.test .*route=clean/, "it shows the route");
    t.match(trace.stdout, /deliver:deferred\s+busy@postfix\.test .*450/, "then the deferral");
    t.match(trace.stdout, /deliver:sent\s+busy@postfix\.test/, "then the delivery");
    t.ok(
      trace.stdout.indexOf("deliver:deferred") < trace.stdout.indexOf("deliver:sent"),
      "in that order",
    );
    t.notMatch(trace.stdout, /try again|later attempt/, "without the subject or body");

    const byMessageId = await runCli(["trace", "<retry-1@tenant.test>", "--config", gw.files.file]);
    t.match(byMessageId.stdout, queueId, "the Message-ID finds the same message");
  },
);

t.test("a 550 from the next hop bounces an RFC 3464 report to the sender", async (t) => {
  if (!requirePostfix(t, "swaks")) return;
  const pf = await startPostfix(
    t,
    refusing({ "gone@postfix.test": "550 5.1.1 mailbox unavailable" }),
  );
  const gw = await startTestGateway(t, smarthostTo(pf.port));

  const sent = await swaks({
    server: gw.smtp,
    from: "alice@postfix.test",
    to: ["gone@postfix.test"],
    headers: { Subject: "to a closed mailbox", "Message-Id": "<bounce-1@postfix.test>" },
    body: "This one cannot be delivered.",
  });
  t.equal(sent.exitCode, 0, "sealgate accepts the message");
  const queueId = sent.queueId ?? "";

  const events = await waitForEvent(gw.store, queueId, "deliver:dsn");
  const bounced = events.find((e) => e.name === "deliver:bounced");
  t.equal(bounced?.rcpt, 1, "the bounce is recorded per recipient (its envelope position)");

  const [dsn] = await pf.waitForMessages(1, 30_000);
  const raw = dsn?.toString("latin1") ?? "";
  t.equal(headerOf(dsn ?? Buffer.alloc(0), "Delivered-To"), "alice@postfix.test", "to the sender");
  t.equal(headerOf(dsn ?? Buffer.alloc(0), "Return-Path"), "<>", "from the null sender");
  t.match(
    raw,
    /^Content-Type: multipart\/report;[^]*report-type="?delivery-status/im,
    "a multipart/report",
  );
  t.match(raw, /^Content-Type: message\/delivery-status/im, "with a delivery-status part");
  t.match(raw, /^Reporting-MTA: dns;/im, "naming the reporting MTA");
  t.match(raw, /^Final-Recipient: rfc822;\s*gone@postfix\.test/im, "the failed recipient");
  t.match(raw, /^Action: failed/im, "the action");
  t.match(raw, /^Status: 5\.1\.1/im, "the status");
  t.match(
    raw,
    /^Diagnostic-Code: smtp;\s*550 5\.1\.1 [^]*?rejected:\s+mailbox\s+unavailable/im,
    "the reply",
  );
  t.equal(pf.messages().length, 1, "and the original never reached the closed mailbox");
});
