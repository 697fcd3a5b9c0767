import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { loadConfig } from "../gateway/config/index.js";
import { openKeyRepository } from "../gateway/store/index.js";
import { requireTools } from "./helpers/tools.js";
import { openssl } from "./smime-fixtures.js";

const exec = promisify(execFile);
const root = mkdtempSync(path.join(tmpdir(), "sealgate-certs-cli-"));
const data = path.join(root, "data");
const PASS = "cli CA passphrase, long enough";

/**
 * Runs `sealgate ARGS --data DATA` in a child process. The first call goes through the real
 * entry point (proving the command is registered); the rest load only the certs commands,
 * which keeps the test light on a busy machine.
 */
let viaEntry = true;
const LIGHT = [
  'import { Command } from "commander";',
  'const { registerCertsCommands } = await import("./cli/certs.ts");',
  "const program = new Command();",
  "registerCertsCommands(program);",
  'await program.parseAsync(process.argv.slice(1), { from: "user" });',
].join("\n");

async function sealgate(args: string[], env: Record<string, string> = {}) {
  const argv = viaEntry
    ? ["--import", "tsx", path.resolve("cli/entry.ts"), ...args, "--data", data]
    : ["--import", "tsx", "--input-type=module", "-e", LIGHT, ...args, "--data", data];
  viaEntry = false;
  try {
    const r = await exec(process.execPath, argv, {
      env: { ...process.env, SEALGATE_CA_PASSPHRASE: PASS, ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

t.test("sealgate certs ca init, then certs issue, gives files openssl accepts", async (t) => {
  if (!requireTools(t, "openssl")) return;
  const init = await sealgate(["certs", "ca", "init", "--name", "Clinic CA"]);
  t.equal(init.code, 0, init.stderr);
  t.match(init.stdout, /created CA .*CN=Clinic CA .*sha256 [0-9a-f]{64}/);
  t.equal(statSync(path.join(data, "ca", "ca.key")).mode & 0o777, 0o600, "key file is private");
  t.match(readFileSync(path.join(data, "ca", "ca.key"), "utf8"), /ENCRYPTED PRIVATE KEY/);

  const again = await sealgate(["certs", "ca", "init"]);
  t.equal(again.code, 1, "an existing CA is not replaced silently");
  t.match(again.stderr, /already exists.*--force.*\(ca_exists\)/);

  const out = path.join(root, "out");
  const pem = await sealgate([
    "certs",
    "issue",
    "nurse@clinic.example",
    "--out",
    out,
    "--format",
    "pem",
    "--algorithm",
    "ec-p256",
  ]);
  t.equal(pem.code, 0, pem.stderr);
  const certFile = path.join(out, "nurse@clinic.example.pem");
  const verified = openssl([
    "verify",
    "-CAfile",
    path.join(data, "ca", "ca.pem"),
    "-purpose",
    "smimesign",
    certFile,
  ]);
  t.match(verified.toString(), /OK/);

  const pwFile = path.join(root, "p12pw");
  writeFileSync(pwFile, "staff p12 password\n");
  const p12 = await sealgate([
    "certs",
    "issue",
    "doc@clinic.example",
    "--out",
    out,
    "--algorithm",
    "rsa-2048",
    "--p12-password-file",
    pwFile,
  ]);
  t.equal(p12.code, 0, p12.stderr);
  t.notMatch(p12.stdout, /password:/, "a given password is not echoed");
  const inside = openssl([
    "pkcs12",
    "-in",
    path.join(out, "doc@clinic.example.p12"),
    "-passin",
    `file:${pwFile}`,
    "-nodes",
  ]).toString();
  t.match(inside, /BEGIN PRIVATE KEY/);
  t.match(inside, /subject=CN = doc@clinic.example/);
});

t.test(
  "certs issue --store keeps the staff key sealed in the store as that member's signer",
  async (t) => {
    const issued = await sealgate([
      "certs",
      "issue",
      "lab@clinic.example",
      "--out",
      path.join(root, "stored"),
      "--format",
      "pem",
      "--store",
    ]);
    t.equal(issued.code, 0, issued.stderr);
    t.match(issued.stdout, /stored as staff-smime [0-9a-f]{64} \(private key sealed\)\n$/);
    const config = loadConfig(null, { dataDir: data }).config;
    const keys = await openKeyRepository(config);
    t.teardown(() => keys.close());
    const [stored] = await keys.keysForAddress("lab@clinic.example", ["staff-smime"]);
    t.equal(stored?.source, "issued");
    const certFile = path.join(root, "stored", "lab@clinic.example.pem");
    const keyFile = path.join(root, "stored", "lab@clinic.example.key");
    t.equal(
      readFileSync(certFile, "utf8"),
      stored?.material,
      "the stored certificate is the issued one, with its chain",
    );
    t.equal(
      stored?.privateMaterial,
      readFileSync(keyFile, "utf8"),
      "the KEK-sealed key opens to the issued key",
    );
  },
);

t.test("without the CA passphrase, or with a wrong one, nothing is issued", async (t) => {
  const missing = await sealgate(["certs", "issue", "x@clinic.example", "--out", root], {
    SEALGATE_CA_PASSPHRASE: "",
  });
  t.equal(missing.code, 1);
  t.match(missing.stderr, /SEALGATE_CA_PASSPHRASE/);
  const wrong = await sealgate(["certs", "issue", "x@clinic.example", "--out", root], {
    SEALGATE_CA_PASSPHRASE: "definitely the wrong one",
  });
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /\(ca_bad_key\)/);
});

t.test("certs ca import takes an existing CA and refuses a non-CA", async (t) => {
  if (!requireTools(t, "openssl")) return;
  const key = path.join(root, "ext.key");
  const cert = path.join(root, "ext.pem");
  openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "30",
    "-subj",
    "/CN=External CA",
    "-keyout",
    key,
    "-out",
    cert,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign",
  ]);
  const imported = await sealgate(["certs", "ca", "import", cert, key, "--force"]);
  t.equal(imported.code, 0, imported.stderr);
  t.match(imported.stdout, /imported CA .*CN=External CA/);
  const shown = await sealgate(["certs", "ca", "show"]);
  t.match(shown.stdout, /CN=External CA/);

  const leafKey = path.join(root, "leaf.key");
  const leaf = path.join(root, "leaf.pem");
  openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "30",
    "-subj",
    "/CN=not a CA",
    "-keyout",
    leafKey,
    "-out",
    leaf,
    "-addext",
    "basicConstraints=critical,CA:FALSE",
  ]);
  const refused = await sealgate(["certs", "ca", "import", leaf, leafKey, "--force"]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /not a CA/);
});
