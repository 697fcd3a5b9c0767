import t from "tap";
import { createStamp } from "../gateway/loop-guard.js";
import { ehlo, startTestIngress, type TestIngress } from "./helpers/smtp-client.js";

const SECRET = "loop-secret-0123456789";
const MESSAGE_ID = "loop.1@clinic.example";

async function deliver(ing: TestIngress, headers: string[]) {
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  await c.command("MAIL FROM:<staff@clinic.example>");
  await c.command("RCPT TO:<patient@example.org>");
  await c.command("DATA");
  c.write([...headers, "Subject: hi", "", "body", ".", ""].join("\r\n"));
  const reply = await c.read();
  const id = /queued as (\S+)/.exec(reply.text)?.[1];
  return { reply, stored: id ? await ing.store.getMessage(id) : null };
}

const stamp = (hops: number, opts: { secret?: string; id?: string; at?: number } = {}) =>
  "X-Sealgate-Loop: " +
  createStamp(
    { secret: opts.secret ?? SECRET, maxAge: 86400 },
    opts.id ?? MESSAGE_ID,
    { hops, route: "sensitive" },
    opts.at,
  );

t.test("a valid stamp marks the message as seen: route kept, hop count raised", async (t) => {
  const ing = await startTestIngress(t, { loopSecret: SECRET });
  const { reply, stored } = await deliver(ing, [`Message-ID: <${MESSAGE_ID}>`, stamp(1)]);
  t.equal(reply.code, 250);
  t.same(stored?.loop, { route: "sensitive", hops: 2 });
});

t.test("a message back more than maxHops times is refused 554 5.4.6", async (t) => {
  const ing = await startTestIngress(t, {
    loopSecret: SECRET,
    config: { loopGuard: { maxHops: 3 } },
  });
  t.equal((await deliver(ing, [`Message-ID: <${MESSAGE_ID}>`, stamp(2)])).reply.code, 250);
  const { reply } = await deliver(ing, [`Message-ID: <${MESSAGE_ID}>`, stamp(3)]);
  t.equal(reply.code, 554);
  t.match(reply.text, /^5\.4\.6 Routing loop/);
  t.equal(await ing.count(), 1);
});

t.test("forged, foreign and stale stamps count for nothing", async (t) => {
  const ing = await startTestIngress(t, { loopSecret: SECRET });
  const header = `Message-ID: <${MESSAGE_ID}>`;
  const cases = {
    "typed by a user": "X-Sealgate-Loop: v=1; t=1; h=9; r=c; m=AAAA",
    "another secret": stamp(9, { secret: "someone-elses-secret-99" }),
    "another Message-ID": stamp(9, { id: "other@clinic.example" }),
    "older than maxAge": stamp(9, { at: Date.now() - 2 * 86400_000 }),
  };
  for (const [name, value] of Object.entries(cases)) {
    const { reply, stored } = await deliver(ing, [header, value]);
    t.equal(reply.code, 250, `${name}: processed`);
    t.equal(stored?.loop, undefined, `${name}: as a new message`);
  }
});

t.test("without a loop secret no stamp is trusted", async (t) => {
  const ing = await startTestIngress(t);
  const { reply, stored } = await deliver(ing, [`Message-ID: <${MESSAGE_ID}>`, stamp(9)]);
  t.equal(reply.code, 250);
  t.equal(stored?.loop, undefined);
});

t.test("the secret may come from config.loopGuard.secret", async (t) => {
  const ing = await startTestIngress(t, { config: { loopGuard: { secret: SECRET } } });
  const { stored } = await deliver(ing, [`Message-ID: <${MESSAGE_ID}>`, stamp(0)]);
  t.same(stored?.loop, { route: "sensitive", hops: 1 });
});

t.test("more than 50 Received headers is refused as a loop (RFC 5321 §6.3)", async (t) => {
  const ing = await startTestIngress(t);
  const received = (n: number) =>
    Array.from({ length: n }, (_, i) => `Received: from hop${i}.example by mx.example`);
  const { reply } = await deliver(ing, received(51));
  t.equal(reply.code, 554);
  t.match(reply.text, /^5\.4\.6 /);
  t.equal((await deliver(ing, received(50))).reply.code, 250);
  t.equal(await ing.count(), 1);
});
