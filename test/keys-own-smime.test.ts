import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import t from "tap";
import { readPrivateKey, toPkcs12 } from "../certs/ca/index.js";
import { loadConfig } from "../gateway/config/index.js";
import { CopyBuilder } from "../gateway/secure/index.js";
import { openKeyRepository } from "../gateway/store/index.js";
import { requireTools } from "./helpers/tools.js";
import { makePki, openssl, sampleMessage } from "./smime-fixtures.js";

/**
 * Our own signing keys go in through the command (`sealgate keys import --org|--staff`, PEM or
 * PKCS#12), are sealed in the embedded store, and the gateway's copies are then signed with
 * them: `openssl cms -decrypt` opens the copy and `openssl cms -verify` accepts the signature.
 */

if (!requireTools(t, "openssl")) process.exit(0);

const exec = promisify(execFile);
const root = mkdtempSync(path.join(tmpdir(), "sealgate-own-keys-"));
const data = path.join(root, "data");
const pki = await makePki();
const recipient = await pki.issue("patient@example.net");
const org = await pki.issue("records@example.org");
const clinic = await pki.issue("clinic@example.org", { algorithm: "ec-p256" });
const other = await pki.issue("someone@example.org");

const LIGHT = [
  'import { Command } from "commander";',
  'const { registerKeysCommands } = await import("./cli/keys.ts");',
  "const program = new Command();",
  "registerKeysCommands(program);",
  'await program.parseAsync(process.argv.slice(1), { from: "user" });',
].join("\n");

/** `sealgate keys ARGS --data DATA` in a child process, with the store's own KEK file. */
async function sealgate(args: string[], env: Record<string, string> = {}) {
  const argv = ["--import", "tsx", "--input-type=module", "-e", LIGHT, "keys", ...args];
  try {
    const r = await exec(process.execPath, [...argv, "--data", data], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function file(name: string, content: string | Buffer): string {
  const f = path.join(root, name);
  writeFileSync(f, content, { mode: 0o600 });
  return f;
}

/** The gateway's copy builder over the same store, as gateway/app.ts wires it. */
async function gatewayBuilder(warnings: unknown[] = []) {
  const config = loadConfig(null, { dataDir: data }).config;
  const secure = {
    ...config.secure,
    smime: { ...config.secure.smime, signWithOrganisation: true },
  };
  const keys = await openKeyRepository(config);
  const logger = { warn: (o: unknown) => void warnings.push(o) };
  return { keys, builder: new CopyBuilder({ repository: keys, secure, logger }) };
}

function message(from: string): Buffer {
  return Buffer.from(
    sampleMessage().toString("latin1").replace("From: Clinic <clinic@example.org>", from),
    "latin1",
  );
}

function decrypt(copy: Buffer, party: { certFile: string; keyFile: string }): Buffer {
  return openssl(["cms", "-decrypt", "-recip", party.certFile, "-inkey", party.keyFile], copy);
}

/** Verifies the signed entity and returns the signer certificate's e-mail SAN. */
function verify(signed: Buffer): { content: string; signer: string } {
  const signerFile = path.join(root, `signer-${Math.random().toString(36).slice(2)}.pem`);
  const content = openssl(
    ["cms", "-verify", "-CAfile", pki.caFile, "-signer", signerFile],
    signed,
  ).toString("latin1");
  const san = openssl(["x509", "-in", signerFile, "-noout", "-ext", "subjectAltName"]);
  return { content, signer: /email:(\S+)/.exec(san.toString())?.[1] ?? "" };
}

t.test(
  "the organisation's PEM certificate and key, imported with --org, sign copies",
  async (t) => {
    const imported = await sealgate(["import", "--org", org.certFile, org.keyFile]);
    t.equal(imported.code, 0, imported.stderr);
    t.match(
      imported.stdout,
      /^imported org-smime [0-9a-f]{64} import expires .* \(private key stored, sealed\)\n$/,
    );

    const db = new Database(path.join(data, "sealgate.db"), { readonly: true });
    const row = db.prepare("SELECT private_material FROM keys WHERE kind = 'org-smime'").get() as {
      private_material: string;
    };
    db.close();
    t.match(row.private_material, /^sgk1\./, "the key is sealed with the KEK at rest");
    t.notMatch(row.private_material, /PRIVATE KEY/);

    const { keys, builder } = await gatewayBuilder();
    t.teardown(() => keys.close());
    const copy = await builder.smimeCopy(sampleMessage(), recipient.certPem);
    t.equal(copy.detail.signedBy, copy.detail.alsoEncryptedTo[0]);
    t.match(copy.detail.signedBy, /^organisation:[0-9a-f]{64}$/);
    t.same(
      copy.detail.alsoEncryptedTo.map((k) => k.split(":")[0]),
      ["organisation"],
      "no staff certificate for this sender: the organisation's is added",
    );
    const opened = decrypt(copy.bytes, recipient);
    t.match(opened.toString("latin1"), /^Content-Type: multipart\/signed;/);
    const verified = verify(opened);
    t.equal(verified.signer, "records@example.org", "signed by the organisation");
    t.match(verified.content, /Subject: Lab results for J\. Doe/);
    t.ok(decrypt(copy.bytes, org).equals(opened), "the organisation opens the same copy");
  },
);

t.test("a staff PKCS#12 from openssl signs that member's mail, and only theirs", async (t) => {
  const p12 = file("clinic.p12", "");
  openssl([
    "pkcs12",
    "-export",
    "-in",
    clinic.certFile,
    "-inkey",
    clinic.keyFile,
    "-certfile",
    pki.caFile,
    "-passout",
    "pass:staff p12 password",
    "-out",
    p12,
  ]);
  const noPassword = await sealgate(["import", "--staff", p12]);
  t.equal(noPassword.code, 1);
  t.match(noPassword.stderr, /needs its password/);
  const wrong = await sealgate([
    "import",
    "--staff",
    p12,
    "--password-file",
    file("bad", "nope\n"),
  ]);
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /wrong PKCS#12 password/);

  const passwordFile = file("p12-pass", "staff p12 password\n");
  const imported = await sealgate(["import", "--staff", p12, "--password-file", passwordFile]);
  t.equal(imported.code, 0, imported.stderr);
  t.match(
    imported.stdout,
    /^imported staff-smime [0-9a-f]{64} .*clinic@example\.org \(private key/,
  );

  const { keys, builder } = await gatewayBuilder();
  t.teardown(() => keys.close());
  const copy = await builder.smimeCopy(sampleMessage(), recipient.certPem, {
    mailFrom: "Clinic@example.org",
  });
  t.same(
    copy.detail.alsoEncryptedTo.map((k) => k.split(":")[0]),
    ["sender", "organisation"],
  );
  t.match(copy.detail.signedBy, /^sender:/);
  const opened = decrypt(copy.bytes, recipient);
  t.equal(verify(opened).signer, "clinic@example.org", "signed by the sender's own key");
  t.ok(decrypt(copy.bytes, clinic).equals(opened), "the sender opens their sent copy");
  t.ok(decrypt(copy.bytes, org).equals(opened), "the organisation opens it too");

  const forged = await builder.smimeCopy(sampleMessage(), recipient.certPem, {
    mailFrom: "someone@example.org",
  });
  t.same(
    forged.detail.alsoEncryptedTo.map((k) => k.split(":")[0]),
    ["organisation"],
    "a From the envelope does not back does not choose the member's key",
  );
  t.equal(verify(decrypt(forged.bytes, recipient)).signer, "records@example.org");
  t.throws(() => decrypt(forged.bytes, clinic), "nor can the member named in From open it");

  const fromOther = await builder.smimeCopy(
    message("From: Someone <someone@example.org>"),
    recipient.certPem,
    { mailFrom: "someone@example.org" },
  );
  t.same(
    fromOther.detail.alsoEncryptedTo.map((k) => k.split(":")[0]),
    ["organisation"],
  );
  t.equal(verify(decrypt(fromOther.bytes, recipient)).signer, "records@example.org");
  t.throws(() => decrypt(fromOther.bytes, clinic), "another member's key does not open it");
});

t.test("PKCS#12 files, ours (AES, 3DES) and openssl's 3DES, import; RC2 is named", async (t) => {
  const party = await pki.issue("ward@example.org");
  const ours = file(
    "ward-ours.p12",
    toPkcs12({
      key: readPrivateKey(party.keyPem),
      certPem: party.certPem,
      chainPem: pki.ca.certPem,
      password: "ward password long",
      name: "ward",
      legacy: true,
    }),
  );
  const theirs = file("ward-openssl.p12", "");
  openssl([
    "pkcs12",
    "-export",
    "-in",
    party.certFile,
    "-inkey",
    party.keyFile,
    "-certpbe",
    "PBE-SHA1-3DES",
    "-keypbe",
    "PBE-SHA1-3DES",
    "-macalg",
    "sha1",
    "-passout",
    "pass:ward password long",
    "-out",
    theirs,
  ]);
  const oursAes = file(
    "ward-ours-aes.p12",
    toPkcs12({
      key: readPrivateKey(party.keyPem),
      certPem: party.certPem,
      password: "ward password long",
      name: "ward",
    }),
  );
  for (const p12 of [ours, oursAes, theirs]) {
    const r = await sealgate(["import", "--staff", p12, "--password-env", "WARD_PASS"], {
      WARD_PASS: "ward password long",
    });
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /staff-smime .*ward@example\.org \(private key stored, sealed\)/);
  }
  const rc2 = file("ward-rc2.p12", "");
  openssl([
    "pkcs12",
    "-export",
    "-legacy",
    "-in",
    party.certFile,
    "-inkey",
    party.keyFile,
    "-passout",
    "pass:ward password long",
    "-out",
    rc2,
  ]);
  const old = await sealgate(["import", "--staff", rc2, "--password-env", "WARD_PASS"], {
    WARD_PASS: "ward password long",
  });
  t.equal(old.code, 1, "RC2-40 certificates (openssl -legacy) are not read");
  t.match(old.stderr, /old cipher \(RC2 or RC4\); re-export it with AES/);

  const unset = await sealgate(["import", "--staff", ours, "--password-env", "NOT_SET_HERE"]);
  t.match(unset.stderr, /NOT_SET_HERE is not set/);
});

t.test("a key that is not the certificate's, and keys for recipients, are refused", async (t) => {
  const mismatch = await sealgate(["import", "--org", org.certFile, other.keyFile]);
  t.equal(mismatch.code, 1);
  t.match(mismatch.stderr, /does not belong to the certificate/);

  const asRecipient = await sealgate(["import", org.certFile, org.keyFile]);
  t.equal(asRecipient.code, 1);
  t.match(asRecipient.stderr, /recipient's certificate is imported without one/);

  const encrypted = openssl([
    "pkcs8",
    "-topk8",
    "-in",
    other.keyFile,
    "-v2",
    "aes-256-cbc",
    "-passout",
    "pass:pem pass 123",
  ]);
  const bundle = file("other-bundle.pem", other.certPem + encrypted.toString());
  const needs = await sealgate(["import", "--staff", bundle]);
  t.match(needs.stderr, /encrypted; give its password/);
  const ok = await sealgate([
    "import",
    "--staff",
    bundle,
    "--password-file",
    file("pp", "pem pass 123"),
  ]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /staff-smime .*someone@example\.org \(private key stored, sealed\)/);
});

t.test("signing on but no key: the copy goes unsigned, once warned, and says so", async (t) => {
  const { MemoryKeyRepository } = await import("../certs/memory.js");
  const config = loadConfig(null, { dataDir: data }).config;
  const warnings: unknown[] = [];
  const builder = new CopyBuilder({
    repository: new MemoryKeyRepository(),
    secure: { ...config.secure, smime: { ...config.secure.smime, signWithOrganisation: true } },
    logger: { warn: (o: unknown) => void warnings.push(o) },
  });
  const first = await builder.smimeCopy(sampleMessage(), recipient.certPem);
  await builder.smimeCopy(sampleMessage(), recipient.certPem);
  t.equal(first.detail.signedBy, "none");
  t.notMatch(decrypt(first.bytes, recipient).toString("latin1"), /multipart\/signed/);
  t.same(warnings, [{ event: "secure:smime-unsigned", reason: "no certificate" }], "warned once");
  t.notMatch(JSON.stringify(warnings), /@/, "no address in the warning");
});

t.test("at start, signing on with only a key-less certificate is warned about", async (t) => {
  const { MemoryKeyRepository } = await import("../certs/memory.js");
  const config = loadConfig(null, { dataDir: data }).config;
  const secure = {
    ...config.secure,
    smime: { ...config.secure.smime, signWithOrganisation: true },
  };
  const repository = new MemoryKeyRepository();
  await repository.putKey({
    id: "org",
    kind: "org-smime",
    addresses: [org.address],
    source: "import",
    material: org.certPem,
    notAfter: null,
    createdAt: new Date(),
  });
  const warnings: unknown[] = [];
  const logger = { warn: (o: unknown) => void warnings.push(o) };
  t.equal(await new CopyBuilder({ repository, secure, logger }).checkSigningKeys(), false);
  t.same(warnings, [{ event: "secure:smime-unsigned", reason: "no private key" }]);
  await repository.putKey({ ...(await repository.listKeys())[0]!, privateMaterial: org.keyPem });
  t.equal(await new CopyBuilder({ repository, secure, logger }).checkSigningKeys(), true);
  t.equal(warnings.length, 1, "no warning once a key can sign");
});

t.test("a key file without a key, or one next to a PKCS#12 file, is refused", async (t) => {
  const noKey = await sealgate(["import", "--org", org.certFile, org.certFile]);
  t.equal(noKey.code, 1);
  t.match(noKey.stderr, /key file holds no PEM private key/);
  const p12 = file(
    "org.p12",
    toPkcs12({
      key: readPrivateKey(org.keyPem),
      certPem: org.certPem,
      password: "org p12 password",
      name: "org",
    }),
  );
  const both = await sealgate(["import", "--org", p12, org.keyFile]);
  t.equal(both.code, 1);
  t.match(both.stderr, /PKCS#12 file holds its key; give no key file/);
});

t.test("a damaged PKCS#12 file gets a keys error, never a crash", async (t) => {
  const { importKeys, KeysError } = await import("../certs/keys.js");
  const { MemoryKeyRepository } = await import("../certs/memory.js");
  const p12 = toPkcs12({
    key: readPrivateKey(org.keyPem),
    certPem: org.certPem,
    password: "org p12 password",
    name: "org",
  });
  const damaged: Buffer[] = [];
  for (let i = 1; i < p12.length; i += 53) {
    damaged.push(p12.subarray(0, i), Buffer.from(p12).fill(0x41, i, i + 3));
  }
  const outcomes = await Promise.all(
    damaged.map((bytes) =>
      importKeys(new MemoryKeyRepository(), bytes, {
        owner: "organisation",
        password: "org p12 password",
      }).then(
        () => "stored",
        (err: unknown) => (err instanceof KeysError ? err.code : String(err)),
      ),
    ),
  );
  t.same(
    [...new Set(outcomes)].filter((o) => !o.startsWith("keys-")),
    [],
    "every damaged file is refused with a keys-* code",
  );
});

t.test("our own certificate with a key copies cannot be encrypted to is refused", async (t) => {
  const key = file("ed.key", "");
  const cert = file("ed.pem", "");
  openssl(["genpkey", "-algorithm", "ed25519", "-out", key]);
  openssl([
    "req",
    "-x509",
    "-key",
    key,
    "-out",
    cert,
    "-subj",
    "/CN=ed",
    "-days",
    "3",
    "-addext",
    "subjectAltName=email:ed@example.org",
  ]);
  const r = await sealgate(["import", "--org", cert, key]);
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot be encrypted to a ed25519 key; use RSA, P-256 or P-384/);
});
