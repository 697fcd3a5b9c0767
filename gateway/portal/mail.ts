import MailComposer from "nodemailer/lib/mail-composer";
import { simpleParser, type AddressObject } from "mailparser";
import type { NewMessage } from "../store/index.js";
import type { Strings } from "./web/strings.js";

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
  strings: Strings;
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
  const m = o.strings.mail;
  const until = m.date(o.expiresAt);
  const intro = m.noticeIntro(o.senderName, o.organisation);
  const lines = [intro, "", m.noticeHowTo, o.link, "", m.noticeUntil(until), m.noticeIgnore];
  const html = [
    HTML_HEAD,
    logoHtml(o.logoUrl, o.organisation),
    `<p>${escapeHtml(intro)}</p>`,
    `<p><a href="${escapeHtml(o.link)}" style="font-size:1.2em">${escapeHtml(m.noticeLink)}</a></p>`,
    `<p>${escapeHtml(m.noticeUntil(until))}</p>`,
    `<p>${escapeHtml(m.noticeIgnore)}</p>`,
    "</body></html>",
  ].join("");
  return new MailComposer({
    from: { name: m.fromName(o.organisation), address: o.from },
    to: o.to,
    subject: o.subject,
    text: lines.join("\r\n"),
    html,
    headers: { "Auto-Submitted": "auto-generated" },
  })
    .compile()
    .build();
}

const HTML_HEAD = '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">';

function logoHtml(url: string | undefined, organisation: string): string {
  if (!url) return "";
  return `<p><img src="${escapeHtml(url)}" alt="${escapeHtml(organisation)}" height="48"></p>`;
}

export interface SenderCopyOptions {
  strings: Strings;
  organisation: string;
  logoUrl?: string | undefined;
  /** The subject the recipient's notice had (neutral unless policy allows the original). */
  subject: string;
  recipient: string;
  expiresAt: Date;
  from: string;
  to: string;
}

/**
 * The sender's copy: says the message went through the portal and to whom, and holds no link:
 * the recipient's link is theirs alone, and a forwarded copy must not open their sign-in.
 */
export async function buildSenderCopy(o: SenderCopyOptions): Promise<Buffer> {
  const m = o.strings.mail;
  const first = m.senderCopyText(o.recipient, o.organisation);
  const second = m.senderCopyNotice(m.date(o.expiresAt));
  const html = [
    HTML_HEAD,
    logoHtml(o.logoUrl, o.organisation),
    `<p>${escapeHtml(first)}</p><p>${escapeHtml(second)}</p></body></html>`,
  ].join("");
  return new MailComposer({
    from: { name: m.fromName(o.organisation), address: o.from },
    to: o.to,
    subject: m.senderCopySubject(o.subject),
    text: [first, "", second].join("\r\n"),
    html,
    headers: { "Auto-Submitted": "auto-generated" },
  })
    .compile()
    .build();
}

export async function buildCodeMail(o: {
  strings: Strings;
  organisation: string;
  from: string;
  to: string;
  code: string;
  minutes: number;
}): Promise<NewMessage> {
  const m = o.strings.mail;
  const raw = await new MailComposer({
    from: { name: m.fromName(o.organisation), address: o.from },
    to: o.to,
    subject: m.codeSubject(o.organisation),
    text: [m.codeIs(o.code), "", m.codeWithin(o.minutes), m.codeIgnore].join("\r\n"),
    headers: { "Auto-Submitted": "auto-generated" },
  })
    .compile()
    .build();
  return generated([o.to], raw, "notice");
}

export interface ReplyMailOptions {
  strings: Strings;
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
    from: { name: o.strings.mail.replyFromName(o.author, o.organisation), address: o.from },
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
