import t from "tap";
import {
  classifyError,
  classifyReply,
  DeliveryError,
  REPLY_RULES,
} from "../gateway/deliver/index.js";
import { describeError } from "../gateway/deliver/classify.js";

t.test("every reply rule matches the real reply it was written for", async (t) => {
  for (const rule of REPLY_RULES) {
    const c = classifyReply(rule.example);
    t.equal(c.rule, rule.name, `${rule.name}: ${rule.example}`);
    t.equal(c.category, rule.category);
  }
});

t.test("replies follow their class unless a rule knows better", async (t) => {
  t.match(classifyReply("250 2.0.0 Ok: queued as 4F2A"), { action: "sent", category: "accepted" });
  t.match(classifyReply("451 4.3.0 Temporary local problem"), {
    action: "deferred",
    temporary: true,
    category: "remote-temporary",
    status: "4.3.0",
  });
  t.match(classifyReply("550 5.1.1 <x@y.test>: User unknown"), {
    action: "failed",
    temporary: false,
    category: "recipient",
    status: "5.1.1",
  });
  t.match(classifyReply("554 Transaction failed"), { action: "failed", status: "5.0.0" });
  t.match(
    classifyReply("550 5.7.1 Greylisted for 300 seconds"),
    { action: "deferred", temporary: true, category: "greylist", status: "4.7.1" },
    "a greylisting 5xx is retried, with a 4.x.x status",
  );
  t.match(classifyReply("garbage"), { action: "deferred", category: "protocol" });
});

t.test("TLS, network and timeout errors are temporary, never a bounce", async (t) => {
  const tls = Object.assign(new Error("Error initiating TLS - self-signed certificate"), {
    code: "ETLS",
  });
  t.match(classifyError(tls), { category: "tls", temporary: true });
  const cert = Object.assign(new Error("Hostname/IP does not match certificate's altnames"), {
    code: "ESOCKET",
    originalCode: "ERR_TLS_CERT_ALTNAME_INVALID",
  });
  t.match(classifyError(cert), { category: "tls", temporary: true });
  const refused = Object.assign(new Error("connect ECONNREFUSED"), {
    code: "ESOCKET",
    originalCode: "ECONNREFUSED",
  });
  t.match(classifyError(refused), { category: "network", temporary: true, status: "4.4.1" });
  t.match(classifyError(Object.assign(new Error("Timeout"), { code: "ETIMEDOUT" })), {
    category: "timeout",
    temporary: true,
  });
  t.match(classifyError(new TypeError("a bug of ours")), { category: "internal", temporary: true });
});

t.test("only a real handshake failure counts as TLS, not a reply that mentions one", async (t) => {
  const alert = Object.assign(
    new Error("C0:3A:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure"),
    { code: "ESOCKET" },
  );
  t.match(classifyError(alert), { category: "tls", temporary: true, status: "4.7.5" });
  const reply = Object.assign(new Error("Message failed: 550 5.1.1 handshake@x.test unknown"), {
    code: "EENVELOPE",
    response: "550 5.1.1 <handshake@x.test>: Recipient address rejected: User unknown",
  });
  t.match(classifyError(reply), { category: "recipient", temporary: false, status: "5.1.1" });
  const word = Object.assign(new Error("the peer closed the connection after the handshake"), {
    code: "ESOCKET",
    originalCode: "ECONNRESET",
  });
  t.match(classifyError(word), { category: "network" }, "the word alone is not a TLS failure");
});

t.test("a greeting or MAIL FROM reply is classified by its text", async (t) => {
  const greeting = Object.assign(new Error("Invalid greeting"), {
    code: "EPROTOCOL",
    response: "554 5.7.1 Client host blocked using zen.spamhaus.org",
  });
  t.match(classifyError(greeting), { category: "blocklist", temporary: false });
});

t.test("our own errors map to fixed actions", async (t) => {
  t.match(classifyError(new DeliveryError("DNS_NULL_MX", "x")), {
    temporary: false,
    status: "5.1.10",
  });
  t.match(classifyError(new DeliveryError("EIGHTBIT_UNSUPPORTED", "x")), {
    temporary: false,
    status: "5.6.3",
  });
  t.match(classifyError(new DeliveryError("TLS_REQUIRED", "x")), { temporary: true });
});

t.test("a described error never quotes an address", async (t) => {
  const err = Object.assign(new Error("Recipient command failed: 550 5.1.1 <bob@clinic.test>"), {
    code: "EENVELOPE",
  });
  const text = describeError(err);
  t.notMatch(text, /bob|clinic\.test/);
  t.match(text, /^EENVELOPE: Recipient command failed: 550 5\.1\.1/);
});
