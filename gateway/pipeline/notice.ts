import MailComposer from "nodemailer/lib/mail-composer";
import type { Verdict } from "../../policy/index.js";
import type { NewMessage, StoredMessage } from "../store/index.js";

/**
 * The notice a policy's notify-sender action sends to staff: which rules and detectors fired
 * (names and counts, never values, never the subject) and what happened to the message, so
 * people learn why rather than routing around the gateway.
 */

export interface NoticeOptions {
  message: StoredMessage;
  verdict: Verdict;
  /** One line per outcome, e.g. "2 recipients: sent over verified TLS". */
  outcome: string;
  postmaster: string;
  organisation: string;
}

const ACTION_TEXT: Record<Verdict["action"], string> = {
  allow: "was delivered normally",
  encrypt: "was delivered securely",
  block: "was not delivered",
  quarantine: "is held for review by an administrator",
};

export async function buildSenderNotice(o: NoticeOptions): Promise<NewMessage> {
  const findings = o.verdict.findings.map(
    (f) => `  - ${f.detector}: ${f.count} found (${f.confidence} confidence)`,
  );
  const text = [
    `Your message (reference ${o.message.id}) ${ACTION_TEXT[o.verdict.action]}.`,
    "",
    `${o.organisation}'s mail policy looked for protected health information in it.`,
    `Rules that applied: ${o.verdict.rules.join(", ") || "none"}`,
    ...(findings.length > 0 ? ["What was found (counts only):", ...findings] : []),
    "",
    o.outcome,
    "",
    "Questions? Reply to your IT team and quote the reference above.",
  ].join("\r\n");

  const from = o.postmaster;
  const raw = await new MailComposer({
    from: `${o.organisation} mail gateway <${from}>`,
    to: o.message.envelope.mailFrom,
    subject: `Secure mail notice: reference ${o.message.id}`,
    text,
    headers: { "Auto-Submitted": "auto-generated" },
  })
    .compile()
    .build();

  return {
    envelope: { mailFrom: "", rcptTo: [o.message.envelope.mailFrom] },
    raw,
    messageId: null,
    connector: "sealgate",
    clientIp: "127.0.0.1",
    origin: "notice",
    eightBit: false,
    smtpUtf8: false,
  };
}
