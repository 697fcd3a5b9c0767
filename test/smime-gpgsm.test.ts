import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";
import { toPkcs12 } from "../certs/ca/index.js";
import { pemBlocks } from "../certs/x509.js";
import { encryptSmime, protectHeaders } from "../certs/smime/index.js";
import { requireTools } from "./helpers/tools.js";
import { makePki, sampleMessage } from "./smime-fixtures.js";

const P12_PASSWORD = "recipient p12 password";

t.test("gpgsm --decrypt opens RSA PKCS#1 v1.5, AES-256-CBC to the original entity", async (t) => {
  if (!requireTools(t, "gpgsm", "gpgconf")) return;
  const pki = await makePki();
  const patient = await pki.issue("patient@example.net");
  const home = mkdtempSync(path.join(tmpdir(), "sg-gpgsm-"));
  const env = { ...process.env, GNUPGHOME: home };
  t.teardown(() => {
    try {
      execFileSync("gpgconf", ["--kill", "all"], { env, stdio: "ignore" });
    } catch {
      // the agent was never started
    }
  });
  writeFileSync(path.join(home, "gpg-agent.conf"), "allow-loopback-pinentry\n");
  writeFileSync(
    path.join(home, "gpgsm.conf"),
    "disable-crl-checks\ndisable-trusted-cert-crl-check\n",
  );
  const caDer = pemBlocks(pki.ca.certPem)[0] as Buffer;
  const fpr = createHash("sha1").update(caDer).digest("hex").toUpperCase().match(/../g)?.join(":");
  writeFileSync(path.join(home, "trustlist.txt"), `${fpr} S\n`);

  // gpgsm 2.2 reads PKCS#12 only without PBES2, hence the legacy layout sealgate can write.
  const p12 = path.join(home, "patient.p12");
  writeFileSync(
    p12,
    toPkcs12({
      key: createPrivateKey(patient.keyPem),
      certPem: patient.certPem,
      chainPem: pki.ca.certPem,
      password: P12_PASSWORD,
      name: "patient",
      legacy: true,
    }),
  );
  const gpgsm = (args: string[]) =>
    execFileSync(
      "gpgsm",
      ["--batch", "--pinentry-mode", "loopback", "--passphrase-fd", "0", ...args],
      {
        env,
        input: P12_PASSWORD + "\n",
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
  gpgsm(["--import", p12]);

  const { inner, outer } = protectHeaders(sampleMessage(), { neutralSubject: "Secure message" });
  const message = await encryptSmime(inner, { recipients: [patient.certPem], outerHeaders: outer });
  // gpgsm takes the CMS object itself, not the MIME message around it.
  const text = message.toString("latin1");
  const der = Buffer.from(text.slice(text.indexOf("\r\n\r\n") + 4), "base64");
  const file = path.join(home, "message.p7m");
  writeFileSync(file, der);
  const plain = gpgsm(["--decrypt", file]);
  t.ok(plain.equals(inner), "gpgsm gives back the inner entity, byte for byte");
});
