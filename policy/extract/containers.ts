import { DOCX, XLSX, extractFile, typeFromName } from "./attachments.js";
import { ExtractError, reasonOf, type ExtractContext } from "./context.js";
import { docxText } from "./docx.js";
import { odfContent, odfType } from "./odf.js";
import { pptxText } from "./pptx.js";
import { xlsxSheets } from "./xlsx.js";
import { ZipArchive } from "./zip.js";
import type { FileFacts } from "./attachments.js";

/**
 * ZIP containers: Office Open XML and OpenDocument files (with the files embedded in them),
 * and plain archives, whose entries are read as files of their own, recursively.
 */

const PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
const MAX_CELLS = 2_000_000;

/** Embedded files worth reading (a spreadsheet pasted into a letter, a PDF in a deck). */
const EMBEDDED = /^(?:word|xl|ppt)\/embeddings\/[^/]+\.(?:xlsx|xlsm|docx|docm|pptx|pdf|csv|txt)$/i;

/** Reads an archive and returns the MIME type its content showed. */
export async function readZip(ctx: ExtractContext, buf: Buffer, facts: FileFacts) {
  const zip = await ZipArchive.open(buf, {
    maxEntries: ctx.budget.maxEntries,
    maxEntryBytes: ctx.budget.maxPartBytes,
    maxRatio: ctx.budget.maxRatio,
  });
  try {
    const office = await readOffice(ctx, zip, facts);
    if (office) {
      await readEntries(ctx, zip, { facts, only: EMBEDDED });
      return office;
    }
    await readEntries(ctx, zip, { facts, only: null });
    return "application/zip";
  } finally {
    zip.close();
  }
}

async function readOffice(ctx: ExtractContext, zip: ZipArchive, facts: FileFacts) {
  const { source } = facts;
  if (zip.has("word/document.xml")) {
    ctx.addText(source, "attachment", await docxText(zip));
    return DOCX;
  }
  if (zip.has("xl/workbook.xml")) {
    for (const sheet of await xlsxSheets(zip, { maxCells: MAX_CELLS })) {
      ctx.addTable(`${source}#${sheet.name}`, "attachment", sheet.rows);
    }
    return XLSX;
  }
  if (zip.has("ppt/presentation.xml")) {
    ctx.addText(source, "attachment", await pptxText(zip));
    return PPTX;
  }

  const odf = await odfType(zip);
  if (!odf) return null;
  // ODF encrypts entries itself (ODF 1.3 part 3, section 4.8), not with ZIP's flag.
  const manifest = zip.has("META-INF/manifest.xml")
    ? (await zip.read("META-INF/manifest.xml")).toString("utf8")
    : "";
  if (manifest.includes("encryption-data")) throw new ExtractError("password");
  const content = await odfContent(zip, { type: odf, maxCells: MAX_CELLS });
  if (content.kind === "text") ctx.addText(source, "attachment", content.text);
  else {
    for (const sheet of content.sheets) {
      ctx.addTable(`${source}#${sheet.name}`, "attachment", sheet.rows);
    }
  }
  return odf;
}

async function readEntries(
  ctx: ExtractContext,
  zip: ZipArchive,
  options: { facts: FileFacts; only: RegExp | null },
) {
  const { facts, only } = options;
  for (const entry of zip.list()) {
    if (entry.directory || (only && !only.test(entry.name))) continue;
    const source = `${facts.source}/${entry.name}`;
    const contentType = typeFromName(entry.name);
    ctx.countEntry();
    if (entry.encrypted) {
      ctx.attachment({
        source,
        filename: entry.name,
        contentType,
        detectedType: null,
        size: entry.size,
      });
      ctx.unscannable(source, "password");
      continue;
    }
    let data: Buffer;
    try {
      ctx.checkTime();
      ctx.countUnpacked(entry.size);
      data = await zip.read(entry.name);
    } catch (err) {
      ctx.unscannable(source, reasonOf(err));
      continue;
    }
    await extractFile(ctx, data, {
      source,
      filename: entry.name,
      declaredType: contentType,
      charset: null,
      depth: facts.depth + 1,
    });
  }
}
