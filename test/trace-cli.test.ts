import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";
import { SqliteStore } from "../gateway/store/sqlite.js";
import { runCli } from "./helpers/gateway.js";

/**
 * Events hold a recipient's position in the envelope, never its address; `sealgate trace`
 * shows the operator the address by resolving that position against the stored envelope.
 */

const RCPT = ["ann@alpha.example", "pat@gamma.example"];

t.test("sealgate trace shows each event's recipient from the stored envelope", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-trace-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore({ dataDir: dir });
  const id = await store.enqueue({
    envelope: { mailFrom: "dr@clinic.example", rcptTo: RCPT },
    raw: Buffer.from("Subject: private\r\n\r\nbody\r\n"),
    messageId: "trace-1@clinic.example",
    connector: "m365",
    clientIp: "127.0.0.1",
    origin: "ingress",
    eightBit: false,
    smtpUtf8: false,
  });
  await store.routeMessage(
    id,
    [{ recipients: RCPT, route: "tls", nextHop: "gamma.example", sensitive: true }],
    RCPT.map((recipient) => ({
      queueId: id,
      name: "secure:route" as const,
      recipient,
      data: { route: "tls" },
    })),
  );
  const [delivery] = await store.leaseDeliveries({ owner: "n", limit: 1, leaseMs: 60_000 });
  await store.completeDelivery(delivery!.id, {
    sent: [{ address: RCPT[0]!, reply: "250 ok" }],
    failed: [{ address: RCPT[1]!, reply: "550 5.1.1 <pat@gamma.example>: unknown" }],
    deferred: [],
    events: [
      { queueId: id, name: "deliver:sent", recipient: RCPT[0], data: { code: 250 } },
      { queueId: id, name: "deliver:bounced", recipient: RCPT[1], data: { code: 550 } },
    ],
  });
  await store.close();

  const text = await runCli(["trace", id, "--data", dir]);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /secure:route\s+ann@alpha\.example route=tls/);
  t.match(text.stdout, /secure:route\s+pat@gamma\.example route=tls/);
  t.match(text.stdout, /deliver:sent\s+ann@alpha\.example code=250/);
  t.match(text.stdout, /deliver:bounced\s+pat@gamma\.example code=550/);
  t.match(
    text.stdout,
    /pat@gamma\.example {2}failed {2}550 5\.1\.1 <…>: unknown/,
    "reply stored bare",
  );
  t.notMatch(text.stdout, /private|body/, "no subject or body");

  const json = await runCli(["trace", "<trace-1@clinic.example>", "--data", dir, "--json"]);
  const [found] = JSON.parse(json.stdout) as { events: { rcpt?: number; recipient?: string }[] }[];
  t.same(
    found?.events.map((e) => [e.rcpt, e.recipient]),
    [
      [1, "ann@alpha.example"],
      [2, "pat@gamma.example"],
      [1, "ann@alpha.example"],
      [2, "pat@gamma.example"],
    ],
    "--json gives the position and the address it resolves to",
  );
});

t.test("portal account events are traced under portal-accounts by account reference", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-trace-acct-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ref = await runCli(["portal", "account", "Pat@Gamma.example", "--data", dir]);
  t.equal(ref.code, 0, ref.stderr);
  const account = ref.stdout.trim();
  t.match(account, /^acct-[A-Za-z0-9_-]{16}$/);

  const store = new SqliteStore({ dataDir: dir });
  await store.recordEvent({
    queueId: "portal-accounts",
    name: "portal:sign-in-failed",
    data: { account, kind: "password", failures: 1, locked: false },
  });
  await store.close();
  const trace = await runCli(["trace", "portal-accounts", "--data", dir]);
  t.equal(trace.code, 0, trace.stderr);
  t.match(trace.stdout, new RegExp(`portal:sign-in-failed\\s+account=${account} kind=password`));
  t.notMatch(trace.stdout, /gamma/i, "no address in the account trail");
});
