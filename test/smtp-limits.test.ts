import t from "tap";
import { ehlo, startTestIngress, type TestIngress } from "./helpers/smtp-client.js";

async function openData(ing: TestIngress, mailArgs = "") {
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  await c.command(`MAIL FROM:<staff@clinic.example>${mailArgs}`);
  await c.command("RCPT TO:<patient@example.org>");
  await c.command("DATA");
  return c;
}

t.test("recipients over the limit get 452 4.5.3 and the rest still go through", async (t) => {
  const ing = await startTestIngress(t, { smtp: { maxRecipients: 2 } });
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  await c.command("MAIL FROM:<staff@clinic.example>");
  t.equal((await c.command("RCPT TO:<a@example.org>")).code, 250);
  t.equal((await c.command("RCPT TO:<b@example.org>")).code, 250);
  const third = await c.command("RCPT TO:<c@example.org>");
  t.equal(third.code, 452);
  t.match(third.text, /^4\.5\.3 Too many recipients/);
  await c.command("DATA");
  c.write("Subject: hi\r\n\r\nbody\r\n.\r\n");
  const id = /queued as (\S+)/.exec((await c.read()).text)?.[1] ?? "";
  t.same((await ing.store.getMessage(id))?.envelope.rcptTo, ["a@example.org", "b@example.org"]);
});

t.test("a SIZE= declared over the limit is refused at MAIL FROM with 552 5.3.4", async (t) => {
  const ing = await startTestIngress(t, { smtp: { maxMessageBytes: 1000 } });
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  const reply = await c.command("MAIL FROM:<staff@clinic.example> SIZE=2000");
  t.equal(reply.code, 552);
  t.match(reply.text, /^5\.3\.4 /);
  t.equal((await c.command("MAIL FROM:<staff@clinic.example> SIZE=900")).code, 250);
});

t.test("a message over the size limit is refused with 552 5.3.4 and not queued", async (t) => {
  const ing = await startTestIngress(t, { smtp: { maxMessageBytes: 1000 } });
  const c = await openData(ing);
  c.write(`Subject: big\r\n\r\n${"x".repeat(70)}\r\n`.repeat(20) + ".\r\n");
  const reply = await c.read();
  t.equal(reply.code, 552);
  t.match(reply.text, /^5\.3\.4 Message exceeds/);
  t.equal(await ing.count(), 0);
  const fits = await openData(ing);
  fits.write("Subject: small\r\n\r\nbody\r\n.\r\n");
  t.equal((await fits.read()).code, 250);
});

t.test(
  "a line over maxLineOctets is refused with 550 5.5.2; one at the limit passes",
  async (t) => {
    const ing = await startTestIngress(t, { smtp: { maxLineOctets: 100 } });
    const long = await openData(ing);
    long.write(`Subject: hi\r\n\r\n${"y".repeat(101)}\r\n.\r\n`);
    const reply = await long.read();
    t.equal(reply.code, 550);
    t.match(reply.text, /^5\.5\.2 Message has a line longer/);
    t.equal(await ing.count(), 0);
    const exact = await openData(ing);
    exact.write(`Subject: hi\r\n\r\n${"y".repeat(100)}\r\n.\r\n`);
    t.equal((await exact.read()).code, 250);
    t.equal(await ing.count(), 1);
  },
);

t.test("an idle client is closed with 421 4.4.2", async (t) => {
  const ing = await startTestIngress(t, { smtp: { idleTimeout: 0.3 } });
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  const reply = await c.read(3000);
  t.equal(reply.code, 421);
  t.match(reply.text, /^4\.4\.2 Idle timeout/);
  await c.closed;
  t.pass("the server closed the connection");
});

t.test("connections over the total limit get 421 4.7.0; a freed slot is reused", async (t) => {
  const ing = await startTestIngress(t, { smtp: { maxConnections: 2, maxConnectionsPerIp: 50 } });
  const first = await ing.connect();
  t.equal((await first.read()).code, 220);
  const second = await ing.connect();
  t.equal((await second.read()).code, 220);
  const third = await ing.connect();
  const refused = await third.read();
  t.equal(refused.code, 421);
  t.match(refused.text, /^4\.7\.0 Too many connections, try again later/);
  await third.closed;
  await first.command("QUIT");
  await first.closed;
  await new Promise((r) => setTimeout(r, 50));
  const again = await ing.connect();
  t.equal((await again.read()).code, 220, "the slot freed by QUIT is available again");
});

t.test(
  "connections over the per-address limit get 421 4.7.0; other addresses still connect",
  async (t) => {
    const ing = await startTestIngress(t, { smtp: { maxConnections: 10, maxConnectionsPerIp: 2 } });
    for (let i = 0; i < 2; i++) {
      const c = await ing.connect();
      t.equal((await c.read()).code, 220);
    }
    const over = await ing.connect();
    const refused = await over.read();
    t.equal(refused.code, 421);
    t.match(refused.text, /^4\.7\.0 Too many connections from your address/);
    const other = await ing.connect({ localAddress: "127.0.0.2" });
    t.equal((await other.read()).code, 220, "127.0.0.2 has its own allowance");
  },
);

t.test("with requireTls, MAIL before STARTTLS gets 530 5.7.0", async (t) => {
  const ing = await startTestIngress(t, { smtp: { requireTls: true } });
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  const reply = await c.command("MAIL FROM:<staff@clinic.example>");
  t.equal(reply.code, 530);
  t.match(reply.text, /^5\.7\.0 /);
  await c.command("STARTTLS");
  await c.startTls({ servername: "sealgate.test" });
  await ehlo(c);
  t.equal((await c.command("MAIL FROM:<staff@clinic.example>")).code, 250);
});

t.test("a command line over 4096 octets ends only that session", async (t) => {
  const ing = await startTestIngress(t);
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  c.write(`MAIL FROM:<${"a".repeat(5000)}@clinic.example>\r\n`);
  const reply = await c.read();
  t.equal(reply.code, 421);
  await c.closed;
  const next = await ing.connect();
  t.equal((await next.read()).code, 220, "the server keeps serving");
});

t.test("garbage instead of a TLS handshake ends only that session", async (t) => {
  const ing = await startTestIngress(t);
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  t.equal((await c.command("STARTTLS")).code, 220);
  c.write("this is not a TLS ClientHello\r\n".repeat(20));
  await c.closed;
  t.pass("the server closed the connection");
  const next = await ing.connect();
  t.equal((await next.read()).code, 220, "the server keeps serving");
  t.equal(await ing.count(), 0);
});
