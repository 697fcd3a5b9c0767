import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { unzipSync, zipSync } from "fflate";
import ExcelJS from "exceljs";
import t from "tap";
import { extract, type Extraction } from "../policy/extract/index.js";
import {
  VALUE,
  entity,
  makeDocx,
  makePdf,
  makeRtf,
  makeXlsx,
  makeZip,
  message,
  multipart,
  withAttachment,
} from "./fixtures/extract/build.js";

/** The segment holding the value, with its source, or undefined. */
function found(x: Extraction, value = VALUE) {
  return x.segments.find((s) => s.text.includes(value));
}

function sources(x: Extraction): string[] {
  return x.segments.map((s) => s.source);
}

t.test("the value is found in a plain-text body and the subject is its own segment", async (t) => {
  const raw = message({
    subject: "Follow-up for patient",
    body: { type: "text/plain; charset=us-ascii", body: `Patient SSN ${VALUE}, seen today.\r\n` },
  });
  const x = await extract(raw);
  t.equal(found(x)?.source, "body");
  t.equal(found(x)?.kind, "body");
  const subject = x.segments.find((s) => s.kind === "subject");
  t.equal(subject?.text, "Follow-up for patient");
  t.same(x.unscannable, []);
  t.ok(x.headers.some((h) => h.name === "Subject" && h.value === "Follow-up for patient"));
});

t.test("a quoted-printable body with a soft line break inside the value is rejoined", async (t) => {
  const qp = "Num=C3=A9ro de s=C3=A9curit=C3=A9 sociale 345-6=\r\n7-8901 pour le patient.\r\n";
  const raw = message({
    body: { type: "text/plain; charset=utf-8", encoding: "quoted-printable", body: qp },
  });
  const x = await extract(raw);
  t.ok(found(x), "value found");
  t.match(found(x)?.text ?? "", /Numéro de sécurité sociale/);
});

t.test("a base64 HTML body is decoded and rendered", async (t) => {
  const html = `<html><body><p>Patient&nbsp;SSN:&#32;${VALUE}</p></body></html>`;
  const raw = message({
    body: { type: "text/html; charset=utf-8", encoding: "base64", body: html },
  });
  const x = await extract(raw);
  t.equal(found(x)?.source, "body.html");
  t.match(found(x)?.text ?? "", /Patient SSN: 345-67-8901/);
});

t.test(
  "HTML that splits the value across tags, comments and entities keeps it joined",
  async (t) => {
    const html =
      "<div>SSN <b>345</b>-<i>67</i>-<span>89</span><span>01</span></div>" +
      "<div>Again <span>345</span><!-- split -->&#45;67-8901</div>" +
      '<div style="display:none">Hidden 345-67-<b>8901</b></div>' +
      "<script>var ssn = '999-99-9999';</script><style>.x{}</style>";
    const raw = message({
      body: multipart("alternative", [
        entity({ type: "text/plain; charset=utf-8", body: "See the HTML version.\r\n" }),
        entity({ type: "text/html; charset=utf-8", body: html }),
      ]),
    });
    const x = await extract(raw);
    const seg = x.segments.find((s) => s.source === "body.html");
    t.ok(seg, "the HTML side of multipart/alternative is scanned");
    t.equal(seg?.text.split(VALUE).length, 4, "three joined copies, the hidden one included");
    t.notMatch(seg?.text ?? "", /999-99-9999/, "script content is dropped");
    t.ok(sources(x).includes("body"), "the text side is scanned too");
  },
);

t.test("the value is found in a PDF attachment", async (t) => {
  const pdf = await makePdf(["Laboratory report", `Patient SSN ${VALUE}`]);
  const x = await extract(withAttachment("report.pdf", "application/pdf", pdf));
  t.equal(found(x)?.source, "attachment:report.pdf");
  t.equal(found(x)?.kind, "attachment");
  t.same(x.unscannable, []);
});

t.test("several messages with PDFs extracted at once all get their text", async (t) => {
  const raws = await Promise.all(
    [1, 2, 3, 4].map(async (i) =>
      withAttachment(`r${i}.pdf`, "application/pdf", await makePdf([`No ${i} SSN ${VALUE}`])),
    ),
  );
  const results = await Promise.all(raws.map((raw) => extract(raw)));
  results.forEach((x, i) => t.match(found(x)?.text ?? "", `No ${i + 1} SSN`));
});

t.test("a PDF named .txt and declared text/plain is still read as a PDF", async (t) => {
  const pdf = await makePdf([`Patient SSN ${VALUE}`]);
  const x = await extract(withAttachment("notes.txt", "text/plain", pdf));
  t.equal(found(x)?.source, "attachment:notes.txt");
  const info = x.attachments.find((a) => a.source === "attachment:notes.txt");
  t.equal(info?.contentType, "text/plain");
  t.equal(info?.detectedType, "application/pdf");
});

t.test("the value is found in a DOCX paragraph and table cells stay apart", async (t) => {
  const docx = await makeDocx({ paragraphs: [`SSN ${VALUE}`], cells: ["123", "456"] });
  const type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
  const x = await extract(withAttachment("summary.docx", type, docx));
  t.equal(found(x)?.source, "attachment:summary.docx");
  t.notMatch(found(x)?.text ?? "", /123456/, "digits of neighbouring cells never merge");
  t.match(found(x)?.text ?? "", /123\s+456/, "cells are separated by whitespace");
});

t.test("the value on the second sheet of an XLSX is found, in a table segment", async (t) => {
  const xlsx = await makeXlsx({
    Summary: [
      ["Month", "Visits"],
      ["November", 214],
    ],
    Patients: [
      ["Name", "SSN", "Visits"],
      ["Pat Example", VALUE, 3],
      ["Kim Sample", 345678902, 12],
    ],
  });
  const type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  const x = await extract(withAttachment("roster.xlsx", type, xlsx));
  const seg = found(x);
  t.equal(seg?.source, "attachment:roster.xlsx#Patients");
  t.same(seg?.table?.[1], ["Pat Example", VALUE, "3"]);
  t.equal(seg?.text, seg?.table?.map((r) => r.join("\t")).join("\n"), "text is the joined table");
  t.match(seg?.text ?? "", /345678902\t12/, "digits of neighbouring cells never merge");
  t.ok(sources(x).includes("attachment:roster.xlsx#Summary"), "the first sheet is scanned too");
});

t.test("XLSX numbers keep what their format shows: padded SSNs and dates", async (t) => {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet("Roster");
  ws.addRow(["SSN", "DOB", "ZIP", "Count"]);
  ws.addRow([12345678, new Date(Date.UTC(1961, 2, 9)), 2134, 1234567]);
  ws.getCell("A2").numFmt = "000-00-0000";
  ws.getCell("B2").numFmt = "mm/dd/yyyy";
  ws.getCell("C2").numFmt = "00000";
  ws.getCell("D2").numFmt = "#,##0";
  const xlsx = Buffer.from(await wb.xlsx.writeBuffer());
  const type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  const x = await extract(withAttachment("roster.xlsx", type, xlsx));
  const seg = x.segments.find((s) => s.source === "attachment:roster.xlsx#Roster");
  t.same(seg?.table?.[1], ["012-34-5678", "03/09/1961", "02134", "1234567"]);
});

t.test("a CSV attachment becomes a table with normalised cells", async (t) => {
  const csv = `Name,SSN,Note\r\n"Example, Pat",${VALUE},"two\r\nlines"\r\n`;
  const x = await extract(withAttachment("export.csv", "text/csv", Buffer.from(csv)));
  const seg = found(x);
  t.equal(seg?.source, "attachment:export.csv");
  t.same(seg?.table, [
    ["Name", "SSN", "Note"],
    ["Example, Pat", VALUE, "two lines"],
  ]);
  t.equal(seg?.text, `Name\tSSN\tNote\nExample, Pat\t${VALUE}\ttwo lines`);
});

t.test("the value is found in an RTF attachment with control words stripped", async (t) => {
  const rtf = makeRtf(`Caf\u00e9 visit\nPatient SSN ${VALUE}`);
  const x = await extract(withAttachment("letter.rtf", "application/rtf", rtf));
  const seg = found(x);
  t.equal(seg?.source, "attachment:letter.rtf");
  t.notMatch(seg?.text ?? "", /Times New Roman|\\par|generator/);
  t.match(seg?.text ?? "", /Café visit\nPatient SSN/);
});

t.test("a forwarded message/rfc822 is scanned with its own attachment", async (t) => {
  const pdf = await makePdf([`Patient SSN ${VALUE}`]);
  const inner = withAttachment("lab.pdf", "application/pdf", pdf);
  const raw = message({
    body: multipart("mixed", [
      entity({ type: "text/plain", body: "Forwarding this.\r\n" }),
      entity({ type: "message/rfc822", disposition: "inline", body: inner }),
    ]),
  });
  const x = await extract(raw);
  t.equal(found(x)?.source, "message:part2/attachment:lab.pdf");
  t.ok(sources(x).includes("message:part2/body"));
  t.ok(sources(x).includes("message:part2/subject"));
});

t.test("a base64-wrapped forwarded .eml is scanned two levels deep", async (t) => {
  const inner = message({ body: { type: "text/plain", body: `SSN ${VALUE}\r\n` } });
  const raw = withAttachment("fwd.eml", "message/rfc822", inner);
  const x = await extract(raw);
  t.equal(found(x)?.source, "message:fwd.eml/body");
});

t.test("the value is found in a ZIP and in a ZIP inside a ZIP", async (t) => {
  const csv = Buffer.from(`Name,SSN\nPat,${VALUE}\n`);
  const inner = makeZip({ "deep/patients.csv": csv });
  const outer = makeZip({ "notes.txt": `SSN ${VALUE}`, "inner.zip": inner });
  const x = await extract(withAttachment("records.zip", "application/zip", outer));
  t.ok(sources(x).includes("attachment:records.zip/notes.txt"));
  const deep = x.segments.find(
    (s) => s.source === "attachment:records.zip/inner.zip/deep/patients.csv",
  );
  t.ok(deep?.text.includes(VALUE), "the nested CSV is read");
  t.ok(
    x.attachments.some((a) => a.source === "attachment:records.zip/inner.zip/deep/patients.csv"),
    "entries are listed as attachments",
  );
  t.same(x.unscannable, []);
});

t.test("PPTX slides and notes, and OpenDocument text and sheets, are read", async (t) => {
  const pptx = makeZip({
    "[Content_Types].xml": "<Types/>",
    "ppt/presentation.xml": "<p:presentation/>",
    "ppt/slides/slide2.xml": `<p:sld><a:p><a:r><a:t>Second: ${VALUE}</a:t></a:r></a:p></p:sld>`,
    "ppt/slides/slide1.xml": "<p:sld><a:p><a:r><a:t>First</a:t></a:r></a:p></p:sld>",
    "ppt/notesSlides/notesSlide1.xml": "<p:notes><a:p><a:t>Speaker note</a:t></a:p></p:notes>",
  });
  const type = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
  const x = await extract(withAttachment("deck.pptx", type, pptx));
  t.match(found(x)?.text ?? "", /^First\n+Second: 345-67-8901\n+Speaker note/);

  const ods = makeZip({
    mimetype: "application/vnd.oasis.opendocument.spreadsheet",
    "content.xml":
      '<office:document-content><office:body><office:spreadsheet><table:table table:name="Pts">' +
      "<table:table-row><table:table-cell><text:p>SSN</text:p></table:table-cell>" +
      '<table:table-cell table:number-columns-repeated="2"/>' +
      `<table:table-cell><text:p>${VALUE}</text:p></table:table-cell></table:table-row>` +
      "</table:table></office:spreadsheet></office:body></office:document-content>",
  });
  const y = await extract(withAttachment("list.ods", "application/octet-stream", ods));
  t.equal(found(y)?.source, "attachment:list.ods#Pts");
  t.same(found(y)?.table, [["SSN", "", "", VALUE]]);
});

t.test("an opaque S/MIME signed message is read from inside its CMS wrapper", async (t) => {
  const inner = Buffer.from(`Content-Type: text/plain; charset=utf-8\r\n\r\nSSN ${VALUE}\r\n`);
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: "1.2.840.113549.1.7.1",
      eContent: new asn1js.OctetString({ valueHex: inner }),
    }),
  });
  const info = new pkijs.ContentInfo({
    contentType: "1.2.840.113549.1.7.2",
    content: signed.toSchema(true),
  });
  const raw = message({
    body: {
      type: 'application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"',
      encoding: "base64",
      disposition: 'attachment; filename="smime.p7m"',
      body: Buffer.from(info.toSchema().toBER(false)),
    },
  });
  const x = await extract(raw);
  t.equal(found(x)?.source, "attachment:smime.p7m/body");
  t.same(x.unscannable, []);
});

t.test("a spreadsheet embedded in a DOCX is read too", async (t) => {
  const xlsx = await makeXlsx({ Pasted: [["SSN"], [VALUE]] });
  const docx = unzipSync(await makeDocx({ paragraphs: ["See the table below."] }));
  docx["word/embeddings/Microsoft_Excel_Worksheet.xlsx"] = new Uint8Array(xlsx);
  const type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
  const x = await extract(withAttachment("letter.docx", type, Buffer.from(zipSync(docx))));
  t.equal(
    found(x)?.source,
    "attachment:letter.docx/word/embeddings/Microsoft_Excel_Worksheet.xlsx#Pasted",
  );
});
