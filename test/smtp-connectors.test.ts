import t from "tap";
import { configSchema } from "../gateway/config/index.js";
import { silentLogger } from "../gateway/log.js";
import { ConnectorConfigError, createIngress } from "../gateway/smtp/index.js";
import { ConnectorTable, senderDomainOf } from "../gateway/smtp/connectors.js";
import { SqliteStore } from "../gateway/store/index.js";
import { issueCert, makeTestCa, selfSigned } from "./helpers/pki.js";
import {
  ehlo,
  startTestIngress,
  type RawSmtpClient,
  type Reply,
  type TestIngress,
} from "./helpers/smtp-client.js";

const TENANT_A = "11111111-1111-4111-8111-111111111111";
const TENANT_B = "22222222-2222-4222-8222-222222222222";
const TENANT_C = "33333333-3333-4333-8333-333333333333";

function message(extraHeaders: string[] = []): string {
  return [...extraHeaders, "Subject: hi", "Message-ID: <m1@tenant.example>", "", "body", ""].join(
    "\r\n",
  );
}

/** Runs one transaction and returns the final reply (or the first refusal). */
async function send(
  ing: TestIngress,
  opts: { from?: string; headers?: string[]; tls?: Record<string, unknown> } = {},
) {
  const c = await ing.connect();
  await c.read();
  await ehlo(c);
  if (opts.tls) {
    await c.command("STARTTLS");
    await c.startTls({ servername: "sealgate.test", ...opts.tls });
    await ehlo(c);
  }
  const reply = await transaction(c, opts);
  await c.command("QUIT");
  await c.closed;
  return reply;
}

async function transaction(
  c: RawSmtpClient,
  opts: { from?: string; headers?: string[] },
): Promise<Reply> {
  const mail = await c.command(`MAIL FROM:<${opts.from ?? "staff@clinic.example"}>`);
  if (mail.code !== 250) return mail;
  await c.command("RCPT TO:<patient@example.org>");
  await c.command("DATA");
  c.write(`${message(opts.headers)}.\r\n`);
  return c.read();
}

t.test("a client outside every connector's ranges is refused 554 5.7.1 at connect", async (t) => {
  const ing = await startTestIngress(t, {
    smtp: { connectors: [{ name: "m365", ipRanges: ["10.0.0.0/8", "2001:db8::/32"] }] },
  });
  const c = await ing.connect();
  const greeting = await c.read();
  t.equal(greeting.code, 554);
  t.match(greeting.text, /^5\.7\.1 Relay access denied.*\(ref [0-9a-z]+\)$/);
  await c.closed;
  t.equal(await ing.count(), 0, "nothing is queued");
  await new Promise((r) => setTimeout(r, 50));
  const summary = ing.logs.find((l) => l.event === "smtp:connection");
  t.equal(summary?.refusedAtConnect, "clientNotAllowed");
});

t.test("IPv4-mapped IPv6 clients are matched as IPv4, in both directions", async (t) => {
  const table = new ConnectorTable([
    { name: "v4", ipRanges: ["10.0.0.0/8"] },
    { name: "mapped", ipRanges: ["::ffff:192.168.0.0/112"] },
    { name: "v6", ipRanges: ["2001:db8::/32", "::1"] },
  ]);
  const names = (ip: string) => table.forClient(ip).map((c) => c.name);
  t.same(names("::ffff:10.1.2.3"), ["v4"]);
  t.same(names("10.1.2.3"), ["v4"]);
  t.same(names("192.168.4.5"), ["mapped"]);
  t.same(names("2001:db8::25"), ["v6"]);
  t.same(names("::1"), ["v6"]);
  t.same(names("11.0.0.1"), []);
  t.same(names("not an address"), []);
  t.throws(() => new ConnectorTable([{ name: "bad", ipRanges: ["10.0.0.0/33"] }]), {
    code: "SMTP_CONNECTOR_INVALID",
  });
  t.throws(() => new ConnectorTable([{ name: "bad", ipRanges: ["010.1"] }]), ConnectorConfigError);
});

t.test(
  "a real IPv4-mapped client on a dual-stack listener is admitted by 127.0.0.0/8",
  async (t) => {
    const ing = await startTestIngress(t, { smtp: { listen: "[::ffff:127.0.0.1]:0" } });
    t.equal((await send(ing)).code, 250);
    t.equal(await ing.count(), 1);
  },
);

t.test(
  "an IPv6 loopback client is admitted by ::1 and refused by an IPv4-only connector",
  async (t) => {
    const v6 = await startTestIngress(t, {
      smtp: { listen: "[::1]:0", connectors: [{ name: "v6", ipRanges: ["::1/128"] }] },
    });
    const ok = await v6.connect({ host: "::1" });
    t.equal((await ok.read()).code, 220);
    const v4only = await startTestIngress(t, {
      smtp: { listen: "[::1]:0", connectors: [{ name: "v4", ipRanges: ["127.0.0.0/8"] }] },
    });
    const refused = await v4only.connect({ host: "::1" });
    t.equal((await refused.read()).code, 554);
  },
);

t.test(
  "a connector pinned to sender domains refuses others at MAIL FROM with 550 5.7.1",
  async (t) => {
    const ing = await startTestIngress(t, {
      smtp: {
        connectors: [
          { name: "clinic", ipRanges: ["127.0.0.1"], senderDomains: ["Clinic.Example"] },
        ],
      },
    });
    const other = await send(ing, { from: "someone@other.example" });
    t.equal(other.code, 550);
    t.match(other.text, /^5\.7\.1 Sender domain/);
    const nullSender = await send(ing, { from: "" });
    t.equal(nullSender.code, 550, "the null sender has no domain to match");
    t.equal((await send(ing, { from: "staff@clinic.example" })).code, 250);
    t.equal(await ing.count(), 1);
    await new Promise((r) => setTimeout(r, 50));
    const summaries = ing.logs.filter((l) => l.event === "smtp:connection");
    t.ok(
      summaries.some((l) => (l.envelopeRefusals as string[]).includes("senderNotAllowed")),
      "the connection summary says why MAIL FROM was refused",
    );
  },
);

t.test("two M365 tenants on the same ranges: the tenant header picks the connector", async (t) => {
  const ing = await startTestIngress(t, {
    smtp: {
      connectors: [
        { name: "tenant-a", ipRanges: ["127.0.0.0/8"], m365TenantId: TENANT_A },
        { name: "tenant-b", ipRanges: ["127.0.0.0/8"], m365TenantId: TENANT_B },
      ],
    },
  });
  const header = (id: string) => `X-MS-Exchange-CrossTenant-Id: ${id}`;
  const b = await send(ing, { headers: [header(TENANT_B.toUpperCase())] });
  t.equal(b.code, 250);
  const id = /queued as (\S+)/.exec(b.text)?.[1] ?? "";
  t.equal((await ing.store.getMessage(id))?.connector, "tenant-b");

  const foreign = await send(ing, { headers: [header(TENANT_C)] });
  t.equal(foreign.code, 550);
  t.match(foreign.text, /^5\.7\.1 Message tenant/);
  t.equal((await send(ing)).code, 550, "no tenant header: refused");
  const typed = await send(ing, { headers: [header(TENANT_A), header(TENANT_C)] });
  t.equal(typed.code, 550, "a second, different tenant id fails closed");
  t.equal(await ing.count(), 1);
});

t.test(
  "a connector pinned to a client certificate needs STARTTLS with that certificate",
  async (t) => {
    const ca = makeTestCa("connector client CA");
    const good = issueCert(ca, { names: ["relay.tenant.example"] });
    const wrongName = issueCert(ca, { names: ["other.tenant.example"] });
    const untrusted = selfSigned(["relay.tenant.example"]);
    const ing = await startTestIngress(t, {
      smtp: {
        clientCaFile: ca.certFile,
        connectors: [
          { name: "cert", ipRanges: ["127.0.0.0/8"], clientCertSubject: "relay.tenant.example" },
        ],
      },
    });
    const plain = await send(ing);
    t.equal(plain.code, 550, "no TLS, no certificate");
    t.match(plain.text, /^5\.7\.1 A verified client certificate/);
    t.equal((await send(ing, { tls: {} })).code, 550, "TLS without a certificate");
    const named = await send(ing, { tls: { key: wrongName.keyPem, cert: wrongName.certPem } });
    t.equal(named.code, 550, "a certificate for another name");
    const selfMade = await send(ing, { tls: { key: untrusted.keyPem, cert: untrusted.certPem } });
    t.equal(selfMade.code, 550, "the right name from a CA we do not trust");
    const ok = await send(ing, { tls: { key: good.keyPem, cert: good.certPem } });
    t.equal(ok.code, 250, ok.text);
    t.equal(await ing.count(), 1);
  },
);

t.test("a certificate connector and a domain connector can share ranges", async (t) => {
  const ca = makeTestCa("shared ranges CA");
  const ing = await startTestIngress(t, {
    smtp: {
      clientCaFile: ca.certFile,
      connectors: [
        { name: "cert", ipRanges: ["127.0.0.0/8"], clientCertSubject: "relay.tenant.example" },
        { name: "domain", ipRanges: ["127.0.0.0/8"], senderDomains: ["clinic.example"] },
      ],
    },
  });
  const reply = await send(ing, { from: "staff@clinic.example" });
  t.equal(reply.code, 250);
  const id = /queued as (\S+)/.exec(reply.text)?.[1] ?? "";
  t.equal((await ing.store.getMessage(id))?.connector, "domain");
  t.equal((await send(ing, { from: "x@elsewhere.example" })).code, 550);
});

t.test("a certificate pin without smtp.clientCaFile is refused at start", async (t) => {
  const config = configSchema.parse({
    dataDir: t.testdirName,
    smtp: { connectors: [{ name: "c", ipRanges: ["127.0.0.1"], clientCertSubject: "x" }] },
  });
  t.throws(
    () =>
      createIngress({
        config,
        store: {} as SqliteStore,
        logger: silentLogger(),
        tls: { key: "", cert: "" },
      }),
    { code: "SMTP_CONNECTOR_INVALID" },
  );
});

t.test("sender domains compare as A-labels, whatever form config and client use", async (t) => {
  const clinic = { name: "idn", ipRanges: ["127.0.0.1"], senderDomains: ["Bücher.Example."] };
  const table = new ConnectorTable([clinic]);
  for (const from of ["a@xn--bcher-kva.example", "a@bücher.example", "a@BÜCHER.example"]) {
    const d = table.forMail([clinic], { senderDomain: senderDomainOf(from), certNames: [] });
    t.equal(d.kind, "accept", from);
  }
  const other = table.forMail([clinic], {
    senderDomain: senderDomainOf("a@b.example"),
    certNames: [],
  });
  t.equal(other.kind, "reject");
});
