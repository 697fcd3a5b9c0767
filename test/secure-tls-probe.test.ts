import { createServer, type AddressInfo, type Socket } from "node:net";
import { createSecureContext, rootCertificates, TLSSocket } from "node:tls";
import t from "tap";
import { MxResolver } from "../gateway/deliver/mx.js";
import { probeDomainTls, TlsProber, type TlsProberOptions } from "../gateway/secure/tls-probe.js";
import { startDnsServer } from "./helpers/dns-server.js";
import { issueCert, makeTestCa, selfSigned } from "./helpers/pki.js";
import { startSink } from "./helpers/sink.js";
import { requireTools } from "./helpers/tools.js";

/**
 * Verified TLS probing against real SMTP servers on loopback: each test points the probe's MX
 * port at one server, and the test DNS server names the MX hosts.
 */

if (!requireTools(t, "openssl")) process.exit(0);

const ca = makeTestCa();
const roots = [...rootCertificates, ca.certPem];

const dns = await startDnsServer({
  "good.test": { mx: [{ preference: 10, exchange: "mx.good.test" }] },
  "mx.good.test": { a: ["127.0.0.1"] },
  "wrongname.test": { mx: [{ preference: 10, exchange: "mx.wrongname.test" }] },
  "mx.wrongname.test": { a: ["127.0.0.1"] },
  "backup.test": {
    mx: [
      { preference: 10, exchange: "mx1.backup.test" },
      { preference: 20, exchange: "mx.good.test" },
    ],
  },
  // 127.0.0.2 is loopback, but nothing listens there.
  "mx1.backup.test": { a: ["127.0.0.2"] },
  "down.test": { mx: [{ preference: 10, exchange: "mx1.backup.test" }] },
  "nomail.test": { mx: [{ preference: 0, exchange: "." }] },
});
t.teardown(() => dns.close());

function options(port: number, extra: Partial<TlsProberOptions> = {}): TlsProberOptions {
  const resolver = new MxResolver({ servers: [dns.address] });
  t.teardown(() => resolver.cancel());
  return { resolver, port, heloName: "probe.sealgate.test", ca: roots, timeoutMs: 3000, ...extra };
}

/**
 * A minimal SMTP server that offers STARTTLS and then speaks only TLS 1.0 and 1.1, or refuses
 * STARTTLS with `refuse` after offering it.
 */
async function startOldTlsServer(
  options: { refuse?: string } = {},
): Promise<{ port: number; close(): Promise<void> }> {
  const cert = issueCert(ca, { names: ["mx.good.test"] });
  const context = createSecureContext({
    cert: cert.certPem,
    key: cert.keyPem,
    minVersion: "TLSv1",
    maxVersion: "TLSv1.1",
    // OpenSSL 3 refuses TLS below 1.2 at its default security level.
    ciphers: "DEFAULT@SECLEVEL=0",
  });
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.write("220 old.test ESMTP\r\n");
    let buffer = "";
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString("latin1");
      let end: number;
      while ((end = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, end).toUpperCase();
        buffer = buffer.slice(end + 2);
        if (line.startsWith("EHLO")) socket.write("250-old.test\r\n250 STARTTLS\r\n");
        else if (line === "STARTTLS" && options.refuse) socket.write(`${options.refuse}\r\n`);
        else if (line === "STARTTLS") {
          socket.off("data", onData);
          socket.write("220 go ahead\r\n");
          const tls = new TLSSocket(socket, { isServer: true, secureContext: context });
          tls.on("error", () => {});
        } else socket.write("502 no\r\n");
      }
    };
    socket.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

t.test("an MX with a certificate from a trusted CA for its name is verified", async (t) => {
  const sink = await startSink({ tls: issueCert(ca, { names: ["mx.good.test"] }) });
  t.teardown(() => sink.close());
  const result = await probeDomainTls("good.test", options(sink.port));
  t.match(result, { verified: true, mx: "mx.good.test", mtaSts: "none", proof: "certificate" });
  if (result.verified) t.ok(["TLSv1.2", "TLSv1.3"].includes(result.tlsVersion));
  t.same(sink.messages, [], "the probe sends no message");
});

t.test(
  "a self-signed certificate is not verified, and the reason names host and code",
  async (t) => {
    const sink = await startSink({ tls: selfSigned(["mx.good.test"]) });
    t.teardown(() => sink.close());
    const result = await probeDomainTls("good.test", options(sink.port));
    t.same(result, {
      verified: false,
      reason: "certificate does not verify for mx.good.test: DEPTH_ZERO_SELF_SIGNED_CERT",
      mtaSts: "none",
    });
  },
);

t.test("an expired certificate is not verified", async (t) => {
  const sink = await startSink({ tls: issueCert(ca, { names: ["mx.good.test"], days: -1 }) });
  t.teardown(() => sink.close());
  const result = await probeDomainTls("good.test", options(sink.port));
  t.match(result, {
    verified: false,
    reason: "certificate does not verify for mx.good.test: CERT_HAS_EXPIRED",
  });
});

t.test("a certificate for another name is not verified", async (t) => {
  const sink = await startSink({ tls: issueCert(ca, { names: ["mx.good.test"] }) });
  t.teardown(() => sink.close());
  const result = await probeDomainTls("wrongname.test", options(sink.port));
  t.match(result, {
    verified: false,
    reason: "certificate does not verify for mx.wrongname.test: ERR_TLS_CERT_ALTNAME_INVALID",
  });
});

t.test("an MX that does not offer STARTTLS is not verified", async (t) => {
  const sink = await startSink({});
  t.teardown(() => sink.close());
  const result = await probeDomainTls("good.test", options(sink.port));
  t.same(result, { verified: false, reason: "no STARTTLS on mx.good.test", mtaSts: "none" });
});

t.test("an MX that offers only TLS 1.0 or 1.1 is not verified", async (t) => {
  const old = await startOldTlsServer();
  t.teardown(() => old.close());
  const result = await probeDomainTls("good.test", options(old.port));
  t.equal(result.verified, false);
  if (!result.verified) t.match(result.reason, /^mx\.good\.test offers only TLS older than 1\.2/);
});

t.test("an MX that offers STARTTLS but refuses it is not verified", async (t) => {
  const refusing = await startOldTlsServer({ refuse: "454 4.7.0 TLS not available" });
  t.teardown(() => refusing.close());
  const result = await probeDomainTls("good.test", options(refusing.port));
  t.same(result, {
    verified: false,
    reason: "mx.good.test refuses STARTTLS with 454",
    mtaSts: "none",
  });
});

t.test("when the first MX is down the next one is probed", async (t) => {
  const sink = await startSink({ tls: issueCert(ca, { names: ["mx.good.test"] }) });
  t.teardown(() => sink.close());
  const result = await probeDomainTls("backup.test", options(sink.port));
  t.match(result, { verified: true, mx: "mx.good.test" });
});

t.test("no reachable MX and no mail domain are not verified, with the reason", async (t) => {
  const sink = await startSink({});
  const port = sink.port;
  await sink.close();
  t.same(await probeDomainTls("down.test", options(port)), {
    verified: false,
    reason: "no MX reachable for down.test",
    mtaSts: "none",
  });
  const nullMx = await probeDomainTls("nomail.test", options(port));
  t.match(nullMx, { verified: false, reason: /^DNS_NULL_MX/ });
});

t.test("a negative answer is cached for less time than a positive one", async (t) => {
  const good = await startSink({ tls: issueCert(ca, { names: ["mx.good.test"] }) });
  const plain = await startSink({});
  t.teardown(() => good.close());
  t.teardown(() => plain.close());
  let now = 1_000_000;
  const clock = { now: () => now };
  const ttl = { cacheTtlMs: 60_000, negativeCacheTtlMs: 5_000, clock };
  const positive = new TlsProber(options(good.port, ttl));
  const negative = new TlsProber(options(plain.port, ttl));

  t.equal((await positive.probe("good.test")).verified, true);
  t.equal((await negative.probe("good.test")).verified, false);
  t.equal(good.connections, 1);
  t.equal(plain.connections, 1);

  now += 6_000;
  t.equal((await positive.probe("good.test")).verified, true, "the positive answer still holds");
  t.equal(good.connections, 1, "without a new probe");
  t.equal((await negative.probe("GOOD.test.")).verified, false);
  t.equal(plain.connections, 2, "the negative answer expired and the MX was probed again");

  now += 60_000;
  await positive.probe("good.test");
  t.equal(good.connections, 2, "the positive answer expires after its own lifetime");
});

t.test("concurrent probes of one domain share one connection", async (t) => {
  const sink = await startSink({ tls: issueCert(ca, { names: ["mx.good.test"] }) });
  t.teardown(() => sink.close());
  const prober = new TlsProber(options(sink.port));
  const results = await Promise.all([1, 2, 3].map(() => prober.probe("good.test")));
  t.ok(results.every((r) => r.verified));
  t.equal(sink.connections, 1);
});
