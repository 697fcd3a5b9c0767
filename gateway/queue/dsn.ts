import { randomBytes } from "node:crypto";
import { isDroppedHeader, parseHeaderFields, splitMessage } from "../deliver/prepare.js";
import type { NewMessage, StoredMessage } from "../store/types.js";

/**
 * Delivery status notifications (RFC 3464) in a multipart/report (RFC 3462, now RFC 6522):
 * a human part, the machine-readable message/delivery-status, and optionally the original
 * header block. Sent from the null sender <> (RFC 5321 §4.5.5) so that a DSN never bounces.
 */

export interface DsnRecipient {
  address: string;
  action: "failed" | "delayed";
  /** Enhanced status code (RFC 3463), e.g. 5.1.1. */
  status: string;
  /** The SMTP reply ("550 5.1.1 …") or a local reason. */
  diagnostic: string;
  /** Host that gave the diagnostic, if a remote one did. */
  remoteMta?: string | undefined;
}

export interface DsnOptions {
  /** The message the report is about; its envelope sender receives the DSN. */
  message: StoredMessage;
  recipients: DsnRecipient[];
  /** Host name of sealgate (Reporting-MTA). */
  reportingMta: string;
  /** Address shown in From; "" shows MAILER-DAEMON@reportingMta. */
  postmaster: string;
  organisation: string;
  /** Attach the original header block as text/rfc822-headers. */
  includeHeaders: boolean;
  /** The copy carried PHI: leave its Subject out of the attached headers. Default true. */
  sensitive?: boolean | undefined;
}

function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, "+0000");
}

/** One line, no control characters: reply texts come from remote servers. */
function oneLine(text: string): string {
  return text.replace(/\p{Cc}+/gu, " ").trim();
}

/** Folds a field at spaces so no line passes 78 characters where that is possible. */
function fold(field: string): string {
  const words = field.split(" ");
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    if (line !== "" && line.length + 1 + word.length > 78) {
      lines.push(line);
      line = ` ${word}`;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.join("\r\n");
}

function isAscii(text: string): boolean {
  return /^\p{ASCII}*$/u.test(text);
}

function textPart(text: string): string {
  if (isAscii(text)) {
    return `Content-Type: text/plain; charset=us-ascii\r\n\r\n${text}`;
  }
  const b64 = Buffer.from(text, "utf8").toString("base64").replace(/.{76}/g, "$&\r\n");
  return `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}`;
}

function humanText(o: DsnOptions): string {
  const failed = o.recipients.filter((r) => r.action === "failed");
  const delayed = o.recipients.filter((r) => r.action === "delayed");
  const lines = [`This is the mail system of ${o.organisation} at ${o.reportingMta}.`, ""];
  if (failed.length > 0) {
    lines.push("Your message could not be delivered to the following recipients:", "");
    for (const r of failed) lines.push(`  <${r.address}>: ${oneLine(r.diagnostic)}`);
    lines.push("");
  }
  if (delayed.length > 0) {
    lines.push("Your message has not been delivered yet to the following recipients:", "");
    for (const r of delayed) lines.push(`  <${r.address}>: ${oneLine(r.diagnostic)}`);
    lines.push("", "No action is needed on your part; you will be told if it fails.", "");
  }
  lines.push(`Reference: ${o.message.id}`, "");
  return lines.join("\r\n");
}

function statusPart(o: DsnOptions): string {
  const head = [
    `Reporting-MTA: dns; ${o.reportingMta}`,
    `X-Sealgate-Queue-ID: ${o.message.id}`,
    `Arrival-Date: ${rfc5322Date(o.message.receivedAt)}`,
  ];
  const blocks = o.recipients.map((r) => {
    const diagnostic = oneLine(r.diagnostic);
    const type = /^[245]\d\d[ -]/.test(diagnostic) ? "smtp" : "X-Sealgate";
    const fields = [
      `Final-Recipient: rfc822; ${r.address}`,
      `Action: ${r.action}`,
      `Status: ${r.status}`,
    ];
    if (r.remoteMta) fields.push(`Remote-MTA: dns; ${oneLine(r.remoteMta)}`);
    fields.push(fold(`Diagnostic-Code: ${type}; ${diagnostic}`));
    return fields.join("\r\n");
  });
  return `Content-Type: message/delivery-status\r\n\r\n${[head.join("\r\n"), ...blocks].join("\r\n\r\n")}\r\n`;
}

/** The original header block, minus Bcc, tenant-internal fields and (if sensitive) Subject. */
function headersPart(o: DsnOptions): string {
  const { header } = splitMessage(o.message.raw.toString("latin1").replace(/\r?\n/g, "\r\n"));
  const dropSubject = o.sensitive ?? true;
  const kept = parseHeaderFields(header).filter(
    (f) => f.name !== "" && !isDroppedHeader(f.name, "") && !(dropSubject && f.name === "subject"),
  );
  const block = kept.map((f) => f.lines.join("\r\n")).join("\r\n");
  return `Content-Type: text/rfc822-headers\r\n\r\n${block}\r\n`;
}

/** Builds the DSN for the pipeline (held, blocked) and the queue (bounced, expired). */
export function buildDsn(o: DsnOptions): NewMessage {
  const anyFailed = o.recipients.some((r) => r.action === "failed");
  const boundary = `=_sealgate_${randomBytes(12).toString("hex")}`;
  const messageId = `${o.message.id}.${randomBytes(6).toString("hex")}@${o.reportingMta}`;
  const from = o.postmaster || `MAILER-DAEMON@${o.reportingMta}`;
  const display = `${o.organisation} Mail Delivery System`.replace(/["\\\r\n]/g, "");
  const header = [
    `From: "${display}" <${from}>`,
    `To: <${o.message.envelope.mailFrom}>`,
    `Subject: ${anyFailed ? "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)"}`,
    `Date: ${rfc5322Date(new Date())}`,
    `Message-ID: <${messageId}>`,
    // RFC 3834 §5: automatic responders must not answer this message.
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=delivery-status;\r\n boundary="${boundary}"`,
  ];
  if (o.message.messageId) header.push(`In-Reply-To: <${o.message.messageId}>`);

  // Our text is UTF-8; the original header block is kept as the octets it arrived as.
  const parts = [Buffer.from(textPart(humanText(o)), "utf8"), Buffer.from(statusPart(o), "utf8")];
  if (o.includeHeaders) parts.push(Buffer.from(headersPart(o), "latin1"));
  const chunks = [
    Buffer.from(`${header.join("\r\n")}\r\n\r\n`, "utf8"),
    Buffer.from("This is a MIME-encapsulated delivery status notification.\r\n\r\n"),
  ];
  parts.forEach((part, i) => {
    chunks.push(Buffer.from(`${i === 0 ? "" : "\r\n"}--${boundary}\r\n`), part);
  });
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  const raw = Buffer.concat(chunks);
  const eightBit = raw.some((b) => b > 0x7f);
  return {
    envelope: { mailFrom: "", rcptTo: [o.message.envelope.mailFrom] },
    raw,
    messageId,
    connector: "sealgate",
    clientIp: "127.0.0.1",
    origin: "dsn",
    eightBit,
    smtpUtf8: !isAscii(o.message.envelope.mailFrom),
  };
}
