/**
 * The MIME around S/MIME: splitting a message into the headers that must stay outside and the
 * entity that travels inside (protected headers), and writing the application/pkcs7-mime
 * message (RFC 8551 §3.3) with base64 lines of 76 characters and CRLF line ends.
 */
import { SmimeError } from "./errors.js";

export interface HeaderField {
  name: string;
  value: string;
}

const CRLF = "\r\n";

/** Headers a recipient's client needs outside the envelope to file, thread and answer. */
const OUTSIDE = new Set([
  "from",
  "sender",
  "reply-to",
  "to",
  "cc",
  "date",
  "message-id",
  "references",
  "in-reply-to",
]);

/**
 * Fields repeated inside the envelope as protected headers (draft-ietf-lamps-header-protection
 * "v1", as the PGP path writes them). Nothing else travels inside besides Content-*: no Bcc,
 * no trace fields, no tenant fields such as X-MS-Exchange-Organization-*.
 */
const PROTECTED = new Set([
  "from",
  "to",
  "cc",
  "subject",
  "date",
  "message-id",
  "references",
  "in-reply-to",
  "reply-to",
]);

/** Lone LF to CRLF: S/MIME content is canonical (RFC 8551 §3.1.1); SMTP input already is. */
export function canonicalCrlf(bytes: Buffer): Buffer {
  if (!bytes.includes(0x0a)) return bytes;
  let lone = false;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a && (i === 0 || bytes[i - 1] !== 0x0d)) {
      lone = true;
      break;
    }
  }
  if (!lone) return bytes;
  return Buffer.from(bytes.toString("latin1").replace(/\r?\n/g, CRLF), "latin1");
}

interface RawField {
  name: string;
  /** The field's bytes as received, folding and line end included. */
  raw: string;
  /** Unfolded value without the leading space. */
  value: string;
}

function splitMessage(raw: Buffer): { fields: RawField[]; body: Buffer } {
  const text = raw.toString("latin1");
  let end = text.indexOf("\r\n\r\n");
  let sep = 4;
  if (end === -1) {
    end = text.indexOf("\n\n");
    sep = 2;
  }
  if (text.startsWith("\r\n") || text.startsWith("\n")) {
    throw new SmimeError("smime_bad_message", "the message has no header");
  }
  const headerText = end === -1 ? text : text.slice(0, end + sep / 2);
  const body = end === -1 ? Buffer.alloc(0) : raw.subarray(end + sep);
  const fields: RawField[] = [];
  for (const line of headerText.split(/(?<=\n)/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      const last = fields[fields.length - 1] as RawField;
      last.raw += line;
      last.value += " " + line.trim();
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) throw new SmimeError("smime_bad_message", "a header line has no field name");
    fields.push({
      name: line.slice(0, colon).trim(),
      raw: line,
      value: line.slice(colon + 1).trim(),
    });
  }
  return { fields, body };
}

/**
 * Splits a message for encryption. The inner entity is built from the original bytes: the
 * protected header fields (From, To, Cc, Subject, Date, Message-ID, References, In-Reply-To,
 * Reply-To) and the Content-* fields as they came, the Content-Type marked
 * `protected-headers="v1"`, then the body untouched. Outside stay From, Sender, Reply-To, To,
 * Cc, Date, Message-ID, References and In-Reply-To; the Subject outside is the neutral one
 * when given, the original otherwise.
 */
export function protectHeaders(
  raw: Buffer,
  o: { neutralSubject?: string | undefined } = {},
): { inner: Buffer; outer: HeaderField[] } {
  const message = canonicalCrlf(raw);
  const { fields, body } = splitMessage(message);
  const outer: HeaderField[] = [];
  let subjectSeen = false;
  for (const f of fields) {
    const lower = f.name.toLowerCase();
    if (OUTSIDE.has(lower)) outer.push({ name: f.name, value: f.value });
    if (lower === "subject") {
      subjectSeen = true;
      outer.push({ name: "Subject", value: o.neutralSubject ?? f.value });
    }
  }
  if (!subjectSeen && o.neutralSubject !== undefined) {
    outer.push({ name: "Subject", value: o.neutralSubject });
  }
  const inside: string[] = [];
  let typed = false;
  for (const f of fields) {
    const lower = f.name.toLowerCase();
    if (!PROTECTED.has(lower) && !lower.startsWith("content-")) continue;
    const line = f.raw.endsWith("\n") ? f.raw : f.raw + CRLF;
    if (lower !== "content-type" || typed) {
      inside.push(line);
      continue;
    }
    // A parameter on a continuation line: the original field's bytes stay as they were.
    typed = true;
    inside.push(`${line.replace(/[ \t;]*\r\n$/, "")};${CRLF} protected-headers="v1"${CRLF}`);
  }
  if (!typed) {
    // RFC 2045 §5.2: without a Content-Type the entity is text/plain; charset=us-ascii.
    inside.push(`Content-Type: text/plain; charset=us-ascii;${CRLF} protected-headers="v1"${CRLF}`);
  }
  const inner = Buffer.concat([Buffer.from(inside.join("") + CRLF, "latin1"), body]);
  return { inner, outer };
}

/** Base64 in lines of 76 characters (RFC 2045 §6.8), each ended by CRLF. */
export function base64Lines(bytes: Buffer): Buffer {
  const b64 = Buffer.from(bytes.toString("base64"), "latin1");
  const lines = Math.ceil(b64.length / 76);
  const out = Buffer.allocUnsafe(b64.length + lines * 2);
  let at = 0;
  for (let i = 0; i < b64.length; i += 76) {
    at += b64.copy(out, at, i, Math.min(i + 76, b64.length));
    out[at++] = 0x0d;
    out[at++] = 0x0a;
  }
  return out;
}

/** A header field value without line breaks, so a caller's value cannot inject a field. */
function safeValue(value: string): string {
  return value.replace(/\r?\n(?=[ \t])/g, "").replace(/[\r\n]+/g, " ");
}

const OWN = new Set([
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "content-disposition",
]);

/** The whole message: outer headers, then the CMS object as application/pkcs7-mime. */
export function pkcs7MimeMessage(
  der: Buffer,
  o: { smimeType: "enveloped-data" | "authEnveloped-data" | "signed-data"; outer: HeaderField[] },
): Buffer {
  const lines = o.outer
    .filter((h) => !OWN.has(h.name.toLowerCase()))
    .map((h) => `${h.name}: ${safeValue(h.value)}`);
  lines.push(
    "MIME-Version: 1.0",
    `Content-Type: application/pkcs7-mime; smime-type=${o.smimeType};${CRLF} name="smime.p7m"`,
    "Content-Transfer-Encoding: base64",
    'Content-Disposition: attachment; filename="smime.p7m"',
  );
  return Buffer.concat([Buffer.from(lines.join(CRLF) + CRLF + CRLF, "latin1"), base64Lines(der)]);
}
