import { DeliveryError } from "./errors.js";

/**
 * Turns the stored bytes into the bytes that leave: line endings normalised once, headers that
 * must not leave the tenant removed, the loop-guard stamp added. The body is never touched, so
 * what the recipient gets is the original message (issue 2, item 7).
 */

/** RFC 5322 §2.1.1: a line, without its CRLF, must not exceed 998 octets. */
export const MAX_LINE_OCTETS = 998;

export interface PrepareOptions {
  /** Loop-guard header name and the stamp value to put in it. */
  stamp: { header: string; value: string };
  /**
   * Value of the Received field this relay adds (RFC 5321 §4.4: a relay MUST add trace
   * information). It goes first, as trace fields are prepended. Absent: none added.
   */
  received?: string | undefined;
}

export interface PreparedMessage {
  bytes: Buffer;
  /** Some octet is over 0x7F: the next hop must offer 8BITMIME (RFC 6152). */
  eightBit: boolean;
}

interface HeaderField {
  /** Lower-cased field name, "" for a line that is not a field (kept as it was). */
  name: string;
  /** The field as it was, folds included, each line without its CRLF. */
  lines: string[];
}

/** Headers dropped on the way out: Bcc (RFC 5322 §3.6.3) and the tenant's internal ones. */
export function isDroppedHeader(name: string, stampHeader: string): boolean {
  const n = name.toLowerCase();
  return (
    n === "bcc" || n.startsWith("x-ms-exchange-organization-") || n === stampHeader.toLowerCase()
  );
}

/** Every CR, LF or CRLF becomes CRLF. Works on latin1 text so each octet is one char. */
function normaliseLineEndings(text: string): string {
  return text.replace(/\r\n|\r|\n/g, "\r\n");
}

/** Splits a CRLF message into its header block and body at the first empty line. */
export function splitMessage(text: string): { header: string; body: string } {
  if (text.startsWith("\r\n")) return { header: "", body: text.slice(2) };
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return { header: text.replace(/\r\n$/, ""), body: "" };
  return { header: text.slice(0, end), body: text.slice(end + 4) };
}

/** Groups header lines into fields; a line starting with SP or HTAB continues the field. */
export function parseHeaderFields(header: string): HeaderField[] {
  const fields: HeaderField[] = [];
  if (header === "") return fields;
  for (const line of header.split("\r\n")) {
    const last = fields[fields.length - 1];
    if ((line.startsWith(" ") || line.startsWith("\t")) && last) {
      last.lines.push(line);
      continue;
    }
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : "";
    fields.push({ name, lines: [line] });
  }
  return fields;
}

/**
 * Folds a header line longer than 998 octets at whitespace (RFC 5322 §2.2.3 folding only
 * inserts CRLF before existing whitespace, so the unfolded value is unchanged).
 */
function foldLongLine(line: string): string[] {
  const out: string[] = [];
  let rest = line;
  while (rest.length > MAX_LINE_OCTETS) {
    const window = rest.slice(0, MAX_LINE_OCTETS + 1);
    const at = Math.max(window.lastIndexOf(" "), window.lastIndexOf("\t"));
    if (at <= 0) break;
    out.push(rest.slice(0, at));
    rest = rest.slice(at);
  }
  out.push(rest);
  return out;
}

function longestLine(text: string): number {
  let longest = 0;
  let start = 0;
  for (;;) {
    const end = text.indexOf("\r\n", start);
    const len = (end < 0 ? text.length : end) - start;
    if (len > longest) longest = len;
    if (end < 0) return longest;
    start = end + 2;
  }
}

function hasEightBit(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte > 0x7f) return true;
  return false;
}

/**
 * Prepares one outgoing copy. Throws DeliveryError LINE_TOO_LONG when a body line (or an
 * unfoldable header line) is over 998 octets: such bytes cannot be sent unchanged.
 */
export function prepareMessage(raw: Buffer, options: PrepareOptions): PreparedMessage {
  const text = normaliseLineEndings(raw.toString("latin1"));
  const { header, body } = splitMessage(text);

  const kept = parseHeaderFields(header).filter(
    (f) => f.name === "" || !isDroppedHeader(f.name, options.stamp.header),
  );
  const headerLines = [`${options.stamp.header}: ${options.stamp.value}`];
  if (options.received) headerLines.unshift(...foldLongLine(`Received: ${options.received}`));
  for (const field of kept) for (const line of field.lines) headerLines.push(...foldLongLine(line));

  let outBody = body;
  if (outBody !== "" && !outBody.endsWith("\r\n")) outBody += "\r\n";
  const out = `${headerLines.join("\r\n")}\r\n\r\n${outBody}`;

  const longest = longestLine(out);
  if (longest > MAX_LINE_OCTETS) {
    throw new DeliveryError(
      "LINE_TOO_LONG",
      `a line of ${longest} octets exceeds the ${MAX_LINE_OCTETS}-octet limit of RFC 5322`,
    );
  }
  const bytes = Buffer.from(out, "latin1");
  return { bytes, eightBit: hasEightBit(bytes) };
}
