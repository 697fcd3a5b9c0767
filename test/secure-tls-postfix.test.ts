import { rootCertificates } from "node:tls";
import t from "tap";
import { MxResolver } from "../gateway/deliver/mx.js";
import { probeDomainTls, type ProbeOptions } from "../gateway/secure/tls-probe.js";
import { startDnsServer } from "./helpers/dns-server.js";
import { issueCert, makeTestCa, selfSigned } from "./helpers/pki.js";
import { requirePostfix, startPostfix } from "./helpers/postfix.js";

/**
 * The probe against a real Postfix as the recipient's MX, through its TLS settings: a
 * certificate from the trusted CA, a self-signed one, and no STARTTLS at all.
 */

t.test("the probe judges a real Postfix MX by its STARTTLS and certificate", async (t) => {
  if (!requirePostfix(t, "openssl")) return;
  const ca = makeTestCa();
  const pf = await startPostfix(t, { tls: issueCert(ca, { names: ["mx.postfix.test"] }) });
  const dns = await startDnsServer({
    "postfix.test": { mx: [{ preference: 10, exchange: "mx.postfix.test" }] },
    "mx.postfix.test": { a: ["127.0.0.1"] },
  });
  t.teardown(() => dns.close());
  const resolver = new MxResolver({ servers: [dns.address] });
  t.teardown(() => resolver.cancel());
  const options: ProbeOptions = {
    resolver,
    port: pf.port,
    heloName: "probe.sealgate.test",
    ca: [...rootCertificates, ca.certPem],
    timeoutMs: 5000,
  };

  const verified = await probeDomainTls("postfix.test", options);
  t.match(verified, { verified: true, mx: "mx.postfix.test", tlsVersion: /^TLSv1\.[23]$/ });

  await pf.reconfigure({ tls: selfSigned(["mx.postfix.test"]) });
  t.same(await probeDomainTls("postfix.test", options), {
    verified: false,
    reason: "certificate does not verify for mx.postfix.test: DEPTH_ZERO_SELF_SIGNED_CERT",
    mtaSts: "none",
  });

  await pf.reconfigure({});
  t.same(await probeDomainTls("postfix.test", options), {
    verified: false,
    reason: "no STARTTLS on mx.postfix.test",
    mtaSts: "none",
  });
  t.same(pf.messages(), [], "probing delivered nothing");
});
