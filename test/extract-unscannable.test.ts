import { PDFDocument } from "pdf-lib";
import t from "tap";
import { extract, type Extraction } from "../policy/extract/index.js";
import {
  VALUE,
  entity,
  makeDocx,
  makeEncryptedPdf,
  makePdf,
  makeZip,
  markEncrypted,
  message,
  multipart,
  withAttachment,
} from "./fixtures/extract/build.js";

const DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

function reasons(x: Extraction): Record<string, string> {
  return Object.fromEntries(x.unscannable.map((u) => [u.source, u.reason]));
}

t.test("an encrypted PDF is unscannable as encrypted", async (t) => {
  const x = await extract(withAttachment("statement.pdf", "application/pdf", makeEncryptedPdf()));
  t.same(reasons(x), { "attachment:statement.pdf": "encrypted" });
});

t.test("a password-protected ZIP entry is unscannable as password", async (t) => {
  const zip = markEncrypted(makeZip({ "transfer.csv": `Name,SSN\nPat,${VALUE}\n` }));
  const x = await extract(withAttachment("transfer.zip", "application/zip", zip));
  t.same(reasons(x), { "attachment:transfer.zip/transfer.csv": "password" });
  t.notOk(x.segments.some((s) => s.text.includes(VALUE)));
});

t.test("a DOCX whose document part is not XML is unscannable as corrupt", async (t) => {
  const docx = makeZip({
    "[Content_Types].xml": "<Types/>",
    "word/document.xml": Buffer.from([0x00, 0xff, 0x13, 0x37]),
  });
  const x = await extract(withAttachment("summary.docx", DOCX, docx));
  t.same(reasons(x), { "attachment:summary.docx": "corrupt" });
});

t.test("a truncated DOCX is unscannable as corrupt", async (t) => {
  const docx = await makeDocx({ paragraphs: [`SSN ${VALUE}`] });
  const x = await extract(withAttachment("summary.docx", DOCX, docx.subarray(0, docx.length >> 1)));
  t.same(reasons(x), { "attachment:summary.docx": "corrupt" });
});

t.test("a password-protected Office file (OLE2 with EncryptionInfo) is unscannable", async (t) => {
  const ole = Buffer.alloc(4096);
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(ole);
  Buffer.from("EncryptionInfo", "utf16le").copy(ole, 1024);
  const x = await extract(withAttachment("roster.xlsx", "application/octet-stream", ole));
  t.same(reasons(x), { "attachment:roster.xlsx": "password" });
});

t.test("a zip bomb (extreme compression ratio) is unscannable as over-budget", async (t) => {
  const bomb = makeZip({ "zeros.txt": Buffer.alloc(8 << 20) }, 9);
  t.ok(bomb.length < 64 * 1024, "the bomb itself is small");
  const x = await extract(withAttachment("data.zip", "application/zip", bomb));
  t.same(reasons(x), { "attachment:data.zip/zeros.txt": "over-budget" });
});

t.test("an archive with more entries than the budget allows is over-budget", async (t) => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 20; i++) files[`f${i}.txt`] = `entry ${i}`;
  const x = await extract(withAttachment("many.zip", "application/zip", makeZip(files)), {
    budget: { maxEntries: 10 },
  });
  t.same(reasons(x), { "attachment:many.zip": "over-budget" });
});

t.test("a message with more MIME parts than the budget allows is over-budget", async (t) => {
  const parts = Array.from({ length: 12 }, (_, i) => entity({ type: "text/plain", body: `${i}` }));
  const x = await extract(message({ body: multipart("mixed", parts) }), {
    budget: { maxEntries: 5 },
  });
  t.ok(x.unscannable.some((u) => u.source === "message" && u.reason === "over-budget"));
});

t.test("a header block over mailsplit's limit makes the message over-budget", async (t) => {
  const raw = Buffer.from(`Subject: ${"a".repeat(2 << 20)}\r\n\r\nbody`);
  t.same(reasons(await extract(raw)), { message: "over-budget" });
});

t.test("a DOCX nested thousands of elements deep is refused as corrupt", async (t) => {
  const deep = "<w:document><w:body>" + "<w:x>".repeat(5000) + "</w:x>".repeat(5000);
  const docx = makeZip({ "word/document.xml": deep + "</w:body></w:document>" });
  const x = await extract(withAttachment("deep.docx", DOCX, docx));
  t.same(reasons(x), { "attachment:deep.docx": "corrupt" });
});

t.test("archives nested deeper than the budget allows are over-budget", async (t) => {
  let zip = makeZip({ "deep.txt": `SSN ${VALUE}` });
  for (let i = 0; i < 4; i++) zip = makeZip({ [`level${i}.zip`]: zip });
  const x = await extract(withAttachment("nest.zip", "application/zip", zip), {
    budget: { maxDepth: 3 },
  });
  t.equal(x.unscannable.length, 1);
  t.equal(x.unscannable[0]?.reason, "over-budget");
  t.notOk(x.segments.some((s) => s.text.includes(VALUE)));
});

t.test("a part larger than the part budget is over-budget, not read", async (t) => {
  const raw = withAttachment("big.txt", "text/plain", Buffer.alloc(64 * 1024, 0x41));
  const x = await extract(raw, { budget: { maxPartBytes: 16 * 1024 } });
  t.same(reasons(x), { "attachment:big.txt": "over-budget" });
});

t.test("a budget that runs out fails closed: the unread part is a timeout", async (t) => {
  const pdf = await makePdf([`Patient SSN ${VALUE}`]);
  const raw = withAttachment("report.pdf", "application/pdf", pdf);
  const x = await extract(raw, { budget: { maxMs: 1 } });
  t.ok(
    x.unscannable.some((u) => u.reason === "timeout"),
    "a timeout is recorded",
  );
  t.notOk(
    x.segments.some((s) => s.text.includes(VALUE)),
    "nothing from the PDF claims clean",
  );
});

t.test("after a PDF worker is stopped for time, the next PDF is read again", async (t) => {
  const pdf = await makePdf([`Patient SSN ${VALUE}`]);
  const raw = withAttachment("report.pdf", "application/pdf", pdf);
  await extract(raw, { budget: { maxMs: 1 } });
  const x = await extract(raw);
  t.same(x.unscannable, []);
  t.ok(x.segments.some((s) => s.source === "attachment:report.pdf" && s.text.includes(VALUE)));
});

t.test("a zero time budget reports the message itself as timed out", async (t) => {
  const raw = message({ body: { type: "text/plain", body: `SSN ${VALUE}` } });
  const x = await extract(raw, { budget: { maxMs: 0 } });
  t.ok(x.unscannable.some((u) => u.reason === "timeout"));
});

t.test("S/MIME and PGP encrypted content is unscannable as encrypted", async (t) => {
  const smime = message({
    body: {
      type: 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
      encoding: "base64",
      disposition: 'attachment; filename="smime.p7m"',
      body: Buffer.from([0x30, 0x80, 0x06, 0x09]),
    },
  });
  t.same(reasons(await extract(smime)), { "attachment:smime.p7m": "encrypted" });

  const pgp = message({
    body: multipart('encrypted; protocol="application/pgp-encrypted"', [
      entity({ type: "application/pgp-encrypted", body: "Version: 1\r\n" }),
      entity({ type: "application/octet-stream", body: "-----BEGIN PGP MESSAGE-----\r\n" }),
    ]),
  });
  t.same(reasons(await extract(pgp)), { encrypted: "encrypted" });

  const armored = "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA0x\r\n-----END PGP MESSAGE-----\r\n";
  const inline = message({ body: { type: "text/plain", body: `Hi,\r\n${armored}` } });
  t.same(reasons(await extract(inline)), { body: "encrypted" });
  const file = withAttachment("notes.asc", "application/octet-stream", Buffer.from(armored));
  t.same(reasons(await extract(file)), { "attachment:notes.asc": "encrypted" });
});

t.test("bad input never throws: empty, binary noise and broken MIME get an answer", async (t) => {
  const inputs = [
    Buffer.alloc(0),
    Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x02]),
    Buffer.from("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/pl"),
    Buffer.from("Subject: =?x-unknown?B?AAAA?=\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!"),
    withAttachment("x.pdf", "application/pdf", Buffer.from("%PDF-1.7\ngarbage")),
    withAttachment("x.xlsx", "application/zip", makeZip({ "xl/workbook.xml": "<<<" })),
    withAttachment("x.zip", "application/zip", Buffer.from("PK\x03\x04 not really")),
  ];
  for (const raw of inputs) {
    const x = await extract(raw);
    t.ok(Array.isArray(x.segments) && Array.isArray(x.unscannable), "an answer came back");
  }
  const pdf = await extract(inputs[4]!);
  t.same(reasons(pdf), { "attachment:x.pdf": "corrupt" });
  const zip = await extract(inputs[6]!);
  t.same(reasons(zip), { "attachment:x.zip": "corrupt" });
});

t.test("TNEF (winmail.dat) is unscannable as unsupported", async (t) => {
  const tnef = Buffer.concat([Buffer.from([0x78, 0x9f, 0x3e, 0x22]), Buffer.alloc(64)]);
  const x = await extract(withAttachment("winmail.dat", "application/ms-tnef", tnef));
  t.same(reasons(x), { "attachment:winmail.dat": "unsupported" });
});

t.test("a PDF of scanned pages with no text layer is unscannable as unsupported", async (t) => {
  const doc = await PDFDocument.create();
  doc.addPage().drawRectangle({ x: 50, y: 50, width: 200, height: 100 });
  const pdf = Buffer.from(await doc.save());
  const x = await extract(withAttachment("fax.pdf", "application/pdf", pdf));
  t.same(reasons(x), { "attachment:fax.pdf": "unsupported" });
});

t.test("a TIFF (fax or scan) is unsupported, a PNG logo is simply not text", async (t) => {
  const tiff = Buffer.concat([Buffer.from([0x49, 0x49, 0x2a, 0x00]), Buffer.alloc(64)]);
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.alloc(64)]);
  const x = await extract(withAttachment("fax.tif", "image/tiff", tiff));
  t.same(reasons(x), { "attachment:fax.tif": "unsupported" });
  const y = await extract(withAttachment("logo.png", "image/png", png));
  t.same(y.unscannable, []);
});

t.test("a password-protected OpenDocument file is unscannable as password", async (t) => {
  const odt = makeZip({
    mimetype: "application/vnd.oasis.opendocument.text",
    "content.xml": Buffer.from([0x8f, 0x13, 0x00, 0x77]),
    "META-INF/manifest.xml":
      '<manifest:manifest><manifest:file-entry manifest:full-path="content.xml">' +
      '<manifest:encryption-data manifest:checksum-type="SHA1/1K"/>' +
      "</manifest:file-entry></manifest:manifest>",
  });
  const x = await extract(withAttachment("letter.odt", "application/octet-stream", odt));
  t.same(reasons(x), { "attachment:letter.odt": "password" });
});

/** A multipart message whose declared structure and actual body disagree. */
function oddMultipart(contentType: string, preamble = ""): Buffer {
  return Buffer.from(
    [
      "From: a@clinic.example.org",
      "To: b@example.net",
      "Subject: files",
      "MIME-Version: 1.0",
      `Content-Type: ${contentType}`,
      "",
      preamble,
      "--b",
      "Content-Type: text/plain",
      "",
      `Patient SSN ${VALUE}`,
      "--b--",
      "",
    ].join("\r\n"),
  );
}

t.test(
  "a multipart whose boundary never appears, is missing or is given twice is unscannable, and its text is still scanned",
  async (t) => {
    for (const type of [
      'multipart/mixed; boundary="zzz"',
      "multipart/mixed",
      'multipart/mixed; boundary="a"; boundary="b"',
    ]) {
      const x = await extract(oddMultipart(type));
      t.same(reasons(x), { message: "corrupt" }, type);
      t.ok(
        x.segments.some((s) => s.text.includes(VALUE)),
        `${type}: the value outside any part is read`,
      );
    }
  },
);

t.test("a well-formed multipart with a preamble is scanned as usual", async (t) => {
  const x = await extract(
    oddMultipart('multipart/mixed; boundary="b"', "This is a multi-part message in MIME format."),
  );
  t.same(x.unscannable, []);
  t.ok(x.segments.some((s) => s.text.includes(VALUE)));
});

t.test("a boundary that looks like an identifier is structure, not text", async (t) => {
  const raw = Buffer.from(
    [
      "From: a@clinic.example.org",
      "To: b@example.net",
      "Subject: lunch",
      "MIME-Version: 1.0",
      'Content-Type: multipart/alternative; boundary="_000_512-44-1234_"',
      "",
      "--_000_512-44-1234_",
      "Content-Type: text/plain",
      "",
      "See you at noon.",
      "--_000_512-44-1234_--",
      "",
    ].join("\r\n"),
  );
  const x = await extract(raw);
  t.same(x.unscannable, []);
  t.notOk(
    x.segments.some((s) => s.text.includes("512-44-1234")),
    "the delimiter lines are not scanned",
  );
  t.ok(x.segments.some((s) => s.text.includes("See you at noon.")));
});
