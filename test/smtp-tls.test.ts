import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";
import { configSchema } from "../gateway/config/index.js";
import { silentLogger } from "../gateway/log.js";
import { ensureTlsMaterial } from "../gateway/smtp/index.js";
import { issueCert, makeTestCa } from "./helpers/pki.js";

const fresh = (smtp: Record<string, unknown> = {}) =>
  configSchema.parse({
    dataDir: mkdtempSync(path.join(tmpdir(), "sealgate-tls-")),
    smtp: { hostname: "mx.sealgate.test", ...smtp },
  });

t.test("the embedded default makes a self-signed certificate once and keeps it", async (t) => {
  const config = fresh();
  const first = await ensureTlsMaterial(config, silentLogger());
  t.equal(first.selfSigned, true);
  const cert = new X509Certificate(first.cert);
  t.ok(cert.checkHost("mx.sealgate.test"), "names the configured host");
  t.ok(cert.checkHost("localhost"));
  t.ok(cert.verify(cert.publicKey), "self-signed");
  const keyFile = path.join(config.dataDir, "tls", "smtp-key.pem");
  t.equal(statSync(keyFile).mode & 0o777, 0o600, "the key is readable by its owner only");

  const second = await ensureTlsMaterial(config, silentLogger());
  t.equal(second.cert, first.cert, "a restart reuses the kept certificate");
  t.equal(second.key, first.key);
});

t.test("a kept certificate close to expiry is replaced", async (t) => {
  const config = fresh();
  const ca = makeTestCa();
  const expiring = issueCert(ca, { names: ["mx.sealgate.test"], days: 5 });
  mkdirSync(path.join(config.dataDir, "tls"), { recursive: true });
  writeFileSync(path.join(config.dataDir, "tls", "smtp-cert.pem"), expiring.certPem);
  writeFileSync(path.join(config.dataDir, "tls", "smtp-key.pem"), expiring.keyPem);
  const material = await ensureTlsMaterial(config, silentLogger());
  t.not(material.cert, expiring.certPem);
  const days = (Date.parse(new X509Certificate(material.cert).validTo) - Date.now()) / 86400_000;
  t.ok(days > 365, "the new one is good for a long time");
});

t.test("configured certificate files are used as they are", async (t) => {
  const ca = makeTestCa();
  const leaf = issueCert(ca, { names: ["mx.sealgate.test"] });
  const config = fresh({ tlsCertFile: leaf.certFile, tlsKeyFile: leaf.keyFile });
  const material = await ensureTlsMaterial(config, silentLogger());
  t.same(material, { key: leaf.keyPem, cert: leaf.certPem, selfSigned: false });
});

t.test(
  "an unreadable configured file is a clear error, not a silent self-signed fallback",
  async (t) => {
    const config = fresh({
      tlsCertFile: "/nonexistent/cert.pem",
      tlsKeyFile: "/nonexistent/key.pem",
    });
    await t.rejects(ensureTlsMaterial(config, silentLogger()), { code: "SMTP_TLS_MATERIAL" });
  },
);
