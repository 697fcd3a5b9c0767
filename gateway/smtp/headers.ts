/**
 * The few header fields the ingress needs, read from the header block only (RFC 5322 §2.1:
 * everything up to the first empty line). No MIME parsing: the pipeline does that later.
 */
export interface IngressHeaders {
  /** Message-ID without angle brackets, or null. */
  messageId: string | null;
  /** Every X-MS-Exchange-CrossTenant-Id value. */
  tenantIds: string[];
  /** Every value of the loop-guard header. */
  loopStamps: string[];
  receivedCount: number;
}

const CRLF_CRLF = Buffer.from("\r\n\r\n");

/** Reads the fields from the raw message; `loopHeader` is config.loopGuard.header. */
export function readIngressHeaders(raw: Buffer, loopHeader: string): IngressHeaders {
  const end = raw.indexOf(CRLF_CRLF);
  // A message with no empty line is all header (RFC 5322 §3.5 makes the body optional).
  const block = raw.subarray(0, end < 0 ? raw.length : end + 2).toString("utf8");
  const loopName = loopHeader.toLowerCase();
  const result: IngressHeaders = {
    messageId: null,
    tenantIds: [],
    loopStamps: [],
    receivedCount: 0,
  };

  for (const field of unfold(block)) {
    const colon = field.indexOf(":");
    if (colon <= 0) continue;
    const name = field.slice(0, colon).trim().toLowerCase();
    const value = field.slice(colon + 1).trim();
    if (name === "received") result.receivedCount++;
    else if (name === "message-id" && result.messageId === null) {
      result.messageId = bareMessageId(value);
    } else if (name === "x-ms-exchange-crosstenant-id") result.tenantIds.push(value);
    else if (name === loopName) result.loopStamps.push(value);
  }
  return result;
}

/** Joins folded lines (RFC 5322 §2.2.3) into one string per field. */
function* unfold(block: string): Generator<string> {
  let current: string | null = null;
  for (const line of block.split("\r\n")) {
    if (line === "") continue;
    if ((line.startsWith(" ") || line.startsWith("\t")) && current !== null) {
      current += line;
      continue;
    }
    if (current !== null) yield current;
    current = line;
  }
  if (current !== null) yield current;
}

function bareMessageId(value: string): string | null {
  const open = value.indexOf("<");
  const close = value.indexOf(">", open + 1);
  const id = open >= 0 && close > open ? value.slice(open + 1, close) : value;
  const trimmed = id.trim();
  return trimmed === "" ? null : trimmed;
}
