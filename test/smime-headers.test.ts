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
  t.match(innerText, /\r\nContent-Type: multipart\/mixed; boundary="outer"\r\n\r\n/);
});

t.test("folded headers stay folded inside and are unfolded outside", async (t) => {
  const folded = Buffer.from(
    "From: a@example.org\r\nTo: b@example.net,\r\n c@example.net\r\nSubject: one\r\n two\r\n\r\nhi\r\n",
  );
  const { inner, outer } = protectHeaders(folded, { neutralSubject: "Secure" });
  t.equal(outer.find((h) => h.name === "To")?.value, "b@example.net, c@example.net");
  t.match(
    inner.toString(),
    /To: b@example\.net,\r\n c@example\.net\r\nSubject: one\r\n two\r\n\r\nhi\r\n$/,
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
  t.equal(inner.toString(), "From: a@example.org\r\nSubject: x\r\n\r\nline1\r\nline2\r\n");
});

t.test("something that is not a message is refused with a code", async (t) => {
  t.throws(() => protectHeaders(Buffer.from("\r\nno header")), { code: "smime_bad_message" });
  t.throws(() => protectHeaders(Buffer.from("not a header line\r\n\r\nx")), {
    code: "smime_bad_message",
  });
});
