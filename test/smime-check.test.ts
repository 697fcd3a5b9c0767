import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import t from "tap";
import { createCa, importCa, issueCertificate, readPrivateKey } from "../certs/ca/index.js";
import { checkRecipientCertificate } from "../certs/smime/index.js";
import { makeTestCa } from "./helpers/pki.js";
import { requireTools } from "./helpers/tools.js";
import { PASSPHRASE, makePki } from "./smime-fixtures.js";

const pki = await makePki();
const anchors = { trustAnchors: [pki.ca.certPem] };
const DAY = 86_400_000;

t.test("a current certificate for the address from a trusted CA is usable", async (t) => {
  const rsa = await pki.issue("Patient@Example.net");
  const r = await checkRecipientCertificate(rsa.certPem, "patient@example.net", anchors);
  t.equal(r.ok, true);
  if (r.ok) {
    t.equal(r.keyAlgorithm, "rsa");
    t.ok(r.notAfter.getTime() > Date.now() + 300 * DAY, "the expiry is reported");
  }
  const ec = await pki.issue("ec@example.net", { algorithm: "ec-p256" });
  const e = await checkRecipientCertificate(ec.certPem, "EC@example.net", anchors);
  t.same(e.ok && e.keyAlgorithm, "ec", "an EC key with keyAgreement is usable, address case aside");
});

t.test("an expired certificate is refused with its expiry date", async (t) => {
  const expired = await pki.issue("old@example.net", {
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter: new Date(Date.now() - 30 * DAY),
  });
  const r = await checkRecipientCertificate(expired.certPem, "old@example.net", anchors);
  t.equal(r.ok, false);
  t.match(!r.ok && r.reason, /^certificate expired \d{4}-\d\d-\d\d$/);
});

t.test("a certificate not yet valid is refused", async (t) => {
  const future = await pki.issue("soon@example.net", {
    notBefore: new Date(Date.now() + 10 * DAY),
  });
  const r = await checkRecipientCertificate(future.certPem, "soon@example.net", anchors);
  t.match(!r.ok && r.reason, /not valid before/);
});

t.test("a certificate for another address is refused without naming either address", async (t) => {
  const other = await pki.issue("someone.else@example.net");
  const r = await checkRecipientCertificate(other.certPem, "patient@example.net", anchors);
  t.equal(r.ok, false);
  t.match(!r.ok && r.reason, /another address/);
  t.notMatch(!r.ok && r.reason, /example/);
});

t.test("a certificate whose key usage does not allow encryption is refused", async (t) => {
  const signOnly = await pki.issue("signer@example.net", { usage: "sign-only" });
  const r = await checkRecipientCertificate(signOnly.certPem, "signer@example.net", anchors);
  t.match(!r.ok && r.reason, /key usage does not allow encryption \(keyEncipherment missing\)/);
  const ecSign = await pki.issue("ecsigner@example.net", {
    algorithm: "ec-p256",
    usage: "sign-only",
  });
  const e = await checkRecipientCertificate(ecSign.certPem, "ecsigner@example.net", anchors);
  t.match(!e.ok && e.reason, /keyAgreement missing/);
});

t.test("a certificate from a CA outside the trust store is refused as untrusted", async (t) => {
  const stranger = await createCa({ passphrase: PASSPHRASE, name: "Somebody else's CA" });
  const good = await pki.issue("patient@example.net");
  const r = await checkRecipientCertificate(good.certPem, "patient@example.net", {
    trustAnchors: [stranger.certPem],
  });
  t.equal(r.ok, false);
  t.match(!r.ok && r.reason, /^chain untrusted/);
  const none = await checkRecipientCertificate(good.certPem, "patient@example.net", {
    trustAnchors: [],
  });
  t.match(!none.ok && none.reason, /no trust anchors/);
});

t.test("the check runs at the time asked for", async (t) => {
  const cert = await pki.issue("later@example.net");
  const r = await checkRecipientCertificate(cert.certPem, "later@example.net", {
    ...anchors,
    now: new Date(Date.now() + 800 * DAY),
  });
  t.match(!r.ok && r.reason, /expired/);
});

t.test("garbage is refused with a reason, never a crash", async (t) => {
  const a = await checkRecipientCertificate("hello", "x@example.net", anchors);
  t.match(!a.ok && a.reason, /no PEM certificate/);
  const pem = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n";
  const b = await checkRecipientCertificate(pem, "x@example.net", anchors);
  t.match(!b.ok && b.reason, /cannot be parsed/);
});

t.test(
  "a leaf sent with its intermediate verifies to the root; without it, it does not",
  async (t) => {
    if (!requireTools(t, "openssl")) return;
    // The hospital's root (openssl) signs an intermediate that sealgate imports as its CA.
    const root = makeTestCa("Hospital root");
    const ext = path.join(root.dir, "intermediate.ext");
    writeFileSync(
      ext,
      "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
    );
    const run = (args: string[]) => execFileSync("openssl", args, { cwd: root.dir, stdio: "pipe" });
    run([
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      "/CN=sealgate intermediate",
      "-keyout",
      "int.key",
      "-out",
      "int.csr",
    ]);
    run([
      "x509",
      "-req",
      "-in",
      "int.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "30",
      "-extfile",
      ext,
      "-out",
      "int.pem",
    ]);
    const intermediate = importCa(
      readFileSync(path.join(root.dir, "int.pem"), "utf8"),
      readFileSync(path.join(root.dir, "int.key"), "utf8"),
      { passphrase: PASSPHRASE },
    );
    const leaf = await issueCertificate(intermediate, "ward@example.net", {
      passphrase: PASSPHRASE,
      algorithm: "rsa-2048",
    });
    const withChain = await checkRecipientCertificate(
      leaf.certPem + leaf.chainPem,
      "ward@example.net",
      {
        trustAnchors: [root.certPem],
      },
    );
    t.equal(withChain.ok, true, "leaf + intermediate verify to the root");
    const alone = await checkRecipientCertificate(leaf.certPem, "ward@example.net", {
      trustAnchors: [root.certPem],
    });
    t.match(!alone.ok && alone.reason, /^chain untrusted/);
  },
);

t.test("an RSA key shorter than 2048 bits is refused", async (t) => {
  if (!requireTools(t, "openssl")) return;
  const dir = pki.dir;
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  writeFileSync(
    path.join(dir, "ca.key"),
    readPrivateKey(pki.ca.encryptedKeyPem, PASSPHRASE).export({ type: "pkcs8", format: "pem" }),
  );
  writeFileSync(
    path.join(dir, "weak.ext"),
    "subjectAltName=email:weak@example.net\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
  );
  run([
    "req",
    "-newkey",
    "rsa:1024",
    "-nodes",
    "-subj",
    "/CN=weak",
    "-keyout",
    "weak.key",
    "-out",
    "weak.csr",
  ]);
  run([
    "x509",
    "-req",
    "-in",
    "weak.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "30",
    "-extfile",
    "weak.ext",
    "-out",
    "weak.pem",
  ]);
  const r = await checkRecipientCertificate(
    readFileSync(path.join(dir, "weak.pem"), "utf8"),
    "weak@example.net",
    anchors,
  );
  t.match(!r.ok && r.reason, /RSA key too short \(1024 bits\)/);
});
