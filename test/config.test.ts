import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";
import { ConfigError, loadConfig } from "../gateway/config/index.js";
import { runCli } from "./helpers/gateway.js";

const dir = mkdtempSync(path.join(tmpdir(), "sealgate-config-"));

t.test("the embedded default listens on loopback and writes to ./data/outbox", async (t) => {
  const { config } = loadConfig(null, { dataDir: dir });
  t.equal(config.smtp.listen, "127.0.0.1:2525");
  t.equal(config.httpListen, "127.0.0.1:8080");
  t.equal(config.delivery.mode, "outbox");
  t.equal(config.delivery.outboxDir, path.join(dir, "outbox"));
});

t.test("a bad key is refused with its path, its line and the reason", async (t) => {
  const file = path.join(dir, "bad.yaml");
  writeFileSync(file, "smtp:\n  listen: 127.0.0.1:2525\n  maxRecipients: -3\n");
  const err = t.throws(() => loadConfig(file)) as unknown;
  t.ok(err instanceof ConfigError);
  t.match((err as Error).message, /smtp\.maxRecipients \(line 3\): .*>0/);
});

t.test("an unknown key is refused rather than ignored", async (t) => {
  const file = path.join(dir, "unknown.yaml");
  writeFileSync(file, "smtp:\n  lisen: 127.0.0.1:2525\n");
  t.throws(() => loadConfig(file), /smtp.*lisen/);
});

t.test("broken YAML is refused with its line", async (t) => {
  const file = path.join(dir, "broken.yaml");
  writeFileSync(file, "smtp:\n  listen: [oops\n");
  t.throws(() => loadConfig(file), /line \d+/);
});

t.test("smarthost mode without a smart host names the missing key", async (t) => {
  const file = path.join(dir, "smarthost.yaml");
  writeFileSync(file, "delivery:\n  mode: smarthost\n");
  t.throws(() => loadConfig(file), /delivery\.smartHost.*required/);
});

t.test("a connector range that is not an address or CIDR is refused by config check", async (t) => {
  const file = path.join(dir, "ranges.yaml");
  writeFileSync(
    file,
    "smtp:\n  connectors:\n    - name: m365\n      ipRanges: [10.1.0.0/16, 10.0.0.300/8, 10.0.0.0/33]\n",
  );
  const err = t.throws(() => loadConfig(file)) as Error;
  t.match(err.message, /ipRanges\.1 \(line 4\): "10\.0\.0\.300\/8" is not an IP address/);
  t.match(err.message, /ipRanges\.2 \(line 4\): "10\.0\.0\.0\/33" has an invalid prefix length/);
  t.notMatch(err.message, /10\.1\.0\.0\/16"/, "the good range is not named");
});

t.test("a port over 65535 and a connector open to every address are refused", async (t) => {
  const file = path.join(dir, "open.yaml");
  writeFileSync(
    file,
    "smtp:\n  listen: 127.0.0.1:99999\n  connectors:\n    - name: any\n      ipRanges: [0.0.0.0/0]\n",
  );
  const err = t.throws(() => loadConfig(file)) as Error;
  t.match(err.message, /smtp\.listen \(line 2\): the port must be 0 to 65535/);
  t.match(err.message, /ipRanges\.0 \(line 5\): "0\.0\.0\.0\/0" admits a large part/);
  const mapped = path.join(dir, "open-mapped.yaml");
  writeFileSync(
    mapped,
    'smtp:\n  connectors:\n    - name: any\n      ipRanges: ["::ffff:0.0.0.0/96", 0.0.0.0/1, 40.92.0.0/15]\n',
  );
  const wide = (t.throws(() => loadConfig(mapped)) as Error).message;
  t.match(wide, /ipRanges\.0 .*"::ffff:0\.0\.0\.0\/96" admits a large part/, "mapped IPv4 too");
  t.match(wide, /ipRanges\.1 .*"0\.0\.0\.0\/1" admits a large part/);
  t.notMatch(wide, /40\.92/, "Microsoft's widest published range is fine");
  const withCert = path.join(dir, "open-cert.yaml");
  writeFileSync(
    withCert,
    'smtp:\n  connectors:\n    - name: any\n      ipRanges: ["::/0"]\n      clientCertSubject: tenant.example\n',
  );
  t.equal(
    loadConfig(withCert).config.smtp.connectors[0]?.name,
    "any",
    "a client certificate pins it",
  );
});

t.test("DKIM without a key file or SEALGATE_DKIM_KEY names the missing key", async (t) => {
  const file = path.join(dir, "dkim.yaml");
  writeFileSync(file, "dkim:\n  domain: clinic.example.org\n  selector: s1\n");
  t.throws(() => loadConfig(file, {}, {}), /dkim\.privateKeyFile \(line 2\): required unless/);
  const pem = "-----BEGIN PRIVATE KEY-----";
  t.equal(
    loadConfig(file, {}, { SEALGATE_DKIM_KEY: pem }).config.dkim?.domain,
    "clinic.example.org",
  );
});

t.test("secrets come from the environment and flags override the file", async (t) => {
  const file = path.join(dir, "env.yaml");
  writeFileSync(file, "smtp:\n  listen: 0.0.0.0:25\n");
  const { config } = loadConfig(
    file,
    { smtpListen: "127.0.0.1:2600" },
    { SEALGATE_LOOP_SECRET: "0123456789abcdef0123" },
  );
  t.equal(config.smtp.listen, "127.0.0.1:2600");
  t.equal(config.loopGuard.secret, "0123456789abcdef0123");
});

t.test("the documented example configuration is valid as shipped", async (t) => {
  const { config } = loadConfig(path.resolve("deploy/sealgate.example.yaml"));
  t.equal(config.delivery.mode, "smarthost");
  t.equal(config.smtp.connectors.length, 2);
});

t.test("a section whose lines are all commented out means its defaults", async (t) => {
  const file = path.join(dir, "empty-section.yaml");
  writeFileSync(file, "policy:\n  # file: x.yaml\nsmtp:\n  hostname:\n");
  const { config } = loadConfig(file);
  t.equal(config.policy.file, undefined);
  t.equal(config.smtp.hostname, undefined);
});

t.test("file paths in the configuration are relative to the configuration file", async (t) => {
  const file = path.join(dir, "paths.yaml");
  writeFileSync(
    file,
    "dataDir: ./d\nsmtp:\n  tlsCertFile: tls/c.pem\n  tlsKeyFile: tls/k.pem\npolicy:\n  file: p.yaml\n",
  );
  const { config } = loadConfig(file);
  t.equal(config.dataDir, path.join(dir, "d"));
  t.equal(config.smtp.tlsCertFile, path.join(dir, "tls/c.pem"));
  t.equal(config.policy.file, path.join(dir, "p.yaml"));
  t.equal(config.delivery.outboxDir, path.join(dir, "d", "outbox"));
});

t.test("config check refuses a configuration whose policy file does not validate", async (t) => {
  const policy = path.join(dir, "broken-policy.yaml");
  writeFileSync(
    policy,
    "name: x\nrules:\n  - name: r1\n    when: { detector: us-ssn, confidence: hihg }\n    then: [encrypt]\n",
  );
  const file = path.join(dir, "with-policy.yaml");
  writeFileSync(file, `policy:\n  file: ${policy}\n`);
  const r = await runCli(["config", "check", file]);
  t.equal(r.code, 1);
  t.match(
    r.stderr,
    /policy\.file: .*\n.*confidence \(line 4, column \d+\): confidence must be one of/,
  );
  t.notMatch(r.stdout, /ok/);
});
