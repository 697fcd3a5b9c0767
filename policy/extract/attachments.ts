import { decodeText } from "./charset.js";
import { ExtractError, type ExtractContext } from "./context.js";
import { csvRows } from "./csv.js";
import { htmlToText } from "./html.js";
import { PGP_ARMOR, extractMessage } from "./message.js";
import { pdfPages } from "./pdf.js";
import { rtfToText } from "./rtf.js";
import { sniff, type Sniffed } from "./sniff.js";
import { readZip } from "./containers.js";

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

export { DOCX, XLSX };

// prettier-ignore
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
  const sniffed = sniff(buf, { declared: facts.declaredType, filename: facts.filename });
  const attachment = {
    source: facts.source,
    filename: facts.filename,
    contentType: facts.declaredType,
    detectedType: null as string | null,
    size: buf.length,
  };
  const note = (mime: string | null): void => {
    if (mime && mime !== facts.declaredType) attachment.detectedType = mime;
  };
  note(sniffed.mime);
  ctx.attachment(attachment);

  await ctx.guard(facts.source, async () => {
    if (facts.depth > ctx.budget.maxDepth) throw new ExtractError("over-budget");
    if (buf.length > ctx.budget.maxPartBytes) throw new ExtractError("over-budget");
    note(await readFile(ctx, buf, { facts, sniffed }));
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
      const text = pages.join("\n\n");
      // Pages without a text layer are scans or faxes: they need OCR, which is not done here.
      if (pages.length > 0 && !/\S/.test(text)) throw new ExtractError("unsupported");
      ctx.addText(source, "attachment", text);
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
    case "text": {
      const text = decodeText(buf, facts.charset);
      ctx.addText(source, "attachment", text);
      if (text.includes(PGP_ARMOR)) ctx.unscannable(source, "encrypted");
      return null;
    }
    case "image":
      // TIFF is what fax servers and document scanners write; other images are mostly logos.
      if (sniffed.mime === "image/tiff") throw new ExtractError("unsupported");
      return sniffed.mime;
    case "binary":
      return sniffed.mime;
  }
}
