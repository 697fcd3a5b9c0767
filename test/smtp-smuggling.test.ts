import t, { type Test } from "tap";
import { ehlo, startTestIngress, type TestIngress } from "./helpers/smtp-client.js";

const SMUGGLED =
  "MAIL FROM:<ceo@clinic.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n" +
  "Subject: smuggled\r\n\r\nsecond message\r\n";

/** Endings of the first message's last line that some MTA somewhere reads as end-of-data. */
const VECTORS: Record<string, string> = {
  "LF . LF": "\n.\n",
  "LF . CRLF": "\n.\r\n",
  "CRLF . LF": "\r\n.\n",
  "CR . CR": "\r.\r",
  "CR . CRLF": "\r.\r\n",
  "CRLF . CR": "\r\n.\r",
  "LF . CR": "\n.\r",
};

async function openTransaction(t: Test, ing: TestIngress) {
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  await c.command("MAIL FROM:<staff@clinic.example>");
  await c.command("RCPT TO:<patient@example.org>");
  t.equal((await c.command("DATA")).code, 354);
  return c;
}

for (const [name, vector] of Object.entries(VECTORS)) {
  t.test(`smuggling with ${name} queues nothing and earns one 550 5.5.2`, async (t) => {
    const ing = await startTestIngress(t);
    const c = await openTransaction(t, ing);
    c.write(`Subject: first\r\n\r\nfirst message${vector}`);
    c.write(`${SMUGGLED}.\r\n`);
    const reply = await c.read();
    t.equal(reply.code, 550);
    t.match(reply.text, /^5\.5\.2 Bare <CR> or <LF>/);
    t.ok(await c.silentFor(300), "no second reply: the smuggled commands never ran");
    t.equal((await c.command("RSET")).code, 250, "the session goes on");
    t.equal(await ing.count(), 0, "nothing is queued");
  });
}

t.test("a NUL before the dot does not end the data: one message, nothing smuggled", async (t) => {
  const ing = await startTestIngress(t);
  const c = await openTransaction(t, ing);
  c.write(`Subject: first\r\n\r\nfirst message\r\n\0.\r\n${SMUGGLED}.\r\n`);
  t.equal((await c.read()).code, 250);
  t.ok(await c.silentFor(300), "exactly one reply");
  t.equal(await ing.count(), 1, "at most one message");
});

t.test("a bare LF in a header refuses the whole message", async (t) => {
  const ing = await startTestIngress(t);
  const c = await openTransaction(t, ing);
  c.write("Subject: hi\nX-Injected: yes\r\n\r\nbody\r\n.\r\n");
  const reply = await c.read();
  t.equal(reply.code, 550);
  t.match(reply.text, /^5\.5\.2 /);
  t.equal(await ing.count(), 0);
});

t.test("a bare CR split across TCP writes is still found", async (t) => {
  const ing = await startTestIngress(t);
  const c = await openTransaction(t, ing);
  c.write("Subject: hi\r\n\r\nbody\r");
  await new Promise((r) => setTimeout(r, 50));
  c.write("X more\r\n.\r\n");
  t.equal((await c.read()).code, 550);
  t.equal(await ing.count(), 0);
});

t.test("a CRLF split across TCP writes is accepted as one line ending", async (t) => {
  const ing = await startTestIngress(t);
  const c = await openTransaction(t, ing);
  c.write("Subject: hi\r");
  await new Promise((r) => setTimeout(r, 50));
  c.write("\n\r\nbody\r");
  await new Promise((r) => setTimeout(r, 50));
  c.write("\n.\r\n");
  const reply = await c.read();
  t.equal(reply.code, 250, reply.text);
  const id = /queued as (\S+)/.exec(reply.text)?.[1] ?? "";
  t.equal((await ing.store.getMessage(id))?.raw?.toString(), "Subject: hi\r\n\r\nbody\r\n");
});

t.test("plaintext pipelined after STARTTLS is discarded, never run inside TLS", async (t) => {
  const ing = await startTestIngress(t);
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  // CVE-2011-0411: commands sent in the same packet as STARTTLS, before the handshake.
  c.write("STARTTLS\r\nMAIL FROM:<attacker@evil.example>\r\n");
  t.equal((await c.read()).code, 220);
  await c.startTls({ servername: "sealgate.test" });
  const hello = await ehlo(c);
  t.equal(hello.code, 250, "the first reply inside TLS answers our EHLO");
  t.notOk(hello.lines.includes("STARTTLS"), "STARTTLS is not offered twice");
  const rcpt = await c.command("RCPT TO:<victim@example.org>");
  t.equal(rcpt.code, 503, "no MAIL transaction exists: the injected MAIL never ran");
  t.ok(await c.silentFor(200));
});

t.test("a whole injected transaction after STARTTLS queues nothing", async (t) => {
  const ing = await startTestIngress(t);
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  c.write(`STARTTLS\r\nEHLO evil.example\r\n${SMUGGLED}.\r\n`);
  t.equal((await c.read()).code, 220);
  await c.startTls({ servername: "sealgate.test" });
  t.equal((await ehlo(c)).code, 250);
  t.equal((await c.command("QUIT")).code, 221);
  t.equal(await ing.count(), 0);
});

t.test("envelope fields and EHLO with control characters are refused", async (t) => {
  const ing = await startTestIngress(t);
  const c = await ing.connect();
  await c.read();
  const badHelo = await c.command("EHLO client\x01.test");
  t.equal(badHelo.code, 501);
  t.match(badHelo.text, /^5\.5\.4 /);
  const crHelo = await c.command("EHLO client\r.test");
  t.equal(crHelo.code, 501);
  t.match(crHelo.text, /^5\.5\.4 /);
  await ehlo(c);
  const badFrom = await c.command("MAIL FROM:<staff\x07@clinic.example>");
  t.equal(badFrom.code, 501);
  t.match(badFrom.text, /^5\.1\.7 /);
  const xtext = await c.command("MAIL FROM:<staff@clinic.example> ENVID=a+0D+0Ab");
  t.equal(xtext.code, 501, "CRLF hidden in xtext is refused too");
  t.equal((await c.command("MAIL FROM:<staff@clinic.example>")).code, 250);
  const badRcpt = await c.command("RCPT TO:<pat\x7fient@example.org>");
  t.equal(badRcpt.code, 501);
  t.match(badRcpt.text, /^5\.1\.3 /);
  t.equal(await ing.count(), 0);
});
