import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { Writable } from "node:stream";
import path from "node:path";
import nodemailer from "nodemailer";
import t from "tap";
import type { StoredKey } from "../certs/types.js";
import { startGateway } from "../gateway/app.js";
import { createLogger } from "../gateway/log.js";
import { openKeyRepository } from "../gateway/store/index.js";
import { rcptPosition } from "../gateway/store/privacy.js";
import { startDnsServer } from "./helpers/dns-server.js";
import { waitFor, writeGatewayConfig } from "./helpers/gateway.js";
import { GpgHome } from "./helpers/gpg.js";
import { issueCert, makeTestCa } from "./helpers/pki.js";
import { startSink, type ReceivedMessage } from "./helpers/sink.js";
import { requireTools } from "./helpers/tools.js";
import { HttpsFixture, publishWkd } from "./helpers/wkd-server.js";
import { makePki, type Party } from "./smime-fixtures.js";

/**
 * Issue 4's example, through the whole gateway: one message with PHI to five recipients
 * leaves as two S/MIME copies (certificates in the key store), one PGP/MIME copy (key found
 * by WKD on loopback), one copy over verified TLS (the MX shows a certificate from the test
 * CA) and one held copy (nothing applies; the portal is not built yet), each at the right
 * next hop, each readable by its recipient with the real tools.
 */

if (!requireTools(t, "openssl", "gpg")) process.exit(0);

const SUBJECT = "Labs for Jordan Quillfeather";
const SENDER = "dr.ruiz@clinic.test";
const R = {
  smimeA: "ann@alpha.test",
  smimeB: "ben@beta.test",
  pgp: "pat@gamma.test",
  tls: "tia@delta.test",
  none: "ned@epsilon.test",
};

const tlsCa = makeTestCa();
const mxNames = [
  "mx.alpha.test",
  "mx.beta.test",
  "mx.gamma.test",
  "mx.delta.test",
  "mx.clinic.test",
];
const sink = await startSink({ tls: issueCert(tlsCa, { names: mxNames }) });
const wkd = await HttpsFixture.start(tlsCa, ["openpgpkey.gamma.test"]);
const zone = (host: string, address = "127.0.0.1") => ({
  [host.replace(/^mx\./, "")]: { mx: [{ preference: 10, exchange: host }] },
  [host]: { a: [address] },
});
const dns = await startDnsServer({
  ...zone("mx.alpha.test"),
  ...zone("mx.beta.test"),
  ...zone("mx.gamma.test"),
  ...zone("mx.delta.test"),
  ...zone("mx.clinic.test"),
  // Nothing listens there: no STARTTLS, no verified TLS.
  ...zone("mx.epsilon.test", "127.0.0.2"),
});

const smime = await makePki();
const gpg = new GpgHome();
const pgpFpr = gpg.rsa(`Pat <${R.pgp}>`);
publishWkd(wkd, R.pgp, gpg.exportPublic(pgpFpr, false), { method: "advanced" });

t.teardown(async () => {
  await sink.close();
  await wkd.close();
  await dns.close();
  rmSync(gpg.dir, { recursive: true, force: true });
});

function stored(party: Party, kind: StoredKey["kind"], privateKey = false): StoredKey {
  return {
    id: createHash("sha256").update(party.certPem).digest("hex"),
    kind,
    addresses: [party.address],
    source: "import",
    material: party.certPem,
    privateMaterial: privateKey ? party.keyPem : undefined,
    notAfter: null,
    createdAt: new Date(),
  };
}

function openssl(args: string[], input: Buffer): Buffer {
  return execFileSync("openssl", args, { input, stdio: ["pipe", "pipe", "pipe"] });
}

/** The part after the header block. */
function body(raw: Buffer): Buffer {
  const at = raw.indexOf("\r\n\r\n");
  return raw.subarray(at + 4);
}

function header(raw: Buffer, name: string): string | undefined {
  const head = raw.subarray(0, raw.indexOf("\r\n\r\n")).toString("latin1");
  return new RegExp(`^${name}: (.*)$`, "mi").exec(head)?.[1];
}

t.test("one message to five recipients leaves in the strongest form each can open", async (t) => {
  const files = writeGatewayConfig({
    delivery: {
      mode: "mx",
      mxPort: sink.port,
      dnsServers: [dns.address],
      tls: { caFile: tlsCa.certFile },
      connectTimeout: 5,
      tlsProbe: { timeout: 5 },
      mtaSts: { timeout: 2 },
    },
    secure: { smime: { trustAnchorsFile: smime.caFile }, pgp: { timeout: 5 } },
  });
  t.teardown(() => rmSync(path.dirname(files.file), { recursive: true, force: true }));

  const ann = await smime.issue(R.smimeA);
  const ben = await smime.issue(R.smimeB);
  const org = await smime.issue("records@clinic.test");
  const keys = await openKeyRepository(files.config);
  await keys.putKey(stored(ann, "smime-cert"));
  await keys.putKey(stored(ben, "smime-cert"));
  await keys.putKey(stored(org, "org-smime", true));
  await keys.close();

  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  const gw = await startGateway(files.config, {
    logger: createLogger({ level: "info", destination }),
    nodeId: "mixed",
    keyLookupHttp: { ca: tlsCa.certPem, resolveHost: wkd.resolver(["openpgpkey.gamma.test"]) },
  });
  t.teardown(() => gw.stop());

  const transport = nodemailer.createTransport({
    host: gw.smtp.host,
    port: gw.smtp.port,
    secure: false,
    tls: { rejectUnauthorized: false },
  });
  t.teardown(() => transport.close());
  const info = (await transport.sendMail({
    from: SENDER,
    to: [R.smimeA, R.smimeB, R.pgp],
    cc: R.tls,
    bcc: R.none,
    subject: SUBJECT,
    text: "Patient Jordan Quillfeather, SSN 345-67-8901, DOB 04/12/1961. Potassium 5.9 mmol/L.",
    attachments: [{ filename: "labs.csv", content: "name,ssn\nJordan Quillfeather,345-67-8901\n" }],
  })) as { response: string };
  const queueId = /queued as (\S+)/.exec(info.response)?.[1] ?? "";
  t.ok(queueId, "the message was queued");

  // Read now: the store clears a message's bytes once its last copy is settled.
  const queued = await gw.store.getMessage(queueId);
  const original = queued?.raw ?? Buffer.alloc(0);
  const rcptTo = queued?.envelope.rcptTo ?? [];
  // Four copies reach the sink; the fifth recipient's copy is sealed in the portal.
  await sink.waitForMessages(4, 40_000).catch(() => undefined);
  const events = await waitFor("five deliver:sent events", async () => {
    const all = await gw.store.events(queueId);
    return all.filter((e) => e.name === "deliver:sent").length >= 5 ? all : undefined;
  }).catch(() => gw.store.events(queueId));
  const routes = events.filter((e) => e.name === "secure:route");
  t.comment(routes.map((e) => `${String(e.data?.route)}: ${String(e.data?.reason)}`).join("\n"));
  const routeOf = (address: string) =>
    routes.find((e) => e.rcpt === rcptPosition(rcptTo, address))?.data;

  t.match(routeOf(R.smimeA), {
    route: "smime",
    nextHop: "alpha.test",
    reason: /^smime: certificate from store, expires \d{4}-\d\d-\d\d$/,
    // The organisation's certificate rides along so the sent copy stays readable.
    alsoEncryptedTo: [`organisation:${stored(org, "org-smime").id}`],
  });
  t.match(routeOf(R.smimeB), { route: "smime", nextHop: "beta.test" });
  t.match(routeOf(R.pgp), {
    route: "pgp",
    nextHop: "gamma.test",
    reason: /^pgp: key [0-9A-F]+ from wkd, no expiry$/,
  });
  t.match(routeOf(R.tls), {
    route: "tls",
    nextHop: "delta.test",
    reason: /^tls: mx\.delta\.test, verified \(TLSv1\.[23]\), MTA-STS none$/,
  });
  t.match(routeOf(R.none), {
    route: "portal",
    nextHop: "portal",
    reason: /^portal: no key \(.*wkd.*\), no MX reachable for epsilon\.test$/,
  });

  const deliveries = await gw.store.deliveries(queueId);
  t.same(
    deliveries.map((d) => `${d.route} ${d.nextHop} ${d.recipients.map((r) => r.address)}`).sort(),
    [
      `pgp gamma.test ${R.pgp}`,
      `portal portal ${R.none}`,
      `smime alpha.test ${R.smimeA}`,
      `smime beta.test ${R.smimeB}`,
      `tls delta.test ${R.tls}`,
    ].sort(),
    "one copy per key-based recipient, the TLS one per next hop, a portal copy for the last",
  );
  t.ok(
    deliveries.every((d) => d.recipients.every((r) => r.state === "sent")),
    "every copy was accepted",
  );

  const copyFor = (address: string): ReceivedMessage | undefined =>
    sink.messages.find((m) => m.rcptTo.includes(address));
  for (const address of Object.values(R)) {
    const copy = copyFor(address);
    if (address === R.none) {
      t.notOk(copy, "the recipient with nothing got nothing, in clear or otherwise");
      continue;
    }
    t.same(copy?.rcptTo, [address], `the copy for ${address.split("@")[1]} is its own`);
    t.ok(copy?.secure, "and travelled over TLS");
    t.notMatch(copy?.raw.toString("latin1") ?? "", new RegExp(R.none), "Bcc stays hidden");
  }

  for (const party of [ann, ben]) {
    const copy = copyFor(party.address)?.raw ?? Buffer.alloc(0);
    t.equal(header(copy, "Subject"), "Secure message", "the real subject is not outside");
    t.notMatch(copy.toString("latin1"), /Quillfeather|345-67-8901/, "no PHI outside");
    const opened = openssl(
      ["cms", "-decrypt", "-recip", party.certFile, "-inkey", party.keyFile],
      copy,
    );
    t.equal(header(opened, "Subject"), SUBJECT, "the real subject travels inside");
    t.ok(body(opened).equals(body(original)), "the decrypted body is the original, byte for byte");
  }
  const archived = openssl(
    ["cms", "-decrypt", "-recip", org.certFile, "-inkey", org.keyFile],
    copyFor(R.smimeA)?.raw ?? Buffer.alloc(0),
  );
  t.ok(body(archived).equals(body(original)), "the organisation can read its sent copy");

  const pgpCopy = copyFor(R.pgp)?.raw.toString("latin1") ?? "";
  t.match(pgpCopy, /multipart\/encrypted; protocol="application\/pgp-encrypted"/);
  t.notMatch(pgpCopy, /Quillfeather|345-67-8901/);
  const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(pgpCopy);
  const decrypted = gpg.run(["--decrypt"], armored?.[0] ?? "");
  t.equal(header(decrypted, "Subject"), SUBJECT);
  t.ok(body(decrypted).equals(body(original)), "gpg opens the original entity");

  const tlsCopy = copyFor(R.tls)?.raw ?? Buffer.alloc(0);
  t.ok(body(tlsCopy).equals(body(original)), "the TLS copy is the message itself");

  const portalCopy = events.find(
    (e) => e.name === "portal:stored" && e.rcpt === rcptPosition(rcptTo, R.none),
  );
  t.ok(portalCopy, "the recipient with nothing has a portal copy");
  const opened = await gw.portal?.open(String(portalCopy?.data?.portalId), R.none);
  t.ok(
    opened?.kind === "ok" && body(opened.raw).equals(body(original)),
    "the portal copy opens to the original, byte for byte",
  );
  t.notOk(
    sink.messages.some((m) => m.rcptTo.includes(SENDER)),
    "nothing was held, so the sender gets no notice",
  );

  const logs = lines.join("");
  for (const secret of ["Quillfeather", "345-67-8901", ...Object.values(R)]) {
    t.notOk(logs.includes(secret), `no log line holds "${secret.slice(0, 5)}…"`);
  }
  const eventText = JSON.stringify(events.map((e) => e.data));
  t.notMatch(eventText, /Quillfeather|345-67-8901|Labs for/, "no event holds content");
});
