import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";
import {
  createCa,
  importCa,
  issueCertificate,
  issuedStoredKey,
  loadCaFromRepository,
  readPrivateKey,
  saveCaToRepository,
  toPkcs12,
} from "../certs/ca/index.js";
import { MemoryKeyRepository } from "../certs/memory.js";
import { checkRecipientCertificate } from "../certs/smime/index.js";
import { issueCert, makeTestCa } from "./helpers/pki.js";
import { requireTools } from "./helpers/tools.js";
import { PASSPHRASE, openssl } from "./smime-fixtures.js";

const dir = mkdtempSync(path.join(tmpdir(), "sealgate-ca-test-"));
let n = 0;
function file(content: string | Buffer): string {
  const f = path.join(dir, `f${n++}`);
  writeFileSync(f, content);
  return f;
}

for (const algorithm of ["ec-p256", "rsa-3072"] as const) {
  t.test(`a ${algorithm} CA issues S/MIME certificates openssl accepts for e-mail`, async (t) => {
    if (!requireTools(t, "openssl")) return;
    const ca = await createCa({ passphrase: PASSPHRASE, algorithm, name: "Clinic CA" });
    const caText = openssl(["x509", "-noout", "-text", "-in", file(ca.certPem)]).toString();
    t.match(caText, /CA:TRUE/);
    t.match(caText, /Certificate Sign, CRL Sign/);
    const leaf = await issueCertificate(ca, "Dr.Smith@Clinic.example", {
      passphrase: PASSPHRASE,
      algorithm: "rsa-2048",
    });
    const text = openssl(["x509", "-noout", "-text", "-in", file(leaf.certPem)]).toString();
    t.match(text, /email:dr\.smith@clinic\.example/);
    t.match(text, /Digital Signature, Key Encipherment/);
    t.match(text, /E-mail Protection/);
    const caFile = file(ca.certPem);
    for (const purpose of ["smimeencrypt", "smimesign"]) {
      const out = openssl(["verify", "-CAfile", caFile, "-purpose", purpose, file(leaf.certPem)]);
      t.match(out.toString(), /: OK/, `openssl verify -purpose ${purpose}`);
    }
    t.equal(leaf.chainPem, ca.certPem, "the chain handed over is the CA certificate");
    const check = await checkRecipientCertificate(leaf.certPem, "dr.smith@clinic.example", {
      trustAnchors: [ca.certPem],
    });
    t.equal(check.ok, true, "sealgate's own check accepts it");
  });
}

t.test("an EC staff key gets keyAgreement, not keyEncipherment", async (t) => {
  const ca = await createCa({ passphrase: PASSPHRASE });
  const leaf = await issueCertificate(ca, "ec@clinic.example", {
    passphrase: PASSPHRASE,
    algorithm: "ec-p256",
  });
  if (!requireTools(t, "openssl")) return;
  const text = openssl(["x509", "-noout", "-text", "-in", file(leaf.certPem)]).toString();
  t.match(text, /Digital Signature, Key Agreement/);
});

t.test("the CA key is encrypted at rest and opens only with the passphrase", async (t) => {
  const ca = await createCa({ passphrase: PASSPHRASE });
  t.match(ca.encryptedKeyPem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  t.ok(readPrivateKey(ca.encryptedKeyPem, PASSPHRASE));
  t.throws(() => readPrivateKey(ca.encryptedKeyPem, "not the passphrase"), { code: "ca_bad_key" });
  await t.rejects(issueCertificate(ca, "a@clinic.example", { passphrase: "wrong passphrase!" }), {
    code: "ca_bad_key",
  });
  if (requireTools(t, "openssl")) {
    const keyFile = file(ca.encryptedKeyPem);
    t.ok(openssl(["pkey", "-in", keyFile, "-passin", `pass:${PASSPHRASE}`, "-noout"]));
    t.throws(() => openssl(["pkey", "-in", keyFile, "-passin", "pass:nope", "-noout"]));
  }
  await t.rejects(createCa({ passphrase: "short" }), { code: "ca_weak_passphrase" });
});

t.test("an address that is not one is refused", async (t) => {
  const ca = await createCa({ passphrase: PASSPHRASE });
  for (const bad of ["nobody", "a@b", "x y@clinic.example", "<a@clinic.example>"]) {
    await t.rejects(issueCertificate(ca, bad, { passphrase: PASSPHRASE }), {
      code: "ca_bad_address",
    });
  }
});

t.test("an imported CA (made by openssl) issues certificates that chain to it", async (t) => {
  if (!requireTools(t, "openssl")) return;
  const external = makeTestCa("Hospital root");
  const keyPem = readFileSync(external.keyFile, "utf8");
  const ca = importCa(external.certPem, keyPem, { passphrase: PASSPHRASE });
  t.match(ca.encryptedKeyPem, /ENCRYPTED PRIVATE KEY/, "the imported key is stored encrypted");
  const leaf = await issueCertificate(ca, "nurse@clinic.example", {
    passphrase: PASSPHRASE,
    algorithm: "rsa-2048",
  });
  const out = openssl([
    "verify",
    "-CAfile",
    external.certFile,
    "-purpose",
    "smimeencrypt",
    file(leaf.certPem),
  ]);
  t.match(out.toString(), /: OK/);

  const notCa = issueCert(external, { names: ["mail.clinic.example"] });
  t.throws(() => importCa(notCa.certPem, notCa.keyPem, { passphrase: PASSPHRASE }), {
    code: "ca_bad_certificate",
  });
  t.throws(() => importCa(external.certPem, notCa.keyPem, { passphrase: PASSPHRASE }), {
    code: "ca_bad_key",
  });
});

t.test("PKCS#12 output opens with its password in openssl, in both layouts", async (t) => {
  if (!requireTools(t, "openssl")) return;
  const ca = await createCa({ passphrase: PASSPHRASE });
  const leaf = await issueCertificate(ca, "staff@clinic.example", {
    passphrase: PASSPHRASE,
    algorithm: "rsa-2048",
  });
  for (const legacy of [false, true]) {
    const p12 = toPkcs12({
      key: createPrivateKey(leaf.keyPem),
      certPem: leaf.certPem,
      chainPem: leaf.chainPem,
      password: "staff p12 password",
      name: "staff",
      legacy,
    });
    const f = file(p12);
    const pem = openssl([
      "pkcs12",
      "-in",
      f,
      "-passin",
      "pass:staff p12 password",
      "-nodes",
    ]).toString();
    t.equal((pem.match(/BEGIN CERTIFICATE/g) ?? []).length, 2, "certificate and CA inside");
    const keyOut = openssl(["pkey", "-pubout"], Buffer.from(pem));
    const certKey = openssl(["x509", "-pubkey", "-noout", "-in", file(leaf.certPem)]);
    t.equal(keyOut.toString(), certKey.toString(), "the key inside is the certificate's");
    t.throws(
      () => openssl(["pkcs12", "-in", f, "-passin", "pass:wrong password!!", "-nodes"]),
      `legacy=${legacy}: a wrong password fails the MAC`,
    );
  }
});

t.test(
  "the CA goes into a key repository encrypted, an issued key as the staff signer",
  async (t) => {
    const repo = new MemoryKeyRepository();
    const ca = await createCa({ passphrase: PASSPHRASE });
    await saveCaToRepository(repo, ca);
    const loaded = await loadCaFromRepository(repo);
    t.same(loaded, ca);
    const leaf = await issueCertificate(loaded, "Staff@Clinic.example", {
      passphrase: PASSPHRASE,
      algorithm: "ec-p256",
    });
    await repo.putKey(issuedStoredKey(leaf, "Staff@Clinic.example"));
    const [stored] = await repo.keysForAddress("staff@clinic.example", ["staff-smime"]);
    t.equal(stored?.source, "issued");
    t.match(loaded.encryptedKeyPem, /ENCRYPTED PRIVATE KEY/, "the CA key keeps its passphrase");
    // The repository seals private material with the KEK; what it is handed is usable as is.
    t.match(stored?.privateMaterial ?? "", /^-----BEGIN PRIVATE KEY-----/);
    t.ok(readPrivateKey(stored?.privateMaterial ?? ""), "readable without a passphrase");
    await t.rejects(loadCaFromRepository(new MemoryKeyRepository()), { code: "ca_missing" });
  },
);
