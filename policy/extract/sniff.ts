import { looksLikeText } from "./charset.js";

/**
 * What a part really is, judged from its bytes first (a PDF named .txt is still a PDF), then
 * from the declared type and the file name for the text formats that have no magic number.
 */

export type FileKind =
  | "pdf"
  | "zip" // also DOCX/XLSX, told apart by their entries
  | "ole" // legacy Office, Outlook .msg, and password-protected OOXML
  | "tnef"
  | "rtf"
  | "archive" // gzip, 7z, rar: may hold text, not read
  | "image"
  | "html"
  | "csv"
  | "eml"
  | "text"
  | "binary";

export interface Sniffed {
  kind: FileKind;
  /** MIME type implied by the bytes, when they tell. */
  mime: string | null;
}

function startsWith(buf: Buffer, bytes: number[], at = 0): boolean {
  if (buf.length < at + bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (buf[at + i] !== bytes[i]) return false;
  return true;
}

// prettier-ignore
const MAGIC: [number[], FileKind, string, number?][] = [
  [[0x50, 0x4b, 0x03, 0x04], "zip", "application/zip"],
  [[0x50, 0x4b, 0x05, 0x06], "zip", "application/zip"],
  [[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1], "ole", "application/x-ole-storage"],
  [[0x78, 0x9f, 0x3e, 0x22], "tnef", "application/ms-tnef"],
  [[0x7b, 0x5c, 0x72, 0x74, 0x66], "rtf", "application/rtf"],
  [[0x1f, 0x8b], "archive", "application/gzip"],
  [[0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], "archive", "application/x-7z-compressed"],
  [[0x52, 0x61, 0x72, 0x21, 0x1a, 0x07], "archive", "application/vnd.rar"],
  [[0x89, 0x50, 0x4e, 0x47], "image", "image/png"],
  [[0xff, 0xd8, 0xff], "image", "image/jpeg"],
  [[0x47, 0x49, 0x46, 0x38], "image", "image/gif"],
  [[0x49, 0x49, 0x2a, 0x00], "image", "image/tiff"],
  [[0x4d, 0x4d, 0x00, 0x2a], "image", "image/tiff"],
  [[0x57, 0x45, 0x42, 0x50], "image", "image/webp", 8],
];

const PDF = Buffer.from("%PDF-");
const HEADER_START =
  /^(?:received|return-path|from|to|subject|date|message-id|mime-version|delivered-to|x-[\w-]+):/i;

function extension(name: string | null): string {
  const m = /\.([a-z0-9]{1,8})$/i.exec(name ?? "");
  return m ? (m[1] ?? "").toLowerCase() : "";
}

export function sniff(buf: Buffer, hints: { declared: string; filename: string | null }): Sniffed {
  const { declared, filename } = hints;
  for (const [bytes, kind, mime, at] of MAGIC) {
    if (startsWith(buf, bytes, at ?? 0)) return { kind, mime };
  }
  // Acrobat accepts a PDF header anywhere in the first 1 KiB.
  if (buf.subarray(0, 1024).includes(PDF)) return { kind: "pdf", mime: "application/pdf" };

  const ext = extension(filename);
  if (!looksLikeText(buf)) return { kind: "binary", mime: null };

  const head = buf.subarray(0, 512).toString("latin1").trimStart().toLowerCase();
  if (
    declared === "text/html" ||
    ext === "html" ||
    ext === "htm" ||
    /^<(!doctype html|html)/.test(head)
  ) {
    return { kind: "html", mime: "text/html" };
  }
  if (declared === "message/rfc822" || declared === "message/global" || ext === "eml") {
    return { kind: "eml", mime: "message/rfc822" };
  }
  if (
    declared === "text/csv" ||
    declared === "text/tab-separated-values" ||
    ext === "csv" ||
    ext === "tsv"
  ) {
    return { kind: "csv", mime: "text/csv" };
  }
  if (HEADER_START.test(head) && /\r?\n\r?\n/.test(buf.subarray(0, 65536).toString("latin1"))) {
    return { kind: "eml", mime: "message/rfc822" };
  }
  return { kind: "text", mime: null };
}
