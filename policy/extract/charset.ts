import { TextDecoder } from "node:util";
import iconv from "iconv-lite";

/**
 * Decoding of bytes to text in whatever charset a mailbox sends. iconv-lite covers the code
 * pages and CJK charsets (windows-125x, ISO-8859-x, Shift_JIS, EUC-KR, GB18030, Big5, UTF-16,
 * UTF-7 ...); the WHATWG decoders built into Node (full ICU) cover ISO-2022-JP, which iconv-lite
 * lacks, and aliases it does not know. Node 20's own windows-1252 decoder is really Latin-1,
 * hence iconv-lite first. Latin-1 labels read as windows-1252, as browsers do, since mail
 * clients label one as the other. A label nobody knows falls back to UTF-8 when the bytes are
 * valid UTF-8, else windows-1252, so the text is still scanned rather than dropped.
 */

const decoders = new Map<string, TextDecoder | null>();

function whatwg(label: string): TextDecoder | null {
  let d = decoders.get(label);
  if (d !== undefined) return d;
  try {
    d = new TextDecoder(label);
  } catch {
    d = null;
  }
  if (decoders.size < 256) decoders.set(label, d);
  return d;
}

const LATIN1 = /^(?:iso[-_]?8859-1|iso_8859-1:1987|latin-?1|l1|cp819|ibm819)$/;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function isUtf8(buf: Uint8Array): boolean {
  try {
    strictUtf8.decode(buf);
    return true;
  } catch {
    return false;
  }
}

/** The charset a byte order mark announces, or null. */
function bomCharset(buf: Uint8Array): string | null {
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) return "utf-8";
  if (buf[0] === 0xff && buf[1] === 0xfe) return "utf-16le";
  if (buf[0] === 0xfe && buf[1] === 0xff) return "utf-16be";
  return null;
}

/**
 * Decodes bytes. With no declared charset (a bare attachment), a BOM decides, then whether the
 * bytes are UTF-8, then windows-1252.
 */
export function decodeText(buf: Buffer, charset?: string | null | false): string {
  const bom = bomCharset(buf);
  let label = (charset || "")
    .trim()
    .toLowerCase()
    .replace(/^["']|["']$/g, "");
  if (bom && (!label || label.startsWith("utf-16") || label.startsWith("utf-8"))) label = bom;
  if (label === "" || label === "us-ascii" || label === "ascii" || label === "7bit") {
    label = isAsciiOrUtf8(buf) ? "utf-8" : "windows-1252";
  }
  if (label === "utf-8" || label === "utf8") return buf.toString("utf8").replace(/^\uFEFF/, "");

  if (LATIN1.test(label)) label = "windows-1252";
  if (!label.includes("2022") && iconv.encodingExists(label)) return iconv.decode(buf, label);
  const d = whatwg(label);
  if (d) return d.decode(buf);
  return isUtf8(buf) ? buf.toString("utf8") : iconv.decode(buf, "windows-1252");
}

function isAsciiOrUtf8(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i]! > 0x7f) return isUtf8(buf);
  return true;
}

/** Whether bytes look like text rather than a binary format (few control bytes, no NULs). */
export function looksLikeText(buf: Buffer): boolean {
  const n = Math.min(buf.length, 4096);
  if (bomCharset(buf)) return true;
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const c = buf[i]!;
    if (c === 0) return false;
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c && c !== 0x1b) bad++;
  }
  return bad * 50 < n;
}
