import { PDFDocument, StandardFonts } from "pdf-lib";
import t from "tap";
import { extract } from "../policy/extract/index.js";
import { message, withAttachment } from "./fixtures/extract/build.js";

/** A PDF table: each row's cells drawn at fixed column positions, as report writers do. */
async function pdfTable(rows: string[][]): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const page = doc.addPage([600, 400]);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const columns = [50, 200, 300, 400];
  rows.forEach((row, r) =>
    row.forEach((cell, c) =>
      page.drawText(cell, { x: columns[c] ?? 0, y: 350 - r * 20, size: 11, font }),
    ),
  );
  return Buffer.from(await doc.save());
}

t.test("PDF cells across a wide gap are split by a tab, words by a space", async (t) => {
  const pdf = await pdfTable([
    ["Site", "Checked", "Failed", "Pending"],
    ["North", "512", "44", "1234"],
    ["Weekly counts by site", "", "", ""],
  ]);
  const x = await extract(withAttachment("r.pdf", "application/pdf", pdf));
  const text = x.segments.find((s) => s.source === "attachment:r.pdf")?.text ?? "";
  t.match(text, /North\t512\t44\t1234/);
  t.notMatch(text, /512 44 1234/, "digits of three cells are not one SSN-shaped number");
  t.match(text, /Weekly counts by site/, "word spaces stay spaces");
});

t.test("an attachment's file name is read as text of its own", async (t) => {
  const x = await extract(
    withAttachment("Roe_Jane 512-44-1234.txt", "text/plain", Buffer.from("hi")),
  );
  const name = x.segments.find((s) => s.source === "attachment:Roe_Jane 512-44-1234.txt::name");
  t.equal(name?.text, "Roe Jane 512-44-1234.txt");
  t.equal(name?.kind, "attachment");
});

t.test("hidden junk inside a value does not break it; hidden text is still read", async (t) => {
  const html =
    '<p>SSN: 512<span style="display:none">0</span>-44-1234</p>' +
    '<p>Two: 498<font style="font-size:0px">99</font>331276</p>' +
    "<p>Three: 301-22-<br>4455</p>" +
    '<div hidden>Hidden SSN 706-56-0759</div><p style="opacity: 0">quiet</p>';
  const x = await extract(message({ body: { type: "text/html; charset=utf-8", body: html } }));
  const text = x.segments.find((s) => s.source === "body.html")?.text ?? "";
  t.match(text, /SSN: 512-44-1234/);
  t.match(text, /Two: 498331276/);
  t.match(text, /Three: 301-22-4455/);
  t.match(text, /Hidden SSN 706-56-0759/, "a hidden value is still scanned");
  t.match(text, /quiet/);
  t.ok(text.indexOf("Hidden") > text.indexOf("Three"), "hidden text comes after what is shown");
});
