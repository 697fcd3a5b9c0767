import { PDFDocument, StandardFonts } from "pdf-lib";
import t from "tap";
import { extract } from "../policy/extract/index.js";
import { withAttachment } from "./fixtures/extract/build.js";

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
