import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Command } from "commander";
import { generateKey } from "openpgp";
import t from "tap";
import { registerKeysCommands } from "../cli/keys.js";
import { findArchiveKey } from "../certs/discovery/index.js";
import { MemoryKeyRepository } from "../certs/memory.js";
import { issueCert, makeTestCa } from "./helpers/pki.js";
import { requireTools } from "./helpers/tools.js";

const dir = mkdtempSync(path.join(tmpdir(), "sealgate-keys-"));
const repository = new MemoryKeyRepository();

/** Runs `sealgate keys ...` in process on the shared repository; returns its output. */
async function sealgate(...args: string[]) {
  const program = new Command().exitOverride();
  let closed = 0;
  registerKeysCommands(program, async () => ({ repository, close: async () => void closed++ }));
  const out: string[] = [];
  const err: string[] = [];
  const write = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => err.push(s) > 0) as typeof process.stderr.write;
  process.exitCode = 0;
  try {
    await program.parseAsync(["node", "sealgate", "keys", ...args]);
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
  const code = process.exitCode;
  process.exitCode = 0;
  return { stdout: out.join(""), stderr: err.join(""), code, closed };
}

t.test("an armored OpenPGP key is imported with its addresses and listed", async (t) => {
  const { publicKey, privateKey } = await generateKey({
    userIDs: [{ name: "Alice", email: "Alice@Example.test" }, { email: "a2@example.test" }],
    type: "ecc",
    curve: "curve25519Legacy",
    keyExpirationTime: 86400 * 400,
  });
  const file = path.join(dir, "alice.asc");
  writeFileSync(file, publicKey);
  const imported = await sealgate("import", file);
  t.equal(imported.code, 0);
  t.match(
    imported.stdout,
    new RegExp(
      "^imported pgp-public [0-9A-F]{40} import expires \\d{4}-\\d\\d-\\d\\d " +
        "alice@example\\.test,a2@example\\.test\n$",
    ),
  );
  t.equal(imported.closed, 1, "the repository is closed after the command");

  const listed = await sealgate("list", "--json");
  const row = JSON.parse(listed.stdout.trim()) as Record<string, unknown>;
  t.match(row, {
    kind: "pgp-public",
    source: "import",
    addresses: ["alice@example.test", "a2@example.test"],
  });
  t.notOk("material" in row, "key material is not printed");

  const secret = path.join(dir, "alice-secret.asc");
  writeFileSync(secret, privateKey);
  const refused = await sealgate("import", secret);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /private key/);
});

t.test("an S/MIME certificate is imported under its SHA-256 fingerprint", async (t) => {
  if (!requireTools(t, "openssl")) return;
  execFileSync(
    "openssl",
    [
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
      "/CN=Bob",
      "-keyout",
      "bob.key",
      "-out",
      "bob.pem",
      "-addext",
      "subjectAltName=email:Bob@Example.test",
    ],
    { cwd: dir, stdio: "ignore" },
  );
  execFileSync("openssl", ["x509", "-in", "bob.pem", "-outform", "DER", "-out", "bob.der"], {
    cwd: dir,
  });
  const der = readFileSync(path.join(dir, "bob.der"));
  const sha256 = createHash("sha256").update(der).digest("hex");
  for (const file of ["bob.pem", "bob.der"]) {
    const result = await sealgate("import", path.join(dir, file));
    t.match(result.stdout, `imported smime-cert ${sha256} import expires `, file);
    t.match(result.stdout, /bob@example\.test\n$/);
  }
  const [stored] = await repository.keysForAddress("bob@example.test", ["smime-cert"]);
  t.match(stored?.material, /^-----BEGIN CERTIFICATE-----\n/, "stored as PEM");

  const key = await sealgate("import", path.join(dir, "bob.key"));
  t.match(key.stderr, /private key/, "the private key file is refused");

  const ca = makeTestCa();
  const server = issueCert(ca, { names: ["mail.example.test"] });
  writeFileSync(path.join(dir, "server.pem"), server.certPem);
  const noEmail = await sealgate("import", path.join(dir, "server.pem"));
  t.equal(noEmail.code, 1);
  t.match(
    noEmail.stderr,
    /names no e-mail address/,
    "a certificate without an e-mail SAN is refused",
  );
});

t.test("a key is removed by its PGP key ID, and unknown ids are reported", async (t) => {
  const { publicKey } = await generateKey({
    userIDs: [{ email: "carol@example.test" }],
    type: "ecc",
    curve: "curve25519Legacy",
    format: "object",
  });
  const file = path.join(dir, "carol.gpg");
  writeFileSync(file, publicKey.write());
  t.match((await sealgate("import", file)).stdout, /imported pgp-public/, "binary keys import too");
  const keyId = publicKey.getKeyID().toHex();
  const removed = await sealgate("remove", `0x${keyId}`);
  t.match(removed.stdout, new RegExp(`^removed pgp-public [0-9A-F]{24}${keyId.toUpperCase()}`));
  t.same(await repository.keysForAddress("carol@example.test", ["pgp-public"]), []);
  const again = await sealgate("remove", keyId);
  t.equal(again.code, 1);
  t.match(again.stderr, /no key with id/);
});

t.test("a file that is neither key nor certificate gets a clear answer", async (t) => {
  const file = path.join(dir, "junk.txt");
  writeFileSync(file, "hello, not a key\n");
  const result = await sealgate("import", file);
  t.equal(result.code, 1);
  t.match(result.stderr, /not an OpenPGP public key or an X\.509 certificate/);
  const missing = await sealgate("import", path.join(dir, "absent.asc"));
  t.match(missing.stderr, /cannot read/);
});

t.test("a key imported with --org becomes the archive recipient", async (t) => {
  const { publicKey } = await generateKey({
    userIDs: [{ email: "archive@clinic.example" }],
    type: "ecc",
    curve: "curve25519Legacy",
    format: "object",
  });
  const file = path.join(dir, "archive.asc");
  writeFileSync(file, publicKey.armor());
  t.match((await sealgate("import", "--org", file)).stdout, /^imported org-pgp /);
  const found = await findArchiveKey(repository);
  t.equal(found.kind, "found");
  if (found.kind === "found") t.equal(found.key.getFingerprint(), publicKey.getFingerprint());
  t.same(await findArchiveKey(new MemoryKeyRepository()), { kind: "none", rejections: [] });
});
