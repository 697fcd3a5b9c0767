import { webcrypto } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { simpleParser } from "mailparser";
import t from "tap";
import {
  assertRecipientKeys,
  encryptSmime,
  protectHeaders,
  SmimeError,
} from "../certs/smime/index.js";
import { requireTools } from "./helpers/tools.js";
import { ATTACHMENT, PDF, makePki, openssl, sampleMessage, type Party } from "./smime-fixtures.js";

const pki = await makePki();
const rsa = await pki.issue("patient@example.net");
const org = await pki.issue("clinic@example.org");
const ec256 = await pki.issue("ec256@example.net", { algorithm: "ec-p256" });
const ec384 = await pki.issue("ec384@example.net", { algorithm: "ec-p384" });
const { inner, outer } = protectHeaders(sampleMessage(), { neutralSubject: "Secure message" });

let n = 0;
function decrypt(message: Buffer, who: Party): Buffer {
  const file = path.join(pki.dir, `msg-${n++}.eml`);
  writeFileSync(file, message);
  return openssl(["cms", "-decrypt", "-in", file, "-recip", who.certFile, "-inkey", who.keyFile]);
}

/** The body of the S/MIME message, base64-decoded: the CMS DER. */
function cmsDer(message: Buffer): Buffer {
  const text = message.toString("latin1");
  return Buffer.from(text.slice(text.indexOf("\r\n\r\n") + 4), "base64");
}

const variants = [
  { name: "RSA PKCS#1 v1.5, AES-256-CBC", who: rsa, rsaPadding: "pkcs1v15", enc: "aes-256-cbc" },
  { name: "RSA OAEP, AES-256-CBC", who: rsa, rsaPadding: "oaep", enc: "aes-256-cbc" },
  { name: "RSA PKCS#1 v1.5, AES-256-GCM", who: rsa, rsaPadding: "pkcs1v15", enc: "aes-256-gcm" },
  { name: "RSA OAEP, AES-256-GCM", who: rsa, rsaPadding: "oaep", enc: "aes-256-gcm" },
  { name: "ECDH P-256, AES-256-CBC", who: ec256, rsaPadding: "pkcs1v15", enc: "aes-256-cbc" },
  { name: "ECDH P-384, AES-256-GCM", who: ec384, rsaPadding: "pkcs1v15", enc: "aes-256-gcm" },
] as const;

for (const v of variants) {
  t.test(
    `openssl cms -decrypt opens ${v.name} to the original entity, byte for byte`,
    async (t) => {
      if (!requireTools(t, "openssl")) return;
      const message = await encryptSmime(inner, {
        recipients: [v.who.certPem, org.certPem],
        outerHeaders: outer,
        rsaPadding: v.rsaPadding,
        contentEncryption: v.enc,
      });
      const plain = decrypt(message, v.who);
      t.ok(plain.equals(inner), "decrypted bytes equal the inner entity");
      const parsed = await simpleParser(plain);
      const files = new Map(parsed.attachments.map((a) => [a.filename, a.content]));
      t.ok(files.get("scan.bin")?.equals(ATTACHMENT), "the binary attachment survives");
      t.ok(files.get("report.pdf")?.equals(PDF), "the PDF survives");
      t.match(parsed.text ?? "", /Grüße/, "the quoted-printable body survives");
      t.ok(decrypt(message, org).equals(inner), "the organisation's copy opens too");
    },
  );
}

t.test("the message keeps routing headers outside and hides the subject", async (t) => {
  const message = await encryptSmime(inner, { recipients: [rsa.certPem], outerHeaders: outer });
  const text = message.toString("latin1");
  const head = text.slice(0, text.indexOf("\r\n\r\n"));
  t.match(head, /^From: Clinic <clinic@example\.org>\r\n/);
  t.match(head, /\r\nTo: Patient <patient@example\.net>\r\n/);
  t.match(head, /\r\nCc: records@example\.net\r\n/);
  t.match(head, /\r\nMessage-ID: <m1@example\.org>\r\n/);
  t.match(head, /\r\nSubject: Secure message\r\n/);
  t.notMatch(head, /Lab results|Bcc|hidden@/);
  t.match(head, /Content-Type: application\/pkcs7-mime; smime-type=enveloped-data;/);
  const gcm = await encryptSmime(inner, {
    recipients: [rsa.certPem],
    outerHeaders: outer,
    contentEncryption: "aes-256-gcm",
  });
  t.match(gcm.toString("latin1"), /smime-type=authEnveloped-data;/);
});

t.test("the body is base64 in lines of 76 characters with CRLF and no bare LF", async (t) => {
  const message = await encryptSmime(inner, { recipients: [rsa.certPem], outerHeaders: outer });
  const text = message.toString("latin1");
  t.notMatch(text, /[^\r]\n/, "every line ends in CRLF");
  const body = text
    .slice(text.indexOf("\r\n\r\n") + 4)
    .split("\r\n")
    .filter(Boolean);
  t.ok(
    body.slice(0, -1).every((l) => l.length === 76),
    "full lines are 76 characters",
  );
  t.ok((body.at(-1)?.length ?? 0) <= 76);
  t.ok(
    text.split("\r\n").every((l) => l.length <= 78),
    "no header line runs past 78",
  );
});

/** id-data (1.2.840.113549.1.7.1) as DER: the content type of an EncryptedContentInfo. */
const ID_DATA = Buffer.from("06092a864886f70d010701", "hex");

/**
 * Walks every TLV of a DER encoding, written here independently of certs/smime/der.ts: throws
 * on an indefinite length (0x80), a length not in its shortest form, a constructed OCTET or
 * BIT STRING, children that do not exactly fill their parent, and bytes after the top value.
 * Returns the tag of each EncryptedContentInfo's encryptedContent.
 */
function walkDer(der: Buffer): number[] {
  const contentTags: number[] = [];
  /** Checks the values from `from` to `to`; returns where each starts. */
  const walk = (from: number, to: number): number[] => {
    let at = from;
    const starts: number[] = [];
    while (at < to) {
      const tag = der[at] as number;
      const first = der[at + 1];
      if (first === undefined) throw new Error(`truncated at ${at}`);
      if (first === 0x80) throw new Error(`indefinite length at ${at}`);
      let length = first;
      let start = at + 2;
      if (first > 0x80) {
        const count = first & 0x7f;
        const bytes = der.subarray(start, start + count);
        if (bytes[0] === 0) throw new Error(`length with a leading zero at ${at}`);
        length = bytes.reduce((n, b) => n * 256 + b, 0);
        if (length < 0x80 || (count > 1 && length < 256 ** (count - 1))) {
          throw new Error(`length not in shortest form at ${at}`);
        }
        start += count;
      }
      const end = start + length;
      if (end > to) throw new Error(`value at ${at} runs past its parent`);
      if (tag === 0x24 || tag === 0x23) throw new Error(`constructed string at ${at}`);
      if ((tag & 0x20) !== 0) {
        const children = walk(start, end);
        if (
          tag === 0x30 &&
          der.subarray(children[0], children[0]! + ID_DATA.length).equals(ID_DATA)
        ) {
          const third = children[2];
          if (third !== undefined) contentTags.push(der[third] as number);
        }
      }
      starts.push(at);
      at = end;
    }
    return starts;
  };
  const top = walk(0, der.length);
  if (top.length !== 1) throw new Error(`${top.length} values at the top level`);
  return contentTags;
}

t.test("the CMS object is definite-length DER", async (t) => {
  for (const enc of ["aes-256-cbc", "aes-256-gcm"] as const) {
    const der = cmsDer(
      await encryptSmime(inner, {
        recipients: [rsa.certPem, ec256.certPem],
        outerHeaders: outer,
        contentEncryption: enc,
      }),
    );
    t.same(
      walkDer(der),
      [0x80],
      `${enc}: every length definite and shortest, encryptedContent one primitive [0]`,
    );
  }
});

t.test("the DER walk refuses what BER allows", async (t) => {
  const octets = Buffer.from("0403616263", "hex");
  t.same(walkDer(Buffer.from("3005" + "0403616263", "hex")), []);
  t.throws(
    () => walkDer(Buffer.concat([Buffer.from("3080", "hex"), octets, Buffer.from("0000", "hex")])),
    /indefinite/,
  );
  t.throws(() => walkDer(Buffer.from("30810504036162 63".replace(" ", ""), "hex")), /shortest/);
  t.throws(() => walkDer(Buffer.from("2407" + "0401610402626" + "3", "hex")), /constructed string/);
  const berContent = Buffer.from(
    "3013" + "06092a864886f70d010701" + "3000" + "a004" + "04026162",
    "hex",
  );
  t.same(walkDer(berContent), [0xa0], "a segmented encryptedContent is seen as constructed");
});

t.test("a recipient entry without a wrapped key fails closed with a stable code", async (t) => {
  const err = await encryptSmime(inner, {
    recipients: [rsa.certPem, org.certPem],
    outerHeaders: outer,
    keyWrapper: () => Buffer.alloc(0),
  }).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof SmimeError);
  t.equal((err as SmimeError).code, "smime_empty_recipient_key");
  t.notMatch((err as Error).message, /example\./, "the error names no address");
  await t.rejects(
    encryptSmime(inner, {
      recipients: [rsa.certPem],
      outerHeaders: outer,
      keyWrapper: (cek) => Buffer.from(cek),
    }),
    { code: "smime_empty_recipient_key" },
    "an engine that hands the key back unencrypted is caught too",
  );
});

t.test(
  "WebCrypto, pkijs's engine, lacks RSAES-PKCS1-v1_5, so v1.5 goes through node:crypto",
  async (t) => {
    const spki = Buffer.from(
      (await import("node:crypto"))
        .createPublicKey(rsa.certPem)
        .export({ format: "der", type: "spki" }),
    );
    await t.rejects(
      webcrypto.subtle.importKey("spki", spki, { name: "RSAES-PKCS1-v1_5" }, false, ["encrypt"]),
      "the engine refuses the algorithm",
    );
    const message = await encryptSmime(inner, { recipients: [rsa.certPem], outerHeaders: outer });
    if (!requireTools(t, "openssl")) return;
    const info = openssl(
      ["cms", "-cmsout", "-print", "-inform", "DER"],
      cmsDer(message),
    ).toString();
    t.match(info, /algorithm: rsaEncryption/, "the recipient entry names PKCS#1 v1.5");
    t.ok(decrypt(message, rsa).equals(inner), "and the recipient can open it");
  },
);

t.test("bad input gets a clear error, not a crash", async (t) => {
  await t.rejects(encryptSmime(inner, { recipients: [], outerHeaders: outer }), {
    code: "smime_no_recipients",
  });
  await t.rejects(encryptSmime(inner, { recipients: ["not a certificate"], outerHeaders: outer }), {
    code: "smime_bad_certificate",
  });
  const garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  await t.rejects(encryptSmime(inner, { recipients: [garbage], outerHeaders: outer }), {
    code: "smime_bad_certificate",
  });
});

t.test("the read-back check refuses missing entries and non-DER lengths", async (t) => {
  const message = await encryptSmime(inner, {
    recipients: [rsa.certPem, ec256.certPem],
    outerHeaders: outer,
  });
  const der = cmsDer(message);
  t.doesNotThrow(() => assertRecipientKeys(der, 2));
  t.throws(() => assertRecipientKeys(der, 3), { code: "smime_empty_recipient_key" });
  const indefinite = Buffer.concat([
    Buffer.from([0x30, 0x80]),
    der.subarray(4),
    Buffer.from([0, 0]),
  ]);
  t.throws(() => assertRecipientKeys(indefinite, 2), { code: "smime_empty_recipient_key" });
  t.throws(() => assertRecipientKeys(der.subarray(0, 200), 2), {
    code: "smime_empty_recipient_key",
  });
});
