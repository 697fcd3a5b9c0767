import { rmSync } from "node:fs";
import t from "tap";
import { readKey } from "openpgp";
import { MemoryKeyRepository } from "../certs/memory.js";
import type { StoredKey } from "../certs/types.js";
import { configSchema } from "../gateway/config/index.js";
import { CopyBuilder } from "../gateway/secure/index.js";
import { GpgHome } from "./helpers/gpg.js";
import { requireTools } from "./helpers/tools.js";
import { makePki, openssl, sampleMessage, type Party } from "./smime-fixtures.js";

/**
 * The copies the pipeline hands to delivery: the recipient and the organisation can open them,
 * the organisation's signature verifies when asked for, and Bcc and the real Subject are not
 * outside.
 */

if (!requireTools(t, "openssl", "gpg")) process.exit(0);

const pki = await makePki();
const recipient = await pki.issue("patient@example.net");
const org = await pki.issue("records@example.org");
const sender = await pki.issue("clinic@example.org");
const colleague = await pki.issue("colleague@example.org");

function key(party: Party, kind: StoredKey["kind"], privateKey: boolean): StoredKey {
  return {
    id: `${kind}-${party.address}`,
    kind,
    addresses: [party.address],
    source: "import",
    material: party.certPem,
    privateMaterial: privateKey ? party.keyPem : undefined,
    notAfter: null,
    createdAt: new Date(),
  };
}

function header(raw: Buffer, name: string): string | undefined {
  const head = raw.subarray(0, raw.indexOf("\r\n\r\n")).toString("latin1");
  return new RegExp(`^${name}: (.*)$`, "mi").exec(head)?.[1];
}

function secureConfig(signWithOrganisation: boolean) {
  return configSchema.parse({ secure: { smime: { signWithOrganisation } } }).secure;
}

t.test("an S/MIME copy is signed by the organisation when configured", async (t) => {
  const repository = new MemoryKeyRepository();
  await repository.putKey(key(org, "org-smime", true));
  const builder = new CopyBuilder({ repository, secure: secureConfig(true) });
  const copy = await builder.smime(sampleMessage(), recipient.certPem);
  t.equal(header(copy, "Subject"), "Secure message");
  t.notMatch(copy.toString("latin1"), /hidden@example\.org/, "Bcc is not outside");

  const opened = openssl(
    ["cms", "-decrypt", "-recip", recipient.certFile, "-inkey", recipient.keyFile],
    copy,
  );
  t.match(opened.toString("latin1"), /multipart\/signed/);
  const verified = openssl(["cms", "-verify", "-CAfile", pki.caFile], opened);
  t.match(verified.toString("latin1"), /Subject: Lab results for J\. Doe/);
  t.notMatch(verified.toString("latin1"), /hidden@example\.org/, "Bcc is not inside either");

  const archived = openssl(
    ["cms", "-decrypt", "-recip", org.certFile, "-inkey", org.keyFile],
    copy,
  );
  t.ok(archived.equals(opened), "the organisation's certificate opens the same copy");
});

t.test("the sender's own certificate joins the copy; a colleague's never does", async (t) => {
  const repository = new MemoryKeyRepository();
  await repository.putKey(key(org, "org-smime", true));
  await repository.putKey(key(sender, "staff-smime", false));
  await repository.putKey(key(colleague, "staff-smime", true));
  const builder = new CopyBuilder({ repository, secure: secureConfig(true) });
  const copy = await builder.smimeCopy(sampleMessage(), recipient.certPem, {
    mailFrom: "clinic@example.org",
  });
  t.same(copy.detail, {
    alsoEncryptedTo: [
      "sender:staff-smime-clinic@example.org",
      "organisation:org-smime-records@example.org",
    ],
    signedBy: "organisation:org-smime-records@example.org",
  });
  const opened = openssl(
    ["cms", "-decrypt", "-recip", sender.certFile, "-inkey", sender.keyFile],
    copy.bytes,
  );
  const signer = `${pki.dir}/signer-copies.pem`;
  openssl(["cms", "-verify", "-CAfile", pki.caFile, "-signer", signer], opened);
  t.match(
    openssl(["x509", "-in", signer, "-noout", "-ext", "subjectAltName"]).toString(),
    /email:records@example\.org/,
    "the sender has no key stored here, so the organisation signs",
  );
  t.throws(
    () =>
      openssl(
        ["cms", "-decrypt", "-recip", colleague.certFile, "-inkey", colleague.keyFile],
        copy.bytes,
      ),
    "a colleague's certificate does not open someone else's mail",
  );
});

t.test("an organisation certificate for the From address is the sender's", async (t) => {
  const repository = new MemoryKeyRepository();
  await repository.putKey(key(sender, "org-smime", true));
  await repository.putKey(key(org, "org-smime", false));
  const builder = new CopyBuilder({ repository, secure: secureConfig(true) });
  const copy = await builder.smimeCopy(sampleMessage(), recipient.certPem, {
    mailFrom: "clinic@example.org",
  });
  t.same(copy.detail.alsoEncryptedTo, [
    "sender:org-smime-clinic@example.org",
    "organisation:org-smime-records@example.org",
  ]);
  t.equal(copy.detail.signedBy, "sender:org-smime-clinic@example.org");
});

t.test("without an organisation certificate the copy is for the recipient only", async (t) => {
  const builder = new CopyBuilder({
    repository: new MemoryKeyRepository(),
    secure: secureConfig(true),
  });
  const { bytes: copy, detail } = await builder.smimeCopy(sampleMessage(), recipient.certPem);
  t.same(detail, { alsoEncryptedTo: [], signedBy: "none" }, "the event says nothing signed it");
  const opened = openssl(
    ["cms", "-decrypt", "-recip", recipient.certFile, "-inkey", recipient.keyFile],
    copy,
  );
  t.notMatch(opened.toString("latin1"), /multipart\/signed/, "nothing to sign with");
  t.throws(
    () => openssl(["cms", "-decrypt", "-recip", org.certFile, "-inkey", org.keyFile], copy),
    "the organisation's key does not open it",
  );
});

t.test("a PGP copy is also encrypted to the organisation's archive key", async (t) => {
  const gpg = new GpgHome();
  t.teardown(() => rmSync(gpg.dir, { recursive: true, force: true }));
  const pat = gpg.rsa("Pat <patient@example.net>");
  const archive = gpg.curve25519("Archive <archive@example.org>");
  const repository = new MemoryKeyRepository();
  await repository.putKey({
    id: archive,
    kind: "org-pgp",
    addresses: ["archive@example.org"],
    source: "import",
    material: gpg.exportPublic(archive).toString(),
    notAfter: null,
    createdAt: new Date(),
  });
  const builder = new CopyBuilder({ repository, secure: secureConfig(false) });
  const recipientKey = await readKey({ armoredKey: gpg.exportPublic(pat).toString() });
  const { bytes: copy, detail } = await builder.pgpCopy(sampleMessage(), recipientKey);
  t.same(detail, { alsoEncryptedTo: [`archive:${archive}`] });
  t.equal(header(copy, "Subject"), "Secure message");
  const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(
    copy.toString("latin1"),
  )?.[0];
  const listed = gpg.run(["--list-packets", "--list-only"], armored ?? "").toString();
  const keyIds = [...listed.matchAll(/keyid ([0-9A-F]{16})/g)].map((m) => m[1]);
  t.equal(keyIds.length, 2, "two recipients: the patient and the archive");
  const decrypted = gpg.run(["--decrypt"], armored ?? "").toString("latin1");
  t.match(decrypted, /Subject: Lab results for J\. Doe/);
});

t.test("an archive key that cannot be used is named in the copy's detail", async (t) => {
  const gpg = new GpgHome();
  t.teardown(() => rmSync(gpg.dir, { recursive: true, force: true }));
  const pat = gpg.rsa("Pat <patient@example.net>");
  const archive = gpg.curve25519("Archive <archive@example.org>");
  gpg.revoke(archive);
  const repository = new MemoryKeyRepository();
  await repository.putKey({
    id: archive,
    kind: "org-pgp",
    addresses: ["archive@example.org"],
    source: "import",
    material: gpg.exportPublic(archive).toString(),
    notAfter: null,
    createdAt: new Date(),
  });
  const builder = new CopyBuilder({ repository, secure: secureConfig(false) });
  const recipientKey = await readKey({ armoredKey: gpg.exportPublic(pat).toString() });
  const { detail } = await builder.pgpCopy(sampleMessage(), recipientKey);
  t.same(detail, { alsoEncryptedTo: [], archiveRejected: [`${archive}: pgp: key revoked`] });
});
