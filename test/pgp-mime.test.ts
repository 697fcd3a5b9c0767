import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { simpleParser } from "mailparser";
import {
  SymEncryptedIntegrityProtectedDataPacket,
  generateKey,
  readMessage,
  type PublicKey,
} from "openpgp";
import t from "tap";
import { encryptPgpMime, encryptPgpMimeToBuffer, readPublicKeys } from "../certs/pgp/index.js";
import { crc24 } from "../certs/pgp/armor.js";
import { GpgHome } from "./helpers/gpg.js";
import { requireTools } from "./helpers/tools.js";

const pdf = randomBytes(40_000);
const png = randomBytes(3_001);
const notes = "line one  \r\ntrailing tab\t\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\nnot really\r\n";

function wrap(b64: string): string {
  return b64.replace(/.{1,76}/g, "$&\r\n");
}

/** The original entity: its Content-* fields and body, exactly what must come out. */
const entity = Buffer.from(
  [
    'Content-Type: multipart/mixed; boundary="outer-b"',
    "Content-Language: en",
    "",
    "--outer-b",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    "Résultats joints.   ",
    "--outer-b",
    'Content-Type: application/pdf; name="labs.pdf"',
    "Content-Transfer-Encoding: base64",
    'Content-Disposition: attachment; filename="labs.pdf"',
    "",
    wrap(pdf.toString("base64")),
    "--outer-b",
    'Content-Type: image/png; name="scan.png"',
    "Content-Transfer-Encoding: base64",
    'Content-Disposition: attachment; filename="scan.png"',
    "",
    wrap(png.toString("base64")),
    "--outer-b",
    'Content-Type: text/plain; name="notes.txt"',
    'Content-Disposition: attachment; filename="notes.txt"',
    "",
    notes,
    "--outer-b--",
    "",
  ].join("\r\n"),
);

const header = [
  "Received: from client by relay; Mon, 1 Jun 2026 10:00:00 +0000",
  "From: Dr Who <who@clinic.example>",
  "To: Patient <alice@example.test>",
  "Cc: carer@example.test",
  "Subject: Your lab results",
  "Date: Mon, 1 Jun 2026 10:00:00 +0000",
  "Message-ID: <m1@clinic.example>",
  "References: <m0@clinic.example>",
  "X-Internal: secret-routing",
  "MIME-Version: 1.0",
  "",
].join("\r\n");

const message = Buffer.concat([
  Buffer.from(header),
  Buffer.from('Content-Type: multipart/mixed; boundary="outer-b"\r\nContent-Language: en\r\n'),
  entity.subarray(entity.indexOf("\r\n\r\n") + 2),
]);

function encryptedPart(mime: Buffer): Buffer {
  const text = mime.toString("latin1");
  const start = text.indexOf("-----BEGIN PGP MESSAGE-----");
  const end = text.indexOf("-----END PGP MESSAGE-----");
  return Buffer.from(text.slice(start, end + 25), "latin1");
}

t.test("GnuPG decrypts PGP/MIME to the original entity, byte for byte", async (t) => {
  if (!requireTools(t, "gpg")) return;
  const gpg = new GpgHome();
  t.teardown(() => gpg.remove());
  const keys = {
    rsa: gpg.rsa("Alice <alice@example.test>"),
    cv25519: gpg.curve25519("Bob <bob@example.test>"),
  };

  for (const [kind, fpr] of Object.entries(keys)) {
    const [key] = await readPublicKeys(gpg.exportPublic(fpr).toString());
    const out = await encryptPgpMimeToBuffer(message, { recipients: [key!] });
    const plain = gpg.decrypt(encryptedPart(out));
    t.ok(plain.equals(entity), `${kind}: the decrypted entity equals the original`);

    const parsed = await simpleParser(plain);
    const files = Object.fromEntries(parsed.attachments.map((a) => [a.filename, a.content]));
    t.ok(files["labs.pdf"]?.equals(pdf), `${kind}: the PDF attachment survives`);
    t.ok(files["scan.png"]?.equals(png), `${kind}: the image attachment survives`);
    t.equal(files["notes.txt"]?.toString(), notes, `${kind}: the text attachment survives`);
  }
});

t.test("the outer message is RFC 3156 and keeps only the headers a client needs", async (t) => {
  if (!requireTools(t, "gpg")) return;
  const gpg = new GpgHome();
  t.teardown(() => gpg.remove());
  const [key] = await readPublicKeys(gpg.exportPublic(gpg.curve25519("<alice@example.test>")));
  const out = await encryptPgpMimeToBuffer(message, {
    recipients: [key!],
    neutralSubject: "Secure message",
  });
  const parsed = await simpleParser(out);
  t.equal(parsed.subject, "Secure message", "the outer Subject is neutral");
  t.equal(parsed.messageId, "<m1@clinic.example>");
  t.match(
    out.toString(),
    /^Content-Type: multipart\/encrypted; protocol="application\/pgp-encrypted";/m,
  );
  t.match(
    out.toString(),
    /\r\nContent-Type: application\/pgp-encrypted\r\n.*\r\n\r\nVersion: 1\r\n/,
  );
  t.notMatch(out.toString(), /X-Internal|Received:|lab results/, "nothing else leaks outside");
  t.notMatch(out.toString().replace(/\r\n/g, ""), /\n/, "every line ends in CRLF");

  const plain = gpg.decrypt(encryptedPart(out)).toString("latin1");
  const inner = plain.slice(0, plain.indexOf("\r\n\r\n"));
  t.match(inner, /^From: Dr Who.*\r\nSubject: Your lab results\r\n/s, "the real Subject is inside");
  t.match(
    plain,
    /Content-Type: multipart\/mixed; boundary="outer-b";\r\n protected-headers="v1"\r\n/,
  );
  t.ok(plain.endsWith(entity.subarray(entity.indexOf("\r\n\r\n")).toString("latin1")));

  const packets = gpg.run(["--list-packets"], encryptedPart(out)).toString();
  t.match(packets, /:pubkey enc packet: version 3/, "a v3 PKESK, as GnuPG 2.2 expects");
  t.match(packets, /:encrypted data packet:\n\s+length: \w+\n\s+mdc_method: 2/, "SEIPDv1 with MDC");
  t.notMatch(packets, /aead|compressed packet/i, "no AEAD and no compression");
});

t.test("the organisation key is an extra recipient that can read the copy", async (t) => {
  if (!requireTools(t, "gpg")) return;
  const recipient = new GpgHome();
  const org = new GpgHome();
  t.teardown(() => {
    recipient.remove();
    org.remove();
  });
  const [r] = await readPublicKeys(
    recipient.exportPublic(recipient.curve25519("<a@example.test>")),
  );
  const [o] = await readPublicKeys(org.exportPublic(org.rsa("Archive <archive@clinic.example>")));
  const out = await encryptPgpMimeToBuffer(message, { recipients: [r!], archiveKey: o! });
  t.ok(recipient.decrypt(encryptedPart(out)).equals(entity), "the recipient reads it");
  t.ok(org.decrypt(encryptedPart(out)).equals(entity), "the organisation reads it");
});

t.test("a large message streams: the input is never read far ahead of the output", async (t) => {
  if (!requireTools(t, "gpg")) return;
  const gpg = new GpgHome();
  t.teardown(() => gpg.remove());
  const [key] = await readPublicKeys(gpg.exportPublic(gpg.curve25519("<a@example.test>")));
  const chunk = Buffer.alloc(64 * 1024, "0123456789abcdef\r\n");
  const total = 96; // 6 MiB
  let produced = 0;
  async function* source() {
    yield Buffer.from("Subject: big\r\nContent-Type: text/plain\r\n\r\n");
    for (; produced < total; produced++) yield chunk;
  }
  let written = 0;
  let aheadMax = 0;
  const parts: Buffer[] = [];
  for await (const piece of encryptPgpMime(source(), { recipients: [key!] })) {
    written += (piece as Buffer).length;
    // Armor turns 3 bytes into 4 plus line ends: 57 bytes per 78 written.
    aheadMax = Math.max(aheadMax, produced * chunk.length - (written * 57) / 78);
    parts.push(piece as Buffer);
  }
  const mib = (aheadMax / 2 ** 20).toFixed(1);
  t.ok(aheadMax < 4 * 2 ** 20, `at most ${mib} MiB of a 6 MiB message was held at once`);
  const plain = gpg.decrypt(encryptedPart(Buffer.concat(parts)));
  const innerHeader = "Content-Type: text/plain\r\n\r\n".length;
  t.equal(plain.length, innerHeader + total * chunk.length, "every byte arrives");
});

t.test("encrypting without a recipient is refused before any work", async (t) => {
  t.throws(() => encryptPgpMime(message, { recipients: [] }), { code: "pgp-no-recipients" });
});

t.test("the armor checksum is RFC 4880's CRC-24", async (t) => {
  t.equal(crc24(Buffer.from("123456789")), 0x21cf02, "the CRC-24/OPENPGP check value");
  t.equal(crc24(Buffer.alloc(0)), 0xb704ce, "the initial value for no data");
  // The bit-by-bit definition of RFC 4880 §6.1, against the table-driven one.
  const reference = (data: Uint8Array) => {
    let c = 0xb704ce;
    for (const b of data) {
      c ^= b << 16;
      for (let i = 0; i < 8; i++) c = c & 0x800000 ? (c << 1) ^ 0x1864cfb : c << 1;
    }
    return c & 0xffffff;
  };
  for (const n of [1, 3, 4, 5, 57, 1000, 4099]) {
    const data = randomBytes(n);
    t.equal(crc24(data), reference(data), `${n} bytes`);
    const half = Math.floor(n / 2);
    const chained = crc24(data.subarray(half), crc24(data.subarray(0, half)));
    t.equal(chained, reference(data), `${n} bytes in two pieces`);
  }
});

t.test("an inner PGP/MIME signature still verifies after encryption", async (t) => {
  if (!requireTools(t, "gpg")) return;
  const gpg = new GpgHome();
  t.teardown(() => gpg.remove());
  const signer = gpg.generate("<who@clinic.example>", "ed25519", "sign");
  const [key] = await readPublicKeys(gpg.exportPublic(gpg.curve25519("<alice@example.test>")));
  // RFC 3156 §5: the signature covers the part's bytes exactly, trailing spaces included.
  const part = "Content-Type: text/plain; charset=utf-8\r\n\r\nTrailing spaces   \r\nend\r\n";
  const sig = gpg.run(["--armor", "--detach-sign", "--local-user", signer], part).toString();
  const signed = [
    "From: who@clinic.example",
    "To: alice@example.test",
    "Subject: signed",
    'Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature";',
    ' boundary="s"',
    "",
    "--s",
    `${part}`,
    "--s",
    "Content-Type: application/pgp-signature",
    "",
    sig,
    "--s--",
    "",
  ].join("\r\n");
  const out = await encryptPgpMimeToBuffer(Buffer.from(signed), { recipients: [key!] });
  const plain = gpg.decrypt(encryptedPart(out)).toString("latin1");
  const inner = plain.slice(
    plain.indexOf("\r\n--s\r\n") + 7,
    plain.indexOf("\r\n--s\r\nContent-Type: application/pgp-signature"),
  );
  t.equal(inner, part, "the signed part comes out unchanged");
  const files = { data: path.join(gpg.dir, "part.txt"), sig: path.join(gpg.dir, "part.asc") };
  writeFileSync(files.data, inner, "latin1");
  writeFileSync(files.sig, sig);
  t.doesNotThrow(() => gpg.run(["--verify", files.sig, files.data]), "gpg --verify accepts it");
});

t.test("a header block beyond the bound is refused with its code, not buffered", async (t) => {
  const { publicKey } = await generateKey({
    userIDs: [{ email: "a@example.test" }],
    type: "ecc",
    curve: "curve25519Legacy",
    format: "object",
  });
  const endless = Buffer.from(`X-Long: ${"a".repeat(2 * 1024 * 1024)}\r\n`);
  await t.rejects(encryptPgpMimeToBuffer(endless, { recipients: [publicKey] }), {
    code: "pgp-header-too-large",
  });
});

t.test("SEIPDv2 (AEAD) is used only when every recipient key advertises it", async (t) => {
  const make = async (email: string, aead: boolean) =>
    (
      await generateKey({
        userIDs: [{ email }],
        type: "curve25519",
        format: "object",
        config: { aeadProtect: aead },
      })
    ).publicKey;
  const modern = await make("new@example.test", true);
  const classic = await make("old@example.test", false);
  const seipdVersion = async (recipients: PublicKey[]) => {
    const out = await encryptPgpMimeToBuffer(message, { recipients });
    const parsed = await readMessage({ armoredMessage: encryptedPart(out).toString("latin1") });
    const data = parsed.packets.find((p) => p instanceof SymEncryptedIntegrityProtectedDataPacket);
    return (data as unknown as { version: number }).version;
  };
  t.equal(await seipdVersion([modern]), 2, "a key advertising SEIPDv2 gets it");
  t.equal(await seipdVersion([classic]), 1, "a key that does not gets SEIPDv1");
  t.equal(await seipdVersion([modern, classic]), 1, "mixed recipients fall back to SEIPDv1");
});
