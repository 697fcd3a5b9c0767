import { writeFileSync } from "node:fs";
import path from "node:path";
import t from "tap";
import { encryptSmime, protectHeaders, signSmime } from "../certs/smime/index.js";
import { requireTools } from "./helpers/tools.js";
import { makePki, openssl, sampleMessage } from "./smime-fixtures.js";

const pki = await makePki();
const patient = await pki.issue("patient@example.net");
const clinicRsa = await pki.issue("clinic@example.org");
const clinicEc = await pki.issue("clinic-ec@example.org", { algorithm: "ec-p256" });
const { inner, outer } = protectHeaders(sampleMessage(), { neutralSubject: "Secure message" });

for (const signer of [clinicRsa, clinicEc]) {
  const kind = signer === clinicRsa ? "RSA" : "ECDSA";
  t.test(`signed-then-encrypted (${kind}) decrypts and verifies with openssl cms`, async (t) => {
    if (!requireTools(t, "openssl")) return;
    const signed = await signSmime(inner, {
      certPem: signer.certPem,
      keyPem: signer.keyPem,
      chainPem: [pki.ca.certPem],
    });
    const message = await encryptSmime(signed, {
      recipients: [patient.certPem, clinicRsa.certPem],
      outerHeaders: outer,
    });
    const file = path.join(pki.dir, `signed-${kind}.eml`);
    writeFileSync(file, message);
    const opened = openssl([
      "cms",
      "-decrypt",
      "-in",
      file,
      "-recip",
      patient.certFile,
      "-inkey",
      patient.keyFile,
    ]);
    t.ok(opened.equals(signed), "decryption gives the signed entity back");
    t.match(
      opened.toString("latin1"),
      /^Content-Type: multipart\/signed; protocol="application\/pkcs7-signature";/,
    );
    const signedFile = path.join(pki.dir, `signed-${kind}.mime`);
    writeFileSync(signedFile, opened);
    const verified = openssl([
      "cms",
      "-verify",
      "-in",
      signedFile,
      "-CAfile",
      pki.caFile,
      "-purpose",
      "smimesign",
    ]);
    t.ok(verified.equals(inner), "the verified content is the original entity, byte for byte");
  });
}

t.test("a signature over altered content does not verify", async (t) => {
  if (!requireTools(t, "openssl")) return;
  const signed = await signSmime(inner, { certPem: clinicRsa.certPem, keyPem: clinicRsa.keyPem });
  const tampered = Buffer.from(
    signed.toString("latin1").replace("Dear patient", "Dear pat1ent"),
    "latin1",
  );
  const file = path.join(pki.dir, "tampered.mime");
  writeFileSync(file, tampered);
  t.throws(() => openssl(["cms", "-verify", "-in", file, "-CAfile", pki.caFile]));
});

t.test("a key that is not the certificate's is refused", async (t) => {
  await t.rejects(signSmime(inner, { certPem: clinicRsa.certPem, keyPem: patient.keyPem }), {
    code: "smime_bad_key",
  });
  await t.rejects(signSmime(inner, { certPem: clinicRsa.certPem, keyPem: "nonsense" }), {
    code: "smime_bad_key",
  });
});
