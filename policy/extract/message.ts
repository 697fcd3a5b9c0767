import { extractFile } from "./attachments.js";
import { decodeText } from "./charset.js";
import { ExtractError, type ExtractContext } from "./context.js";
import { htmlToText } from "./html.js";
import { signedContent } from "./pkcs7.js";
import { decodedHeaders, partFilename, splitMessage, type Leaf, type MimeNode } from "./mime.js";

/**
 * One message (the top-level one, or one nested as message/rfc822, .eml in a ZIP ...): its
 * subject, every text and HTML body (both sides of multipart/alternative), and every other
 * part as an attachment. Sources of a nested message carry its place as a prefix.
 */

export interface Place {
  /** Source prefix, "" for the top-level message. */
  prefix: string;
  depth: number;
}

export function sourceIn(prefix: string, local: string): string {
  return prefix === "" ? local : `${prefix}/${local}`;
}

/** Undoes RFC 3676 format=flowed soft breaks so a value wrapped at a space stays on one line. */
function unflow(text: string, delSp: boolean): string {
  return text.replace(/ \r?\n(?!-- \r?\n)/g, delSp ? "" : " ");
}

function ancestorWith(node: MimeNode, test: (n: MimeNode) => boolean): MimeNode | null {
  for (let n = node.parentNode; n; n = n.parentNode) if (test(n)) return n;
  return null;
}

const isEncryptedMultipart = (n: MimeNode): boolean => n.multipart === "encrypted";

function isBodyPart(node: MimeNode, filename: string | null): boolean {
  const type = node.contentType || "text/plain";
  if (!type.startsWith("text/")) return false;
  return node.disposition !== "attachment" && filename === null;
}

/** S/MIME per RFC 8551 section 3.2.2: opaque signed data is readable, enveloped data is not. */
function isSignedData(node: MimeNode): boolean {
  const ct = node.headers ? node.headers.getFirst("content-type") : "";
  return /smime-type\s*=\s*"?signed-data/i.test(ct);
}

/** Inline PGP (RFC 4880 section 6.2): the armored block cannot be read, whatever surrounds it. */
export const PGP_ARMOR = "-----BEGIN PGP MESSAGE-----";

interface PartFacts {
  filename: string | null;
  type: string;
  body: Buffer | null;
}

function info(source: string, { filename, type, body }: PartFacts) {
  return { source, filename, contentType: type, detectedType: null, size: body?.length ?? 0 };
}

class BodyNames {
  #seen = new Map<string, number>();

  next(base: string): string {
    const n = (this.#seen.get(base) ?? 0) + 1;
    this.#seen.set(base, n);
    return n === 1 ? base : `${base}.${n}`;
  }
}

export async function extractMessage(ctx: ExtractContext, raw: Buffer, place: Place) {
  if (place.depth > ctx.budget.maxDepth) throw new ExtractError("over-budget");
  const split = await splitMessage(raw, {
    maxPartBytes: ctx.budget.maxPartBytes,
    maxParts: ctx.budget.maxEntries,
  });
  const messageSource = place.prefix === "" ? "message" : place.prefix;
  if (!split.root) throw new ExtractError(split.failed ?? "corrupt");
  if (split.failed) ctx.unscannable(messageSource, split.failed);

  const headers = decodedHeaders(split.root);
  if (place.depth === 0) ctx.out.headers.push(...headers);
  const subject = headers.find((h) => h.name.toLowerCase() === "subject");
  if (subject) ctx.addText(sourceIn(place.prefix, "subject"), "subject", subject.value);
  const shown = shownHeaderText(headers);
  if (shown) ctx.addText(sourceIn(place.prefix, "headers"), "header", shown);

  if (split.outside) {
    const text = decodeText(split.outside, split.root.charset);
    ctx.addText(sourceIn(place.prefix, "outside-parts"), "body", text);
  }

  const names = new BodyNames();
  const encryptedSeen = new Set<MimeNode>();
  for (const leaf of split.leaves) {
    const locked = ancestorWith(leaf.node, isEncryptedMultipart);
    if (locked) {
      if (!encryptedSeen.has(locked)) {
        encryptedSeen.add(locked);
        ctx.unscannable(sourceIn(place.prefix, names.next("encrypted")), "encrypted");
      }
      continue;
    }
    await extractLeaf(ctx, leaf, { place, names });
  }
}

async function extractLeaf(
  ctx: ExtractContext,
  leaf: Leaf,
  where: { place: Place; names: BodyNames },
) {
  const { place, names } = where;
  const { node, body } = leaf;
  const type = (node.contentType || "text/plain").toLowerCase();
  const filename = partFilename(node);

  if (isBodyPart(node, filename)) {
    const html = type === "text/html";
    const source = sourceIn(place.prefix, names.next(html ? "body.html" : "body"));
    await ctx.guard(source, () => {
      if (body === null) throw new ExtractError("over-budget");
      let text = decodeText(body, node.charset);
      if (html) text = htmlToText(text);
      else if (node.flowed) text = unflow(text, node.delSp);
      ctx.addText(source, "body", text);
      if (text.includes(PGP_ARMOR)) ctx.unscannable(source, "encrypted");
    });
    return;
  }

  if (type === "message/rfc822" || type === "message/global") {
    const prefix = sourceIn(place.prefix, `message:${filename ?? `part${leaf.index + 1}`}`);
    if (filename) ctx.attachment(info(prefix, { filename, type, body }));
    await ctx.guard(prefix, async () => {
      if (body === null) throw new ExtractError("over-budget");
      await extractMessage(ctx, body, { prefix, depth: place.depth + 1 });
    });
    return;
  }

  if (/^application\/(x-)?pkcs7-signature$|^application\/pgp-(signature|keys)$/.test(type)) return;
  const name = filename ?? `part${leaf.index + 1}`;
  const source = sourceIn(place.prefix, `attachment:${name}`);
  if (/^application\/(x-)?pkcs7-mime$/.test(type)) {
    ctx.attachment(info(source, { filename, type, body }));
    await ctx.guard(source, async () => {
      if (body === null) throw new ExtractError("over-budget");
      if (!isSignedData(node)) throw new ExtractError("encrypted");
      const entity = signedContent(body);
      await extractMessage(ctx, entity, { prefix: source, depth: place.depth + 1 });
    });
    return;
  }
  if (type === "application/pgp-encrypted") {
    ctx.unscannable(source, "encrypted");
    return;
  }

  if (body === null) {
    ctx.attachment(info(source, { filename, type, body }));
    ctx.unscannable(source, "over-budget");
    return;
  }
  await extractFile(ctx, body, {
    source,
    filename,
    declaredType: type,
    charset: node.charset || null,
    depth: place.depth + 1,
  });
}

/** Headers whose display names a reader sees next to the addresses. */
const PEOPLE = new Set(["from", "to", "cc", "reply-to", "sender"]);
/** Free-text headers some clients show (RFC 5322 section 3.6.5). */
const FREE_TEXT = new Set(["comments", "keywords"]);

/**
 * What a reader sees of the headers besides the subject: display names ("Jordan Example SSN
 * …" <x@y>) and free-text fields. Addresses themselves are left out — every message has them,
 * and they say nothing about health on their own.
 */
function shownHeaderText(headers: { name: string; value: string }[]): string {
  const out: string[] = [];
  for (const h of headers) {
    const name = h.name.toLowerCase();
    if (FREE_TEXT.has(name)) out.push(h.value);
    if (!PEOPLE.has(name)) continue;
    const names = h.value
      .replace(/<[^<>]*>/g, ",")
      .split(",")
      .map((part) => part.replace(/["\\]/g, " ").trim())
      .filter((part) => part !== "" && !/^[^\s@]+@[^\s@]+$/.test(part));
    out.push(...names);
  }
  return out.join("\n");
}
