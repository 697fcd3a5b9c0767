import { simpleParser, type AddressObject, type Attachment } from "mailparser";
import sanitizeHtml from "sanitize-html";
import { escapeHtml } from "./html.js";

/**
 * Turns a stored original message into what the portal shows: headers, a sanitised HTML body
 * for the sandboxed frame, and the list of attachments. The sanitiser is the first wall (no
 * scripts, handlers, forms, frames or remote URLs survive it); the frame's sandbox and CSP
 * are the second, so a sanitiser bug alone still runs nothing and fetches nothing.
 */

export interface ShownAttachment {
  /** Position in the parsed message; the download route's index. */
  index: number;
  filename: string;
  contentType: string;
  size: number;
}

export interface ShownMessage {
  subject: string;
  from: string;
  to: string;
  cc: string;
  date: Date | null;
  /** Sanitised HTML for the frame (the text part wrapped in <pre> when there is no HTML). */
  bodyHtml: string;
  /** Whether the HTML asked for images from the web (shown only on the reader's consent). */
  hasRemoteImages: boolean;
  attachments: ShownAttachment[];
}

export interface ParsedMessage {
  shown: ShownMessage;
  attachment(index: number): Attachment | undefined;
}

function addressText(a: AddressObject | AddressObject[] | undefined): string {
  if (!a) return "";
  return (Array.isArray(a) ? a : [a]).map((x) => x.text).join(", ");
}

/** Attachments the reader downloads: everything except images the HTML shows inline. */
function downloadable(list: Attachment[], html: string | false): ShownAttachment[] {
  const shown: ShownAttachment[] = [];
  list.forEach((a, index) => {
    const inline = a.related === true && html !== false && Boolean(a.contentId);
    if (inline) return;
    shown.push({
      index,
      filename: a.filename ?? `attachment-${index + 1}`,
      contentType: a.contentType || "application/octet-stream",
      size: a.size ?? a.content.length,
    });
  });
  return shown;
}

const REMOTE = /^(https?:)?\/\//i;

/**
 * Sanitises mail HTML. Remote image sources are dropped unless `remoteImages` (the reader
 * asked); only https images are kept even then. Inline images arrive as data: URLs because
 * mailparser resolves cid: references from the message's own parts.
 */
export function sanitizeMessageHtml(
  input: string,
  options: { remoteImages: boolean },
): { html: string; hasRemoteImages: boolean } {
  let hasRemoteImages = false;
  const html = sanitizeHtml(input, {
    allowedTags: sanitizeHtml.defaults.allowedTags.concat(["img", "center", "font", "span"]),
    allowedAttributes: {
      "*": ["style", "align", "valign", "width", "height", "bgcolor", "color", "dir", "lang"],
      a: ["href", "title", "name"],
      img: ["src", "alt", "title", "width", "height"],
      td: ["colspan", "rowspan", "style", "align", "valign", "width", "bgcolor"],
      th: ["colspan", "rowspan", "style", "align", "valign", "width", "bgcolor"],
      font: ["color", "face", "size"],
    },
    allowedSchemes: ["http", "https", "mailto", "tel"],
    allowedSchemesByTag: { img: ["data", "https", "http"] },
    allowProtocolRelative: false,
    // Styles may not fetch: url(...) anywhere in a style attribute drops that declaration.
    allowedStyles: {
      "*": {
        "*": [/^(?![\s\S]*(url\s*\(|expression\s*\(|@import))[\s\S]*$/i],
      },
    },
    transformTags: {
      a: (tagName, attribs) => ({
        tagName,
        attribs: { ...attribs, target: "_blank", rel: "noopener noreferrer" },
      }),
      img: (tagName, attribs) => {
        const src = attribs.src ?? "";
        if (REMOTE.test(src)) {
          hasRemoteImages = true;
          const keep = options.remoteImages && /^https:\/\//i.test(src);
          if (!keep) {
            const rest = { ...attribs };
            delete rest.src;
            return { tagName, attribs: rest };
          }
        }
        return { tagName, attribs };
      },
    },
    allowedSchemesAppliedToAttributes: ["href", "src", "cite"],
  });
  return { html, hasRemoteImages };
}

export async function parseStoredMessage(
  raw: Buffer,
  options: { remoteImages: boolean },
): Promise<ParsedMessage> {
  const mail = await simpleParser(raw, { skipTextToHtml: true });

  let bodyHtml: string;
  let hasRemoteImages = false;
  if (mail.html !== false && mail.html) {
    const s = sanitizeMessageHtml(mail.html, options);
    bodyHtml = s.html;
    hasRemoteImages = s.hasRemoteImages;
  } else {
    bodyHtml = `<pre class="plain">${escapeHtml(mail.text ?? "")}</pre>`;
  }

  const shown: ShownMessage = {
    subject: mail.subject ?? "",
    from: addressText(mail.from),
    to: addressText(mail.to),
    cc: addressText(mail.cc),
    date: mail.date ?? null,
    bodyHtml,
    hasRemoteImages,
    attachments: downloadable(mail.attachments, mail.html ?? false),
  };
  return { shown, attachment: (i) => mail.attachments[i] };
}

/**
 * RFC 6266 Content-Disposition: an ASCII fallback name plus the exact name in RFC 8187
 * `filename*`, so names in any script survive and no quote or control character can end
 * the header early.
 */
export function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%;]/g, "_") || "attachment";
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
