import { simpleParser } from "mailparser";
import t from "tap";
import { buildDsn } from "../gateway/queue/dsn.js";
import { leased, sampleRaw } from "./helpers/deliveries.js";

const message = leased({
  raw: sampleRaw({ headers: ["Bcc: secret@hidden.test", "X-MS-Exchange-Organization-SCL: 1"] }),
}).message;

function build(sensitive: boolean | undefined, includeHeaders = true) {
  return buildDsn({
    message,
    recipients: [
      {
        address: "bob@recipient.test",
        action: "failed",
        status: "5.1.1",
        diagnostic: "550 5.1.1 User unknown\r\nsecond line",
        remoteMta: "mx.recipient.test",
      },
      {
        address: "carol@recipient.test",
        action: "delayed",
        status: "4.4.1",
        diagnostic: "connection refused",
      },
    ],
    reportingMta: "gw.sealgate.test",
    postmaster: "postmaster@sealgate.test",
    organisation: "Example Clinic",
    includeHeaders,
    sensitive,
  });
}

t.test("a DSN goes from <> to the original sender and is marked as a DSN", async (t) => {
  const dsn = build(true);
  t.same(dsn.envelope, { mailFrom: "", rcptTo: ["alice@sender.test"] });
  t.equal(dsn.origin, "dsn");
  t.equal(dsn.eightBit, false);
  t.notMatch(dsn.raw.toString("latin1"), /\r(?!\n)|(?<!\r)\n/, "CRLF only");
});

t.test("a DSN is a multipart/report with the RFC 3464 fields per recipient", async (t) => {
  const dsn = build(true);
  const raw = dsn.raw.toString("latin1");
  t.match(raw, /Content-Type: multipart\/report; report-type=delivery-status;/);
  t.match(raw, /^Auto-Submitted: auto-replied\r$/m);
  const parsed = await simpleParser(dsn.raw);
  t.equal(parsed.from?.value[0]?.address, "postmaster@sealgate.test");
  t.match(parsed.text ?? "", /could not be delivered[\s\S]*bob@recipient\.test/);
  t.match(parsed.text ?? "", /not been delivered yet[\s\S]*carol@recipient\.test/);
  t.notMatch(parsed.subject ?? "", /Lab results/, "the DSN subject never repeats the original");

  const status = /Content-Type: message\/delivery-status\r\n\r\n([\s\S]*?)\r\n--/.exec(raw)?.[1];
  t.ok(status, "a message/delivery-status part");
  const [head, bob, carol] = (status ?? "").split("\r\n\r\n");
  t.match(head, /^Reporting-MTA: dns; gw\.sealgate\.test\r\n/);
  t.match(head, /Arrival-Date: \w{3}, \d\d \w{3} \d{4} [\d:]{8} \+0000/);
  t.match(bob, /Final-Recipient: rfc822; bob@recipient\.test/);
  t.match(bob, /Action: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.recipient\.test/);
  t.match(bob, /Diagnostic-Code: smtp; 550 5\.1\.1 User unknown second line/, "one line");
  t.match(carol, /Action: delayed\r\nStatus: 4\.4\.1\r\nDiagnostic-Code: X-Sealgate; conn/);
});

t.test("the attached headers leave out Bcc, tenant headers and a sensitive Subject", async (t) => {
  const sensitive = build(true).raw.toString("latin1");
  const headers = /text\/rfc822-headers\r\n\r\n([\s\S]*?)\r\n--/.exec(sensitive)?.[1] ?? "";
  t.match(headers, /^Message-ID: <sample-1@sender\.test>$/m);
  t.notMatch(headers, /^Subject:/m, "no Subject from a sensitive copy");
  t.notMatch(headers, /hidden\.test|Organization/i);
  const clean = build(false).raw.toString("latin1");
  t.match(clean, /^Subject: Lab results for review\r$/m, "a clean copy's Subject is kept");
  t.notMatch(build(true, false).raw.toString("latin1"), /rfc822-headers/);
});
