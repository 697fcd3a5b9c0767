import { DeliveryError } from "./errors.js";

/**
 * Every delivery failure is classified here and nowhere else: SMTP replies from the next hop,
 * socket and TLS errors from nodemailer, DNS and content errors of our own. The result says
 * what to do with the recipient (sent, failed for good, try again) and why, in a category
 * that events, logs and DSNs share.
 */

export type Category =
  | "accepted"
  | "recipient" // the mailbox does not exist
  | "mailbox-full"
  | "size"
  | "greylist"
  | "rate-limit"
  | "blocklist" // our address is on a DNS blocklist
  | "spam" // the content was judged spam or malware
  | "tls" // TLS missing, failed or not verifiable
  | "tls-unverifiable" // route tls: no allowed MX proved itself at send time; try the next method
  | "policy" // relay denied, SPF/DMARC/DKIM, other 5.7.x
  | "remote-temporary" // a 4xx no rule explains
  | "remote-permanent" // a 5xx no rule explains
  | "protocol" // the peer did not speak SMTP as expected
  | "network" // refused, reset, unreachable
  | "timeout"
  | "dns" // the resolver failed
  | "no-route" // the domain does not exist or accepts no mail
  | "content" // we cannot send these bytes to this hop (8BITMIME, line length)
  | "auth" // the smart host refused our credentials
  | "internal"; // a fault of sealgate itself

export type Action = "sent" | "failed" | "deferred";

export interface Classification {
  action: Action;
  category: Category;
  temporary: boolean;
  /** Enhanced status code (RFC 3463). */
  status: string;
  /** Name of the reply rule that matched, if any. */
  rule?: string | undefined;
}

export interface ReplyRule {
  name: string;
  match: RegExp;
  category: Category;
  /** Overrides the reply class: some servers answer 5xx for what will pass later. */
  temporary?: boolean;
  /** A real reply of the kind this rule is for. */
  example: string;
}

/**
 * Remote-reply rules, first match wins. They refine the category and, where servers are known
 * to use the wrong class, whether to retry. Anything unmatched follows the reply class.
 */
export const REPLY_RULES: readonly ReplyRule[] = [
  {
    name: "greylisted",
    match: /gr[ae]y-?list/i,
    category: "greylist",
    temporary: true,
    example: "450 4.2.0 <rcpt>: Recipient address rejected: Greylisted, see http://postgrey/",
  },
  {
    // RFC 5321 §4.5.3.1.10: a 552 for too many recipients is to be treated as temporary.
    name: "too-many-recipients",
    match: /too many recipients/i,
    category: "rate-limit",
    temporary: true,
    example: "552 5.5.3 Too many recipients",
  },
  {
    name: "rate-limited",
    match: /rate.?limit|too many (connections|messages|emails)|throttl|try again later/i,
    category: "rate-limit",
    temporary: true,
    example: "421 4.7.28 Gmail has detected an unusual rate of unsolicited mail. Try again later.",
  },
  {
    name: "blocklisted",
    match: /spamhaus|block ?list|black ?list|\bRBL\b|\bDNSBL\b|listed (at|in|on|by)/i,
    category: "blocklist",
    example: "554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org",
  },
  {
    name: "tls-required",
    match: /(must|required?) .{0,30}(STARTTLS|TLS|encryption)|\b[45]\.7\.10\b/i,
    category: "tls",
    example: "530 5.7.0 Must issue a STARTTLS command first",
  },
  {
    name: "spam-or-malware",
    match: /\bspam\b|virus|malware|unsolicited/i,
    category: "spam",
    example: "550 5.7.1 Message rejected as spam by Content Filtering.",
  },
  {
    name: "mailbox-full",
    match: /\b[45]\.2\.2\b|mailbox (is )?full|over ?quota|quota exceeded|insufficient storage/i,
    category: "mailbox-full",
    example: "452 4.2.2 The email account that you tried to reach is over quota.",
  },
  {
    name: "too-big",
    match: /\b[45]\.3\.4\b|message (size|too (big|large))|exceeds .{0,20}size/i,
    category: "size",
    example: "552 5.3.4 Message size exceeds fixed maximum message size",
  },
  {
    name: "unknown-recipient",
    match:
      /\b5\.1\.[0-3]\b|user unknown|no such (user|mailbox)|unknown (user|recipient)|does not exist|recipient not found/i,
    category: "recipient",
    example: "550 5.1.1 <rcpt>: Recipient address rejected: User unknown in local recipient table",
  },
  {
    name: "policy",
    match: /\b[45]\.7\.\d{1,3}\b|relay(ing)? (access )?(denied|not permitted)|\bSPF\b|DMARC/i,
    category: "policy",
    example: "550 5.7.1 <rcpt>: Relay access denied",
  },
];

function enhancedStatus(reply: string, temporary: boolean): string {
  const m = /^\d{3}[ -]([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(reply);
  const cls = temporary ? "4" : "5";
  if (!m) return `${cls}.0.0`;
  return `${cls}.${m[2]}.${m[3]}`;
}

/** Classifies one SMTP reply text (e.g. the answer to RCPT TO or to the final dot). */
export function classifyReply(reply: string): Classification {
  const text = reply.trim();
  const code = Number(/^([2-5]\d\d)/.exec(text)?.[1] ?? 0);
  if (code >= 200 && code < 400) {
    return { action: "sent", category: "accepted", temporary: false, status: "2.0.0" };
  }
  if (code < 400) {
    // Not an SMTP reply at all: the peer is broken, which may well pass.
    return { action: "deferred", category: "protocol", temporary: true, status: "4.5.0" };
  }
  const rule = REPLY_RULES.find((r) => r.match.test(text));
  const temporary = rule?.temporary ?? code < 500;
  const category = rule?.category ?? (code < 500 ? "remote-temporary" : "remote-permanent");
  return {
    action: temporary ? "deferred" : "failed",
    category,
    temporary,
    status: enhancedStatus(text, temporary),
    rule: rule?.name,
  };
}

interface ErrorShape {
  code?: unknown;
  originalCode?: unknown;
  response?: unknown;
  responseCode?: unknown;
  command?: unknown;
  message?: unknown;
}

function temporary(category: Category, status: string): Classification {
  return { action: "deferred", category, temporary: true, status };
}

function permanent(category: Category, status: string): Classification {
  return { action: "failed", category, temporary: false, status };
}

const DELIVERY_ERRORS: Record<DeliveryError["code"], Classification> = {
  DNS_NXDOMAIN: permanent("no-route", "5.1.2"),
  DNS_NULL_MX: permanent("no-route", "5.1.10"),
  DNS_TEMPORARY: temporary("dns", "4.4.3"),
  DNS_NO_ADDRESS: temporary("dns", "4.4.4"),
  TLS_REQUIRED: temporary("tls", "4.7.10"),
  // Temporary, so a copy waits rather than bounces until the selector moves it elsewhere.
  TLS_UNVERIFIABLE: temporary("tls-unverifiable", "4.7.5"),
  EIGHTBIT_UNSUPPORTED: permanent("content", "5.6.3"),
  SMTPUTF8_UNSUPPORTED: permanent("content", "5.6.7"),
  LINE_TOO_LONG: permanent("content", "5.6.0"),
  DKIM_FAILED: temporary("internal", "4.3.0"),
  OUTBOX_WRITE: temporary("internal", "4.3.0"),
  CONFIG: temporary("internal", "4.3.5"),
};

/**
 * Classifies an error thrown during an attempt. A TLS failure is always temporary: the copy
 * waits for a next hop that can protect it, it is never sent in clear instead. Unknown errors
 * are temporary too, so a bug of ours delays mail rather than bouncing it.
 */
export function classifyError(err: unknown): Classification {
  if (err instanceof DeliveryError) return DELIVERY_ERRORS[err.code];
  const e = (typeof err === "object" && err !== null ? err : {}) as ErrorShape;
  const code = typeof e.code === "string" ? e.code : "";
  const original = typeof e.originalCode === "string" ? e.originalCode : "";
  const reply = typeof e.response === "string" && /^[45]\d\d/.test(e.response);
  if (code === "ETLS" || isTlsFailure(original, reply ? undefined : e.message)) {
    return temporary("tls", "4.7.5");
  }
  if (code === "EAUTH") return temporary("auth", "4.7.8");
  if (code === "ETIMEDOUT") return temporary("timeout", "4.4.1");
  if (typeof e.response === "string" && /^[45]\d\d/.test(e.response)) {
    return classifyReply(e.response);
  }
  if (code === "EDNS") return temporary("dns", "4.4.3");
  if (code === "EPROTOCOL") return temporary("protocol", "4.5.0");
  if (code === "ECONNECTION" || code === "ESOCKET" || /^E[A-Z]+$/.test(original)) {
    const refused = original === "ECONNREFUSED" || code === "ECONNREFUSED";
    return temporary("network", refused ? "4.4.1" : "4.4.2");
  }
  if (/^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EPIPE)$/.test(code)) {
    return temporary("network", "4.4.2");
  }
  return temporary("internal", "4.3.0");
}

/**
 * Certificate and handshake errors, which nodemailer reports as socket errors. The message
 * text is only looked at when the peer gave no SMTP reply (a reply that merely mentions a
 * "handshake" is classified as a reply), and only for the phrases OpenSSL and Node use.
 */
function isTlsFailure(original: string, message: unknown): boolean {
  if (/^ERR_(TLS|SSL)_|CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|^ERR_OSSL/.test(original)) {
    return true;
  }
  return (
    typeof message === "string" &&
    /certificate|altnames|SSL routines|TLS handshake|handshake (failure|failed|timeout)/i.test(
      message,
    )
  );
}

/** A short, PHI-free reason for an error: its code and the protocol facts in its message. */
export function describeError(err: unknown): string {
  if (err instanceof DeliveryError) return `${err.code}: ${err.message}`;
  const e = (typeof err === "object" && err !== null ? err : {}) as ErrorShape;
  const code = typeof e.code === "string" ? e.code : "ERROR";
  const original = typeof e.originalCode === "string" ? ` (${e.originalCode})` : "";
  const message = typeof e.message === "string" ? e.message : String(err);
  // nodemailer appends the server reply to its messages; replies can quote an address.
  const firstLine = withoutAddresses(message.split(/\r?\n/)[0] ?? "");
  return `${code}${original}: ${firstLine.slice(0, 300)}`;
}

/**
 * The text with every e-mail address replaced by "…". Remote replies quote the recipient
 * ("550 5.1.1 <pat@example.net>: User unknown"); an address identifies a patient, so replies
 * are stored, logged and shown without them.
 */
export function withoutAddresses(text: string): string {
  return text.replace(/[^\s<>"]+@[^\s<>"]+/g, "…");
}
