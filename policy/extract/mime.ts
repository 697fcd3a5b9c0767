import type { EventEmitter } from "node:events";
import { Splitter, type SplitterChunk } from "@zone-eu/mailsplit";
import libmime from "libmime";
import { decodeText } from "./charset.js";

/**
 * Splitting a raw message into its MIME nodes with their decoded bodies. mailsplit walks the
 * tree (tolerating broken boundaries the way mail clients do); embedded message/rfc822 parts
 * are kept as leaves so the caller reads each as a message of its own, whatever transfer
 * encoding wraps it.
 */

export type MimeNode = Extract<SplitterChunk, { type: "node" }>;

export interface Leaf {
  node: MimeNode;
  /** Decoded body, or null when it was larger than the part limit. */
  body: Buffer | null;
  /** Position among the message's leaves, for naming parts without a file name. */
  index: number;
}

export interface SplitMessage {
  root: MimeNode | null;
  leaves: Leaf[];
  /**
   * Why the splitter gave up, if it did: a header block or part count over mailsplit's limits,
   * or structure it could not follow. Leaves hold what came before.
   */
  failed: "over-budget" | "corrupt" | null;
  /**
   * Bytes of multipart bodies outside every part (preamble, epilogue, or a whole body whose
   * boundary never appears). Some readers show them, so they are scanned too. Null when none.
   */
  outside: Buffer | null;
}

interface Collecting {
  node: MimeNode;
  chunks: Buffer[];
  size: number;
  over: boolean;
}

function decodeBody(raw: Buffer, encoding: string | false): Buffer {
  if (encoding === "base64") return Buffer.from(raw.toString("latin1"), "base64");
  if (encoding === "quoted-printable") return decodeQuotedPrintable(raw);
  return raw;
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * RFC 2045 section 6.7 quoted-printable. Lenient as mail readers are: a malformed escape is kept
 * as it stands, soft line breaks (`=` at line end, with trailing blanks) vanish.
 */
export function decodeQuotedPrintable(raw: Buffer): Buffer {
  const out = Buffer.allocUnsafe(raw.length);
  let o = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== 0x3d) {
      out[o++] = c;
      continue;
    }
    let j = i + 1;
    while (j < raw.length && (raw[j] === 0x20 || raw[j] === 0x09)) j++;
    if (j >= raw.length || raw[j] === 0x0a || raw[j] === 0x0d) {
      if (raw[j] === 0x0d && raw[j + 1] === 0x0a) j++;
      i = j;
      continue;
    }
    const hi = hexValue(raw[i + 1]);
    const lo = hexValue(raw[i + 2]);
    if (hi >= 0 && lo >= 0) {
      out[o++] = hi * 16 + lo;
      i += 2;
    } else {
      out[o++] = c;
    }
  }
  return out.subarray(0, o);
}

interface Split {
  root: MimeNode | null;
  order: Collecting[];
  failed: "over-budget" | "corrupt" | null;
  outside: Buffer[];
  /** Every multipart's boundary, so its delimiter lines are not read as text outside parts. */
  boundaries: Set<string>;
}

function boundaryOf(node: MimeNode): string | null {
  const type = node.headers ? node.headers.getFirst("content-type") : "";
  const boundary = libmime.parseHeaderValue(type).params.boundary;
  return typeof boundary === "string" && boundary !== "" ? boundary : null;
}

/**
 * The text outside every part: mailsplit hands the delimiter lines over with the preamble and
 * epilogue, and they are structure, not something a reader sees (a boundary may hold digits).
 */
function outsideText(chunks: Buffer[], boundaries: Set<string>): Buffer | null {
  if (chunks.length === 0) return null;
  const lines = Buffer.concat(chunks)
    .toString("latin1")
    .split(/\r?\n/)
    .filter((line) => {
      const m = /^--(.*?)(--)?[ \t]*$/.exec(line);
      return !(m && (boundaries.has(m[1] ?? "") || boundaries.has(`${m[1] ?? ""}${m[2] ?? ""}`)));
    });
  const text = lines.join("\n");
  return /\S/.test(text) ? Buffer.from(text, "latin1") : null;
}

/**
 * A multipart whose boundary never appears (no parts), or whose Content-Type names more than
 * one boundary, is read differently by different parsers: what we scan might not be what the
 * recipient's client shows, so such a message is not taken as scanned.
 */
function ambiguousMultipart(node: MimeNode, parts: number): boolean {
  if (parts === 0) return true;
  const type = node.headers ? node.headers.getFirst("content-type") : "";
  return (type.match(/(^|;)\s*boundary\s*\*?\s*=/gi) ?? []).length > 1;
}

function runSplitter(input: Buffer, limits: { maxParts: number; rawLimit: number }) {
  const splitter = new Splitter({ ignoreEmbedded: true, maxChildNodes: limits.maxParts });
  const split: Split = { root: null, order: [], failed: null, outside: [], boundaries: new Set() };
  const byNode = new Map<MimeNode, Collecting>();
  const parts = new Map<MimeNode, number>();
  let outsideSize = 0;

  const finish = () => {
    for (const [node, n] of parts) if (ambiguousMultipart(node, n)) split.failed ??= "corrupt";
    return split;
  };

  return new Promise<Split>((resolve) => {
    splitter.on("data", (chunk: SplitterChunk) => {
      if (chunk.type === "data") {
        outsideSize += chunk.value.length;
        if (outsideSize <= limits.rawLimit) split.outside.push(chunk.value);
        return;
      }
      if (chunk.type === "node") {
        if (chunk.root) split.root = chunk;
        const parent = chunk.parentNode;
        if (parent && parts.has(parent)) parts.set(parent, (parts.get(parent) ?? 0) + 1);
        if (chunk.multipart) {
          parts.set(chunk, 0);
          const boundary = boundaryOf(chunk);
          if (boundary) split.boundaries.add(boundary);
          return;
        }
        const c: Collecting = { node: chunk, chunks: [], size: 0, over: false };
        split.order.push(c);
        byNode.set(chunk, c);
        return;
      }
      if (chunk.type !== "body") return;
      const c = byNode.get(chunk.node);
      if (!c || c.over) return;
      c.size += chunk.value.length;
      if (c.size > limits.rawLimit) {
        c.over = true;
        c.chunks = [];
      } else {
        c.chunks.push(chunk.value);
      }
    });
    // mailsplit's typings only declare "data"; end and error are ordinary stream events.
    const stream: EventEmitter = splitter;
    stream.once("end", () => resolve(finish()));
    stream.once("error", (err: Error & { code?: string }) => {
      resolve({ ...finish(), failed: err.code === "EMAXLEN" ? "over-budget" : "corrupt" });
    });
    splitter.end(input);
  });
}

/** Index just past the blank line that ends the top-level header block, or -1. */
function headerEnd(raw: Buffer): number {
  const lf = raw.indexOf("\n\n");
  const crlf = raw.indexOf("\n\r\n");
  if (lf < 0 && crlf < 0) return -1;
  if (crlf < 0 || (lf >= 0 && lf < crlf)) return lf + 2;
  return crlf + 3;
}

export async function splitMessage(
  raw: Buffer,
  limits: { maxPartBytes: number; maxParts: number },
): Promise<SplitMessage> {
  // Transfer encodings inflate by at most 4/3 (base64) or 3 (quoted-printable) plus breaks.
  const rawLimit = limits.maxPartBytes * 3 + 1024;
  const opts = { maxParts: limits.maxParts, rawLimit };

  // A single-part message needs no boundary search: its body is everything after the header
  // block, taken without a line-by-line pass over what may be megabytes of text.
  let split: Split | null = null;
  const end = headerEnd(raw);
  if (end > 0) {
    const head = await runSplitter(raw.subarray(0, end), opts);
    const root = head.root;
    if (root && !head.failed && !root.multipart && !root.rfc822 && head.order.length === 1) {
      const body = raw.subarray(end);
      const over = body.length > rawLimit;
      const only: Collecting = { node: root, chunks: over ? [] : [body], size: body.length, over };
      split = { root, order: [only], failed: null, outside: [], boundaries: new Set() };
    }
  }
  split ??= await runSplitter(raw, opts);

  const leaves: Leaf[] = [];
  for (const [index, c] of split.order.entries()) {
    let body: Buffer | null = null;
    if (!c.over) {
      const joined = c.chunks.length === 1 ? c.chunks[0]! : Buffer.concat(c.chunks, c.size);
      body = decodeBody(joined, c.node.encoding);
      if (body.length > limits.maxPartBytes) body = null;
    }
    leaves.push({ node: c.node, body, index });
  }
  const outside = outsideText(split.outside, split.boundaries);
  return { root: split.root, leaves, failed: split.failed, outside };
}

/**
 * mailsplit hands header bytes over as latin1 strings: read them as UTF-8 when they are valid
 * UTF-8 (RFC 6532), else windows-1252. A string already holding wider characters is decoded.
 */
function headerString(line: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(line) || /[^\x00-\xff]/.test(line)) return line;
  return decodeText(Buffer.from(line, "latin1"), null);
}

/** The node's headers unfolded and decoded, in order, with their names as written. */
export function decodedHeaders(node: MimeNode): { name: string; value: string }[] {
  if (!node.headers) return [];
  const out: { name: string; value: string }[] = [];
  for (const { line } of node.headers.getList()) {
    const text = headerString(line);
    const colon = text.indexOf(":");
    if (colon <= 0) continue;
    const name = text.slice(0, colon).trim();
    const value = text
      .slice(colon + 1)
      .replace(/\r?\n(?=[ \t])/g, "")
      .trim();
    let decoded = value;
    try {
      decoded = libmime.decodeWords(value);
    } catch {
      // An encoded word in an unknown charset stays as written; it is still scanned.
    }
    out.push({ name, value: decoded });
  }
  return out;
}

/** The file name of a part, decoded (RFC 2231 and encoded words), or null. */
export function partFilename(node: MimeNode): string | null {
  if (!node.filename) return null;
  const name = headerString(node.filename).trim();
  return name === "" ? null : name;
}
