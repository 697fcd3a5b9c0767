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

/**
 * What gpgsm opens. GnuPG 2.2 (2.2.40 with libksba 1.6.3 here) opens RSA PKCS#1 v1.5 with
 * AES-256-CBC only: RSAES-OAEP key transport, AuthEnvelopedData (AES-GCM, RFC 5083) and ECC
 * keys came with GnuPG 2.3/2.4. On 2.2 those variants are checked to fail with the error that
 * names the reason (and openssl cms opens the same bytes, in smime-encrypt.test.ts); on a newer
 * gpgsm they must open.
 */
interface Variant {
  name: string;
  key: "rsa" | "ec";
  options: { rsaPadding?: "oaep"; contentEncryption?: "aes-256-gcm" };
  /** Why gpgsm 2.2 cannot open it, and the error it gives; absent: it opens. */
  on22?: { why: string; error: RegExp };
}

const VARIANTS: Variant[] = [
  { name: "RSA PKCS#1 v1.5, AES-256-CBC", key: "rsa", options: {} },
  {
    name: "RSA OAEP, AES-256-CBC",
    key: "rsa",
    options: { rsaPadding: "oaep" },
    on22: { why: "no RSAES-OAEP key transport", error: /error getting encrypted session key/ },
  },
  {
    name: "RSA PKCS#1 v1.5, AES-256-GCM",
    key: "rsa",
    options: { contentEncryption: "aes-256-gcm" },
    on22: { why: "no AuthEnvelopedData (GCM parameters)", error: /error getting IV/ },
  },
  {
    name: "RSA OAEP, AES-256-GCM",
    key: "rsa",
    options: { rsaPadding: "oaep", contentEncryption: "aes-256-gcm" },
    on22: { why: "no AuthEnvelopedData (GCM parameters)", error: /error getting IV/ },
  },
  {
    name: "ECDH P-256, AES-256-CBC",
    key: "ec",
    options: {},
    on22: { why: "no ECC keys: importing an EC PKCS#12 crashes it", error: /import failed/ },
  },
  {
    name: "ECDH P-256, AES-256-GCM",
    key: "ec",
    options: { contentEncryption: "aes-256-gcm" },
    on22: { why: "no ECC keys: importing an EC PKCS#12 crashes it", error: /import failed/ },
  },
];

t.test("gpgsm --decrypt opens what its version supports, to the original entity", async (t) => {
  if (!requireTools(t, "gpgsm", "gpgconf")) return;
  const version = /gpgsm \(GnuPG\) (\S+)/.exec(
    execFileSync("gpgsm", ["--version"]).toString(),
  )?.[1];
  const is22 = version?.startsWith("2.2.") === true;
  const pki = await makePki();
  const parties = {
    rsa: await pki.issue("patient@example.net"),
    ec: await pki.issue("ec@example.net", { algorithm: "ec-p256" }),
  };
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

  // gpgsm 2.2 reads PKCS#12 only without PBES2, hence the legacy layout sealgate can write.
  const imported = new Map<"rsa" | "ec", string | null>();
  for (const [key, party] of Object.entries(parties) as ["rsa" | "ec", typeof parties.rsa][]) {
    const p12 = path.join(home, `${key}.p12`);
    writeFileSync(
      p12,
      toPkcs12({
        key: createPrivateKey(party.keyPem),
        certPem: party.certPem,
        chainPem: pki.ca.certPem,
        password: P12_PASSWORD,
        name: key,
        legacy: true,
      }),
    );
    try {
      gpgsm(["--import", p12]);
      imported.set(key, null);
    } catch (err) {
      imported.set(key, `import failed: ${(err as { stderr?: Buffer }).stderr?.toString() ?? ""}`);
    }
  }

  const { inner, outer } = protectHeaders(sampleMessage(), { neutralSubject: "Secure message" });
  for (const v of VARIANTS) {
    const message = await encryptSmime(inner, {
      recipients: [parties[v.key].certPem],
      outerHeaders: outer,
      ...v.options,
    });
    // gpgsm takes the CMS object itself, not the MIME message around it.
    const text = message.toString("latin1");
    const der = Buffer.from(text.slice(text.indexOf("\r\n\r\n") + 4), "base64");
    const file = path.join(home, `${v.name.replace(/\W+/g, "-")}.p7m`);
    writeFileSync(file, der);
    let failure = imported.get(v.key) ?? null;
    let plain: Buffer | null = null;
    if (failure === null) {
      try {
        plain = gpgsm(["--decrypt", file]);
      } catch (err) {
        failure = (err as { stderr?: Buffer }).stderr?.toString() ?? "failed";
      }
    }
    if (v.on22 && is22) {
      t.match(failure, v.on22.error, `${v.name}: unsupported by gpgsm ${version} (${v.on22.why})`);
      continue;
    }
    t.equal(failure, null, `${v.name}: gpgsm ${version} opens it`);
    t.ok(plain?.equals(inner), `${v.name}: gpgsm gives back the inner entity, byte for byte`);
  }
});
