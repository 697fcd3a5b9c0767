/**
 * Every reply the ingress chooses, in one table. Enhanced status codes follow RFC 3463 and
 * are sent on every reply after EHLO because we advertise ENHANCEDSTATUSCODES (RFC 2034).
 * Rows marked "library" replace the text smtp-server would send for the same condition, so
 * that clients and support see one vocabulary (see adaptLibraryReply).
 */
export const REPLIES = {
  // Accepted and durably stored; the queue id lets support trace the message (RFC 5321 §4.2.1).
  queued: { code: 250, enhanced: "2.0.0", text: "Ok: queued as" },
  // Client address lies outside every connector's ipRanges: refused at the greeting
  // (RFC 5321 §3.1 allows a 554 greeting); 5.7.1 = delivery not authorized.
  clientNotAllowed: {
    code: 554,
    enhanced: "5.7.1",
    text: "Relay access denied: this client is not a configured connector",
  },
  // The client's connectors all pin sender domains and MAIL FROM's domain is not among them.
  senderNotAllowed: {
    code: 550,
    enhanced: "5.7.1",
    text: "Sender domain not allowed for this connector",
  },
  // The client's connectors all pin a client certificate and none was presented that matches.
  clientCertRequired: {
    code: 550,
    enhanced: "5.7.1",
    text: "A verified client certificate for this connector is required",
  },
  // X-MS-Exchange-CrossTenant-Id is missing or names a tenant no matching connector allows.
  tenantNotAllowed: {
    code: 550,
    enhanced: "5.7.1",
    text: "Message tenant not allowed for this connector",
  },
  // smtp.requireTls is set and MAIL came before STARTTLS (RFC 3207 §4).
  tlsRequired: { code: 530, enhanced: "5.7.0", text: "Must issue a STARTTLS command first" },
  // library: EHLO/HELO argument with control characters or the wrong shape (RFC 5321 §4.1.1.1).
  badHelo: { code: 501, enhanced: "5.5.4", text: "Invalid EHLO/HELO argument" },
  // library: MAIL FROM path unparsable or with control characters; 5.1.7 = bad sender syntax.
  badSender: { code: 501, enhanced: "5.1.7", text: "Bad sender address syntax" },
  // library: RCPT TO path unparsable or with control characters; 5.1.3 = bad destination syntax.
  badRecipient: { code: 501, enhanced: "5.1.3", text: "Bad recipient address syntax" },
  // A non-ASCII address without the SMTPUTF8 parameter on MAIL FROM (RFC 6531 §3.5).
  utf8AddressWithoutSmtpUtf8: {
    code: 553,
    enhanced: "5.6.7",
    text: "Non-ASCII address requires SMTPUTF8",
  },
  // library: more than smtp.maxRecipients RCPT (RFC 5321 §4.5.3.1.10 says 452, not 5xx).
  tooManyRecipients: { code: 452, enhanced: "4.5.3", text: "Too many recipients" },
  // library: SIZE= at MAIL FROM above the limit, or the DATA went over it (RFC 1870 §6).
  messageTooBig: {
    code: 552,
    enhanced: "5.3.4",
    text: "Message exceeds fixed maximum message size",
  },
  // library: the client sent nothing for smtp.idleTimeout seconds (RFC 5321 §4.5.3.2).
  idleTimeout: { code: 421, enhanced: "4.4.2", text: "Idle timeout, closing connection" },
  // smtp.maxConnections sessions are open; 4.7.0 = try later, local policy.
  tooManyConnections: {
    code: 421,
    enhanced: "4.7.0",
    text: "Too many connections, try again later",
  },
  // smtp.maxConnectionsPerIp sessions from this address are open.
  tooManyConnectionsFromIp: {
    code: 421,
    enhanced: "4.7.0",
    text: "Too many connections from your address, try again later",
  },
  // A bare CR or LF inside DATA. Refusing the whole message (as Postfix's "bare <LF>
  // received") makes SMTP smuggling impossible: no lone newline can end the data early.
  // 550 is a valid reply to end-of-data (RFC 5321 §4.3.2); 5.5.2 = syntax error.
  bareNewline: {
    code: 550,
    enhanced: "5.5.2",
    text: "Bare <CR> or <LF> received; lines must end with <CR><LF>",
  },
  // A DATA line longer than smtp.maxLineOctets (RFC 5322 §2.1.1: 998). RFC 5321 §4.2.2 lists
  // 500 for over-long command lines, but 500 is no valid end-of-data reply (§4.3.2), so this
  // uses 550 5.5.2 like a bare newline: the content is syntactically broken, retrying won't help.
  lineTooLong: {
    code: 550,
    enhanced: "5.5.2",
    text: "Message has a line longer than the allowed octets",
  },
  // A valid loop-guard stamp says the message came back more than loopGuard.maxHops times.
  // 5.4.6 = routing loop detected (RFC 3463).
  routingLoop: { code: 554, enhanced: "5.4.6", text: "Routing loop detected" },
  // More than 50 Received headers: RFC 5321 §6.3 loop detection.
  tooManyHops: { code: 554, enhanced: "5.4.6", text: "Too many Received headers, routing loop" },
  // The durable store did not confirm the write; the client keeps the message and retries.
  spoolFailed: {
    code: 451,
    enhanced: "4.3.0",
    text: "Local error in processing, try again later",
  },
} as const;

export type ReplyName = keyof typeof REPLIES;

/** Reply text as sent after the code: enhanced code first, then the text, then a detail. */
export function replyText(name: ReplyName, detail?: string): string {
  const row = REPLIES[name];
  return `${row.enhanced} ${row.text}${detail ? ` ${detail}` : ""}`;
}

/**
 * A refusal handed to smtp-server's callbacks. smtp-server reads `responseCode`; the message
 * starts with the enhanced code so adaptLibraryReply sends it verbatim.
 */
export class SmtpReply extends Error {
  override readonly name = "SmtpReply";
  readonly code: ReplyName;
  readonly responseCode: number;
  readonly enhanced: string;

  constructor(reply: ReplyName, options: { ref?: string; cause?: unknown } = {}) {
    super(replyText(reply, options.ref ? `(ref ${options.ref})` : undefined), {
      cause: options.cause,
    });
    this.code = reply;
    this.responseCode = REPLIES[reply].code;
    this.enhanced = REPLIES[reply].enhanced;
  }
}

/** One reply as smtp-server's SMTPConnection.send() takes it. */
export interface WireReply {
  code: number;
  data: string | string[] | null | undefined;
  context: string | false | undefined;
}

const ENHANCED_PREFIX = /^([245])\.\d{1,3}\.\d{1,3} /;

/**
 * Rows the library sends on its own, keyed by code and the context smtp-server gives send().
 * EHLO/HELO refusals come with context false (no enhanced code); the others have codes that
 * are already right, and get our text.
 */
const LIBRARY_ROWS: Record<string, ReplyName> = {
  "501:false": "badHelo",
  "501:SENDER_SYNTAX_ERROR": "badSender",
  "501:MAILBOX_SYNTAX_ERROR": "badRecipient",
  "452:TOO_MANY_RECIPIENTS": "tooManyRecipients",
  "552:MESSAGE_TOO_BIG": "messageTooBig",
};

/**
 * Turns what smtp-server is about to send into our reply: our own texts (which start with
 * their enhanced code) go out as they are, the library's known rows get the table's text,
 * anything else is left to the library's own RFC 3463 mapping.
 */
export function adaptLibraryReply(reply: WireReply): WireReply {
  const { code, data, context } = reply;
  if (typeof data === "string") {
    const m = ENHANCED_PREFIX.exec(data);
    if (m && m[1] === String(code)[0]) return { code, data, context: false };
    if (code === 421 && data.startsWith("Timeout")) {
      return { code, data: replyText("idleTimeout"), context: false };
    }
  }
  const row = LIBRARY_ROWS[`${code}:${String(context)}`];
  if (row) return { code, data: replyText(row), context: false };
  return reply;
}
