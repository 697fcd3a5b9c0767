import { execFile } from "node:child_process";
import { promisify } from "node:util";
import t from "tap";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import type { Store } from "../gateway/store/index.js";
import { ehlo, startTestIngress } from "./helpers/smtp-client.js";
import { requireTools } from "./helpers/tools.js";

const run = promisify(execFile);

/** The real store with enqueue() replaced; every other method still runs on the store. */
function withEnqueue(store: Store, enqueue: Store["enqueue"]): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "enqueue") return enqueue;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const MESSAGE = [
  "From: Staff <staff@clinic.example>",
  "To: Patient <patient@example.org>",
  "Subject: lab results",
  "Message-ID: <abc.123@clinic.example>",
  "",
  "line one",
  "..a line that starts with a dot",
  "",
].join("\r\n");

t.test(
  "EHLO offers STARTTLS, SIZE, 8BITMIME, SMTPUTF8, PIPELINING, ENHANCEDSTATUSCODES",
  async (t) => {
    const ing = await startTestIngress(t, { smtp: { maxMessageBytes: 123456 } });
    const c = await ing.connect();
    t.equal((await c.read()).code, 220);
    const reply = await ehlo(c);
    t.equal(reply.code, 250);
    for (const ext of ["STARTTLS", "SIZE 123456", "8BITMIME", "SMTPUTF8", "PIPELINING"]) {
      t.ok(reply.lines.includes(ext), `offers ${ext}`);
    }
    t.ok(reply.lines.includes("ENHANCEDSTATUSCODES"));
    t.notOk(
      reply.lines.some((l) => l.startsWith("AUTH")),
      "no AUTH: connectors are by address",
    );
  },
);

t.test(
  "a message is answered 250 with its queue id only once stored, bytes unchanged",
  async (t) => {
    const ing = await startTestIngress(t);
    const c = await ing.connect();
    await c.read();
    await ehlo(c);
    t.equal((await c.command("MAIL FROM:<staff@clinic.example> BODY=8BITMIME SMTPUTF8")).code, 250);
    t.equal((await c.command("RCPT TO:<patient@example.org>")).code, 250);
    t.equal((await c.command("RCPT TO:<second@example.org>")).code, 250);
    t.equal((await c.command("DATA")).code, 354);
    c.write(`${MESSAGE}.\r\n`);
    const reply = await c.read();
    t.equal(reply.code, 250);
    const m = /^2\.0\.0 Ok: queued as ([0-9A-Z]{17})$/.exec(reply.text);
    t.ok(m, `reply names the queue id: ${reply.text}`);
    const queueId = m?.[1] ?? "";

    const stored = await ing.store.getMessage(queueId);
    t.ok(stored, "the queue id is in the store");
    t.equal(stored?.raw?.toString("latin1"), MESSAGE.replace("\r\n..a line", "\r\n.a line"));
    t.same(stored?.envelope, {
      mailFrom: "staff@clinic.example",
      rcptTo: ["patient@example.org", "second@example.org"],
    });
    t.equal(stored?.messageId, "abc.123@clinic.example");
    t.equal(stored?.connector, "loopback");
    t.equal(stored?.clientIp, "127.0.0.1");
    t.equal(stored?.eightBit, true);
    t.equal(stored?.smtpUtf8, true);
    t.equal(stored?.origin, "ingress");
    t.same(ing.queued, [queueId], "the queue runner was woken with the id");
    const events = await ing.store.events(queueId);
    t.same(
      events.map((e) => e.name),
      ["smtp:received"],
    );
  },
);

t.test("a 7bit message without SMTPUTF8 is recorded as such", async (t) => {
  const ing = await startTestIngress(t);
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  await c.command("MAIL FROM:<staff@clinic.example>");
  await c.command("RCPT TO:<patient@example.org>");
  await c.command("DATA");
  c.write(`${MESSAGE}.\r\n`);
  const id = /queued as (\S+)/.exec((await c.read()).text)?.[1] ?? "";
  const stored = await ing.store.getMessage(id);
  t.equal(stored?.eightBit, false);
  t.equal(stored?.smtpUtf8, false);
});

t.test("pipelined commands are answered in order and the message is queued", async (t) => {
  const ing = await startTestIngress(t);
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  c.write(
    "MAIL FROM:<staff@clinic.example>\r\n" +
      "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
  );
  t.same(
    [(await c.read()).code, (await c.read()).code, (await c.read()).code, (await c.read()).code],
    [250, 250, 250, 354],
  );
  c.write(`${MESSAGE}.\r\nQUIT\r\n`);
  t.equal((await c.read()).code, 250);
  t.equal((await c.read()).code, 221);
  t.equal(await ing.count(), 1);
});

t.test("a real client (nodemailer) sends over STARTTLS and the message is queued", async (t) => {
  const ing = await startTestIngress(t);
  const conn = new SMTPConnection({
    host: ing.host,
    port: ing.port,
    requireTLS: true,
    tls: { ca: ing.tls.cert, servername: "sealgate.test" },
    name: "client.test",
  });
  await new Promise<void>((resolve, reject) => {
    conn.once("error", reject);
    conn.connect(() => resolve());
  });
  t.ok(conn.secure, "the session is encrypted");
  const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) =>
    conn.send({ from: "staff@clinic.example", to: ["patient@example.org"] }, MESSAGE, (err, i) =>
      err ? reject(err) : resolve(i),
    ),
  );
  conn.quit();
  t.match(info.response, /^250 2\.0\.0 Ok: queued as [0-9A-Z]{17}$/);
  t.equal(await ing.count(), 1);
});

t.test(
  "when the store cannot write, the client gets 451 4.3.0 and nothing is queued",
  async (t) => {
    const ing = await startTestIngress(t, {
      wrapStore: (store) =>
        withEnqueue(store, async () => {
          throw Object.assign(new Error("disk I/O error on patient@example.org"), {
            code: "SQLITE_IOERR",
          });
        }),
    });
    const c = await ing.connect();
    await c.read();
    await ehlo(c);
    await c.command("MAIL FROM:<staff@clinic.example>");
    await c.command("RCPT TO:<patient@example.org>");
    await c.command("DATA");
    c.write(`${MESSAGE}.\r\n`);
    const reply = await c.read();
    t.equal(reply.code, 451);
    t.match(reply.text, /^4\.3\.0 /);
    t.equal(await ing.count(), 0);
    t.same(ing.queued, []);
    const failure = ing.logs.find((l) => l.outcome === "spool-failed");
    t.equal(failure?.errorCode, "SQLITE_IOERR");
    t.notMatch(JSON.stringify(ing.logs), /patient@|disk I\/O/, "no address nor error text logged");
  },
);

t.test(
  "one summary line per message and per connection, without addresses or subjects",
  async (t) => {
    const ing = await startTestIngress(t);
    const c = await ing.connect();
    await c.read();
    await ehlo(c);
    await c.command("MAIL FROM:<staff@clinic.example>");
    await c.command("RCPT TO:<patient@example.org>");
    await c.command("RCPT TO:<other@example.org>");
    await c.command("DATA");
    c.write(`${MESSAGE}.\r\n`);
    await c.read();
    await c.command("QUIT");
    await c.closed;
    await new Promise((r) => setTimeout(r, 50));

    const messages = ing.logs.filter((l) => l.event === "smtp:message");
    const connections = ing.logs.filter((l) => l.event === "smtp:connection");
    t.equal(messages.length, 1);
    t.equal(connections.length, 1);
    t.match(messages[0], { rcptCount: 2, connector: "loopback", clientIp: "127.0.0.1" });
    t.type(messages[0]?.size, "number");
    t.match(connections[0], { accepted: 1, refused: 0, clientIp: "127.0.0.1" });
    t.equal(messages[0]?.cid, connections[0]?.cid, "both carry the connection id");
    const all = JSON.stringify(ing.logs);
    t.notMatch(all, /clinic\.example|example\.org|lab results/);
  },
);

t.test("swaks sends over STARTTLS with pipelining and the message is queued", async (t) => {
  if (!requireTools(t, "swaks")) return;
  const ing = await startTestIngress(t);
  const { stdout } = await run("swaks", [
    "--server",
    ing.host,
    "--port",
    String(ing.port),
    "--tls",
    "--pipeline",
    "--ehlo",
    "client.test",
    "--from",
    "staff@clinic.example",
    "--to",
    "patient@example.org",
    "--header",
    "Subject: swaks",
    "--body",
    "hello from swaks",
  ]);
  t.match(stdout, /<~ *250 2\.0\.0 Ok: queued as [0-9A-Z]{17}/);
  t.equal(await ing.count(), 1);
});

t.test("the 250 waits for the store: no reply while enqueue has not resolved", async (t) => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const ing = await startTestIngress(t, {
    wrapStore: (store) =>
      withEnqueue(store, async (m, received) => {
        await gate;
        return store.enqueue(m, received);
      }),
  });
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  await c.command("MAIL FROM:<staff@clinic.example>");
  await c.command("RCPT TO:<patient@example.org>");
  await c.command("DATA");
  c.write(`${MESSAGE}.\r\n`);
  t.ok(await c.silentFor(400), "no reply before the store confirmed the write");
  t.equal(await ing.count(), 0);
  release();
  const reply = await c.read();
  t.equal(reply.code, 250);
  t.equal(await ing.count(), 1);
  const id = /queued as (\S+)/.exec(reply.text)?.[1] ?? "";
  t.same(
    (await ing.store.events(id)).map((e) => e.name),
    ["smtp:received"],
    "the received event was committed with the message",
  );
});

t.test("a client that leaves in the middle of DATA leaves nothing queued", async (t) => {
  const ing = await startTestIngress(t);
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  await c.command("MAIL FROM:<staff@clinic.example>");
  await c.command("RCPT TO:<patient@example.org>");
  await c.command("DATA");
  c.write("Subject: half\r\n\r\nhalf a mess");
  await new Promise((r) => setTimeout(r, 50));
  await c.close();
  await new Promise((r) => setTimeout(r, 100));
  t.equal(await ing.count(), 0);
  const next = await ing.connect();
  t.equal((await next.read()).code, 220, "the server keeps serving");
  t.ok(ing.logs.some((l) => l.outcome === "aborted"));
});

t.test("without SMTPUTF8 the envelope stays ASCII: IDN domains as A-labels", async (t) => {
  const ing = await startTestIngress(t);
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  t.equal((await c.command("MAIL FROM:<staff@xn--bcher-kva.example>")).code, 250);
  t.equal((await c.command("RCPT TO:<patient@xn--bcher-kva.example>")).code, 250);
  const utf8Local = await c.command("RCPT TO:<pätient@example.org>");
  t.equal(utf8Local.code, 553, "a non-ASCII local part needs SMTPUTF8");
  t.match(utf8Local.text, /^5\.6\.7 /);
  await c.command("DATA");
  c.write(`${MESSAGE}.\r\n`);
  const id = /queued as (\S+)/.exec((await c.read()).text)?.[1] ?? "";
  t.same((await ing.store.getMessage(id))?.envelope, {
    mailFrom: "staff@xn--bcher-kva.example",
    rcptTo: ["patient@xn--bcher-kva.example"],
  });

  await c.command("MAIL FROM:<stäff@bücher.example> SMTPUTF8");
  t.equal((await c.command("RCPT TO:<pätient@bücher.example>")).code, 250);
  await c.command("DATA");
  c.write(`${MESSAGE}.\r\n`);
  const utf8Id = /queued as (\S+)/.exec((await c.read()).text)?.[1] ?? "";
  t.same((await ing.store.getMessage(utf8Id))?.envelope.rcptTo, ["pätient@bücher.example"]);
});

t.test("8-bit bodies are stored byte for byte, whatever their charset", async (t) => {
  const ing = await startTestIngress(t);
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  await c.command("MAIL FROM:<staff@clinic.example> BODY=8BITMIME");
  await c.command("RCPT TO:<patient@example.org>");
  await c.command("DATA");
  const body = Buffer.concat([
    Buffer.from("Subject: =?utf-8?q?R=C3=A9sultats?=\r\nContent-Type: text/plain\r\n\r\n"),
    Buffer.from("caf\xe9 in latin1\r\n", "latin1"),
    Buffer.from("café in UTF-8, \u{1F600}\r\n", "utf8"),
    Buffer.from([0x00, 0x7f, 0xff, 0x0d, 0x0a]),
  ]);
  c.write(Buffer.concat([body, Buffer.from(".\r\n")]));
  const id = /queued as (\S+)/.exec((await c.read()).text)?.[1] ?? "";
  const stored = await ing.store.getMessage(id);
  t.ok(stored?.raw?.equals(body), "the stored bytes are the bytes sent");
  t.equal(stored?.eightBit, true);
});
