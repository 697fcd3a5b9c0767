import MailComposer from "nodemailer/lib/mail-composer";
import { simpleParser, type AddressObject } from "mailparser";
import type { NewMessage } from "../store/index.js";

/**
 * The mail the portal writes: what it reads of an original's headers, the notice to a
 * recipient (no PHI: no subject unless allowed, no body, no attachment names), the one-time
 * code mail and the reply a recipient writes in the portal.
 */

export interface HeaderFacts {
  fromName: string;
  fromAddress: string;
  subject: string;
  messageId: string | null;
  references: string[];
  to: string[];
  cc: string[];
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  const list = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return list.flatMap((a) => a.value.map((v) => (v.address ?? "").toLowerCase())).filter(Boolean);
}

/** The header block with its blank line; the body (attachments and all) is not needed here. */
function headerBlock(raw: Buffer): Buffer {
  const end = raw.indexOf("\r\n\r\n");
  return end === -1 ? raw : raw.subarray(0, end + 4);
}

export async function headerFacts(raw: Buffer, fallbackFrom: string): Promise<HeaderFacts> {
  const parsed = await simpleParser(headerBlock(raw), {
    skipHtmlToText: true,
    skipTextToHtml: true,
  });
  const from = parsed.from?.value[0];
  const refs = parsed.references;
  return {
    fromName: from?.name || from?.address || fallbackFrom,
    fromAddress: (from?.address ?? fallbackFrom).toLowerCase(),
    subject: parsed.subject ?? "",
    messageId: parsed.messageId ?? null,
    references: refs === undefined ? [] : Array.isArray(refs) ? refs : [refs],
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
  };
}

/** Mail sealgate writes itself: the null sender, never scanned as staff mail, never bounced. */
export function generated(rcptTo: string[], raw: Buffer, origin: NewMessage["origin"]): NewMessage {
  return {
    envelope: { mailFrom: "", rcptTo },
    raw,
    messageId: null,
    connector: "sealgate",
    clientIp: "127.0.0.1",
    origin,
    eightBit: false,
    smtpUtf8: false,
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface NoticeOptions {
  organisation: string;
  logoUrl?: string | undefined;
  /** The Subject of the notice: neutral unless policy allows the original. */
  subject: string;
  senderName: string;
  link: string;
  expiresAt: Date;
  from: string;
  to: string;
}

/** The notice's bytes; it says who sent it and where to read it, and nothing of the content. */
export async function buildNotice(o: NoticeOptions): Promise<Buffer> {
  const until = o.expiresAt.toISOString().slice(0, 10);
  const lines = [
    `This message was sent to you securely by ${o.senderName} at ${o.organisation}.`,
    "",
    "To read it, open this link and confirm your e-mail address:",
    o.link,
    "",
    `The message can be read until ${until}.`,
    "If you did not expect it, you can ignore this e-mail.",
  ];
  const logo = o.logoUrl
    ? `<p><img src="${escapeHtml(o.logoUrl)}" alt="${escapeHtml(o.organisation)}" height="48"></p>`
    : "";
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">',
    logo,
    `<p>This message was sent to you securely by <strong>${escapeHtml(o.senderName)}</strong>`,
    ` at ${escapeHtml(o.organisation)}.</p>`,
    `<p><a href="${escapeHtml(o.link)}" style="font-size:1.2em">Read the secure message</a></p>`,
    `<p>The message can be read until ${until}.</p>`,
    "<p>If you did not expect it, you can ignore this e-mail.</p>",
    "</body></html>",
  ].join("");
  return new MailComposer({
    from: `${o.organisation} secure mail <${o.from}>`,
    to: o.to,
    subject: o.subject,
    text: lines.join("\r\n"),
    html,
    headers: { "Auto-Submitted": "auto-generated" },
  })
    .compile()
    .build();
}

export async function buildCodeMail(o: {
  organisation: string;
  from: string;
  to: string;
  code: string;
  minutes: number;
}): Promise<NewMessage> {
  const raw = await new MailComposer({
    from: `${o.organisation} secure mail <${o.from}>`,
    to: o.to,
    subject: `Your code for ${o.organisation} secure mail`,
    text: [
      `Your code is ${o.code}`,
      "",
      `Enter it on the secure mail page within ${o.minutes} minutes.`,
      "If you did not ask for a code, you can ignore this e-mail.",
    ].join("\r\n"),
    headers: { "Auto-Submitted": "auto-generated" },
  })
    .compile()
    .build();
  return generated([o.to], raw, "notice");
}

export interface ReplyMailOptions {
  portalId: string;
  /** The recipient who wrote it: Reply-To, and named in From. */
  author: string;
  /** The portal's own address (portal.noticeFrom): the From address. */
  from: string;
  organisation: string;
  to: string[];
  cc: string[];
  subject: string;
  original: HeaderFacts;
  text: string;
  attachments: { filename: string; contentType: string; content: Buffer }[];
}

/**
 * A reply the recipient wrote; threads under the original (RFC 5322 §3.6.4). From is the
 * portal's own address with the author's in the display name, and Reply-To the author: the
 * reply leaves through our relay, and a From in the author's domain would fail that domain's
 * DMARC policy (RFC 7489) at the sender's mail system.
 */
export async function buildReply(
  o: ReplyMailOptions,
): Promise<{ raw: Buffer; messageId: string; subject: string }> {
  const id = o.original.messageId;
  const subject = /^re:/i.test(o.subject) ? o.subject : `Re: ${o.subject}`;
  const composer = new MailComposer({
    from: { name: `${o.author} via ${o.organisation} secure mail`, address: o.from },
    replyTo: o.author,
    to: o.to,
    ...(o.cc.length > 0 ? { cc: o.cc } : {}),
    subject,
    text: o.text,
    ...(id ? { inReplyTo: id, references: [...o.original.references, id] } : {}),
    headers: { "X-Sealgate-Portal-Reply": o.portalId },
    attachments: o.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: a.content,
    })),
  });
  const mail = composer.compile();
  const raw = await mail.build();
  return { raw, messageId: mail.messageId().replace(/^<|>$/g, ""), subject };
}
