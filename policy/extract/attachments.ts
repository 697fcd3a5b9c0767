import { decodeText } from "./charset.js";
import { ExtractError, type ExtractContext } from "./context.js";
import { csvRows } from "./csv.js";
import { docxText } from "./docx.js";
import { htmlToText } from "./html.js";
import { odfContent, odfType } from "./odf.js";
import { pptxText } from "./pptx.js";
import { extractMessage } from "./message.js";
import { pdfPages } from "./pdf.js";
import { rtfToText } from "./rtf.js";
import { sniff, type Sniffed } from "./sniff.js";
import { xlsxSheets } from "./xlsx.js";
import { ZipArchive } from "./zip.js";

/**
 * One file (a MIME attachment or a ZIP entry): its type is sniffed from the bytes and it is
 * read by the reader for that type. Whatever cannot be read becomes an unscannable entry.
 */

export interface FileFacts {
  source: string;
  filename: string | null;
  /** Lower-case declared MIME type (for ZIP entries, implied by the name). */
  declaredType: string;
  charset: string | null;
  /** Nesting depth of this file. */
  depth: number;
}

const DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
const MAX_CELLS = 2_000_000;

const BY_EXTENSION: Record<string, string> = {
  pdf: "application/pdf", docx: DOCX, xlsx: XLSX, csv: "text/csv", txt: "text/plain",
  htm: "text/html", html: "text/html", rtf: "application/rtf", eml: "message/rfc822",
  zip: "application/zip", xml: "text/xml", json: "application/json",
};

export function typeFromName(name: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? "";
  return BY_EXTENSION[ext] ?? "application/octet-stream";
}

/** OLE2 files: password-protected OOXML keeps an "EncryptionInfo" stream (MS-OFFCRYPTO 2.3.4). */
function oleReason(buf: Buffer): "password" | "unsupported" {
  const name = Buffer.from("EncryptionInfo", "utf16le");
  return buf.includes(name) ? "password" : "unsupported";
}

export async function extractFile(ctx: ExtractContext, buf: Buffer, facts: FileFacts) {
  const sniffed = sniff(buf, facts.declaredType, facts.filename);
  const attachment = {
    source: facts.source,
    filename: facts.filename,
    contentType: facts.declaredType,
    detectedType: null as string | null,
    size: buf.length,
  };
  ctx.attachment(attachment);

  await ctx.guard(facts.source, async () => {
    if (facts.depth > ctx.budget.maxDepth) throw new ExtractError("over-budget");
    if (buf.length > ctx.budget.maxPartBytes) throw new ExtractError("over-budget");
    const mime = await readFile(ctx, buf, { facts, sniffed });
    if (mime && mime !== facts.declaredType) attachment.detectedType = mime;
  });
}

interface Job {
  facts: FileFacts;
  sniffed: Sniffed;
}

/** Reads the file and returns the MIME type its bytes showed, if any. */
async function readFile(ctx: ExtractContext, buf: Buffer, job: Job): Promise<string | null> {
  const { facts, sniffed } = job;
  const { source } = facts;
  switch (sniffed.kind) {
    case "pdf": {
      const pages = await pdfPages(buf, {
        maxChars: ctx.budget.maxTextBytes,
        timeoutMs: ctx.remainingMs(),
      });
      ctx.addText(source, "attachment", pages.join("\n\n"));
      return sniffed.mime;
    }
    case "zip":
      return readZip(ctx, buf, facts);
    case "ole":
      throw new ExtractError(oleReason(buf));
    case "tnef":
    case "archive":
      throw new ExtractError("unsupported");
    case "rtf":
      ctx.addText(source, "attachment", rtfToText(buf));
      return sniffed.mime;
    case "html":
      ctx.addText(source, "attachment", htmlToText(decodeText(buf, facts.charset)));
      return sniffed.mime;
    case "csv":
      ctx.addTable(source, "attachment", csvRows(decodeText(buf, facts.charset)));
      return sniffed.mime;
    case "eml":
      await extractMessage(ctx, buf, { prefix: source, depth: facts.depth });
      return sniffed.mime;
    case "text":
      ctx.addText(source, "attachment", decodeText(buf, facts.charset));
      return null;
    case "image":
    case "binary":
      return sniffed.mime;
  }
}

async function readZip(ctx: ExtractContext, buf: Buffer, facts: FileFacts) {
  const zip = await ZipArchive.open(buf, {
    maxEntries: ctx.budget.maxEntries,
    maxEntryBytes: ctx.budget.maxPartBytes,
    maxRatio: ctx.budget.maxRatio,
  });
  try {
    if (zip.has("word/document.xml")) {
      ctx.addText(facts.source, "attachment", await docxText(zip));
      return DOCX;
    }
    if (zip.has("xl/workbook.xml")) {
      const sheets = await xlsxSheets(zip, { maxCells: MAX_CELLS });
      for (const sheet of sheets) {
        ctx.addTable(`${facts.source}#${sheet.name}`, "attachment", sheet.rows);
      }
      return XLSX;
    }

    if (zip.has("ppt/presentation.xml")) {
      ctx.addText(facts.source, "attachment", await pptxText(zip));
      return PPTX;
    }
    const odf = await odfType(zip);
    if (odf) {
      const content = await odfContent(zip, odf, MAX_CELLS);
      if (content.kind === "text") ctx.addText(facts.source, "attachment", content.text);
      else {
        for (const sheet of content.sheets) {
          ctx.addTable(`${facts.source}#${sheet.name}`, "attachment", sheet.rows);
        }
      }
      return odf;
    }

    for (const entry of zip.list()) {
      if (entry.directory) continue;
      const source = `${facts.source}/${entry.name}`;
      ctx.countEntry();
      if (entry.encrypted) {
        ctx.attachment({
          source,
          filename: entry.name,
          contentType: typeFromName(entry.name),
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
        ctx.unscannable(source, err instanceof ExtractError ? err.code : "corrupt");
        continue;
      }
      await extractFile(ctx, data, {
        source,
        filename: entry.name,
        declaredType: typeFromName(entry.name),
        charset: null,
        depth: facts.depth + 1,
      });
    }
    return "application/zip";
  } finally {
    zip.close();
  }
}
