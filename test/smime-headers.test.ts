import t from "tap";
import { protectHeaders } from "../certs/smime/index.js";
import { sampleMessage } from "./smime-fixtures.js";

const raw = sampleMessage();
const text = raw.toString("latin1");
const body = text.slice(text.indexOf("\r\n\r\n") + 4);

t.test("routing headers stay outside; Bcc and trace headers go nowhere", async (t) => {
  const { outer } = protectHeaders(raw, {});
  t.same(
    outer.map((h) => h.name),
    ["From", "To", "Cc", "Subject", "Date", "Message-ID", "References"],
  );
  t.equal(outer.find((h) => h.name === "Subject")?.value, "Lab results for J. Doe");
});

t.test(
  "a neutral subject replaces the real one outside, the real one travels inside",
  async (t) => {
    const { inner, outer } = protectHeaders(raw, { neutralSubject: "Secure message" });
    t.equal(outer.find((h) => h.name === "Subject")?.value, "Secure message");
    const innerText = inner.toString("latin1");
    t.match(innerText, /\r\nSubject: Lab results for J\. Doe\r\n/);
    t.match(innerText, /^From: Clinic <clinic@example\.org>\r\n/);
    t.notMatch(innerText, /^(Bcc|Received):/m);
  },
);

t.test("the inner entity is the original body and Content-* headers, byte for byte", async (t) => {
  const { inner } = protectHeaders(raw, {});
  const innerText = inner.toString("latin1");
  t.equal(innerText.slice(innerText.indexOf("\r\n\r\n") + 4), body, "the body is untouched");
  t.match(
    innerText,
    /\r\nContent-Type: multipart\/mixed; boundary="outer";\r\n protected-headers="v1"\r\n\r\n/,
    "the original Content-Type, marked on a continuation line",
  );
});

t.test("only protected headers and Content-* go inside", async (t) => {
  const message = Buffer.from(
    [
      "Received: from tenant.example by sealgate",
      "X-MS-Exchange-Organization-AuthAs: Internal",
      "X-MS-Exchange-Organization-SCL: -1",
      "From: Clinic <clinic@example.org>",
      "Sender: desk@example.org",
      "Reply-To: desk@example.org",
      "To: patient@example.net",
      "Cc: records@example.net",
      "Bcc: hidden@example.org",
      "Subject: Lab results",
      "Date: Thu, 3 Dec 2026 10:00:00 +0000",
      "Message-ID: <m2@example.org>",
      "In-Reply-To: <m1@example.net>",
      "References: <m1@example.net>",
      "X-Mailer: Outlook",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8;",
      "Content-Transfer-Encoding: 8bit",
      "",
      "results",
      "",
    ].join("\r\n"),
  );
  const { inner } = protectHeaders(message, { neutralSubject: "Secure message" });
  const head = inner.toString("latin1").split("\r\n\r\n")[0] ?? "";
  const names = head
    .split("\r\n")
    .filter((l) => !/^[ \t]/.test(l))
    .map((l) => l.slice(0, l.indexOf(":")));
  t.same(names, [
    "From",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Content-Type",
    "Content-Transfer-Encoding",
  ]);
  t.match(head, /\r\nContent-Type: text\/plain; charset=utf-8;\r\n protected-headers="v1"\r\n/);
  t.notMatch(inner.toString("latin1"), /X-MS-Exchange|hidden@example\.org|Received|X-Mailer/);
});

t.test("a message without Content-Type gets the RFC 2045 default, marked", async (t) => {
  const { inner } = protectHeaders(Buffer.from("From: a@example.org\r\n\r\nhi\r\n"));
  t.equal(
    inner.toString(),
    'From: a@example.org\r\nContent-Type: text/plain; charset=us-ascii;\r\n protected-headers="v1"\r\n\r\nhi\r\n',
  );
});

t.test("folded headers stay folded inside and are unfolded outside", async (t) => {
  const folded = Buffer.from(
    "From: a@example.org\r\nTo: b@example.net,\r\n c@example.net\r\nSubject: one\r\n two\r\n\r\nhi\r\n",
  );
  const { inner, outer } = protectHeaders(folded, { neutralSubject: "Secure" });
  t.equal(outer.find((h) => h.name === "To")?.value, "b@example.net, c@example.net");
  t.match(
    inner.toString(),
    /To: b@example\.net,\r\n c@example\.net\r\nSubject: one\r\n two\r\nContent-Type: [^\r]*;\r\n protected-headers="v1"\r\n\r\nhi\r\n$/,
  );
});

t.test("a message without a subject gets the neutral one outside", async (t) => {
  const { outer } = protectHeaders(Buffer.from("From: a@example.org\r\n\r\nhi\r\n"), {
    neutralSubject: "Secure",
  });
  t.equal(outer.find((h) => h.name === "Subject")?.value, "Secure");
});

t.test("bare LF input is made canonical CRLF", async (t) => {
  const { inner } = protectHeaders(
    Buffer.from("From: a@example.org\nSubject: x\n\nline1\nline2\n"),
  );
  t.equal(
    inner.toString(),
    "From: a@example.org\r\nSubject: x\r\n" +
      'Content-Type: text/plain; charset=us-ascii;\r\n protected-headers="v1"\r\n' +
      "\r\nline1\r\nline2\r\n",
  );
});

t.test("something that is not a message is refused with a code", async (t) => {
  t.throws(() => protectHeaders(Buffer.from("\r\nno header")), { code: "smime_bad_message" });
  t.throws(() => protectHeaders(Buffer.from("not a header line\r\n\r\nx")), {
    code: "smime_bad_message",
  });
});
