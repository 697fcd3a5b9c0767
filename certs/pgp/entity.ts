import { PgpError } from "./errors.js";

/** One header field exactly as it arrived: name plus its raw bytes, folding and line end. */
export interface RawField {
  name: string;
  raw: Buffer;
}

export interface SplitMessage {
  fields: RawField[];
  /** The line ending the header block uses ("\r\n" from SMTP, "\n" from files). */
  eol: string;
  /** The body: the bytes after the blank line, as they arrive. */
  body: AsyncIterable<Buffer>;
}

/** Header blocks larger than this are refused rather than buffered. Default 1 MiB. */
export const MAX_HEADER_BYTES = 1024 * 1024;

/**
 * Separates the header block of an RFC 5322 message from its body without reading the body:
 * the header is buffered (bounded), the rest streams on.
 */
export async function splitMessage(
  input: Uint8Array | AsyncIterable<Uint8Array>,
  opts: { maxHeaderBytes?: number } = {},
): Promise<SplitMessage> {
  const max = opts.maxHeaderBytes ?? MAX_HEADER_BYTES;
  if (input instanceof Uint8Array) {
    const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const end = headerEnd(buf);
    if ((end?.at ?? buf.length) > max) throw tooLarge();
    if (end === null) return fromHeader(buf, single(Buffer.alloc(0)));
    return fromHeader(buf.subarray(0, end.at), single(buf.subarray(end.at + end.length)));
  }

  const iterator = input[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) return fromHeader(head, single(Buffer.alloc(0)));
    head = Buffer.concat([head, Buffer.from(next.value)]);
    const end = headerEnd(head);
    if (end === null) {
      if (head.length > max) throw tooLarge();
      continue;
    }
    if (end.at > max) throw tooLarge();
    const rest = head.subarray(end.at + end.length);
    return fromHeader(head.subarray(0, end.at), continueWith(rest, iterator));
  }
}

function tooLarge(): PgpError {
  return new PgpError("pgp-header-too-large", "the message header block is too large");
}

/** Where the blank line after the header starts; `at` includes the last field's line end. */
function headerEnd(buf: Buffer): { at: number; length: number } | null {
  if (buf[0] === 0x0d && buf[1] === 0x0a) return { at: 0, length: 2 };
  if (buf[0] === 0x0a) return { at: 0, length: 1 };
  const crlf = buf.indexOf("\r\n\r\n");
  const lf = buf.indexOf("\n\n");
  if (crlf >= 0 && (lf < 0 || crlf + 1 <= lf)) return { at: crlf + 2, length: 2 };
  if (lf >= 0) return { at: lf + 1, length: 1 };
  return null;
}

function fromHeader(header: Buffer, body: AsyncIterable<Buffer>): SplitMessage {
  const eol = header.includes("\r\n") || header.length === 0 ? "\r\n" : "\n";
  return { fields: parseFields(header), eol, body };
}

/** Splits a header block into fields; continuation lines (RFC 5322 §2.2.3) stay with theirs. */
export function parseFields(header: Buffer): RawField[] {
  const fields: RawField[] = [];
  let start = 0;
  let pos = 0;
  while (pos < header.length) {
    const nl = header.indexOf(0x0a, pos);
    const lineEnd = nl < 0 ? header.length : nl + 1;
    const next = header[lineEnd];
    if (next !== 0x20 && next !== 0x09) {
      const raw = header.subarray(start, lineEnd);
      const colon = raw.indexOf(0x3a);
      const name = colon > 0 ? raw.subarray(0, colon).toString("latin1").trim() : "";
      if (name !== "") fields.push({ name, raw });
      start = lineEnd;
    }
    pos = lineEnd;
  }
  return fields;
}

/** Ensures a field's raw bytes end with a line break, so fields can be concatenated. */
export function terminated(raw: Buffer, eol: string): Buffer {
  return raw.at(-1) === 0x0a ? raw : Buffer.concat([raw, Buffer.from(eol)]);
}

async function* single(buf: Buffer): AsyncIterable<Buffer> {
  if (buf.length > 0) yield buf;
}

async function* continueWith(
  first: Buffer,
  iterator: AsyncIterator<Uint8Array>,
): AsyncIterable<Buffer> {
  if (first.length > 0) yield first;
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) return;
    yield Buffer.from(next.value);
  }
}
