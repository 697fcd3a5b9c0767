import { decodeHTML } from "entities";

/**
 * A flat HTML-to-text pass for markup nested so deep that a tree-building parser would spend
 * quadratic time on its element stack (htmlparser2 shifts and searches it per tag): a hostile
 * body of a few megabytes of `<div>` must not stall the gateway. Tags are dropped, block tags
 * become line breaks and cells tabs, script and style are skipped, entities decoded. Every step
 * moves forward through the input, so the pass is linear.
 */

/** Elements HTML closes implicitly or that never have content: they do not deepen the tree. */
// prettier-ignore
const FLAT = new Set([
  "area", "base", "br", "col", "dd", "dt", "embed", "hr", "img", "input", "li", "link", "meta",
  "option", "p", "param", "source", "td", "th", "tr", "track", "wbr",
]);

// prettier-ignore
const BLOCKS = /^(?:address|article|aside|blockquote|body|br|caption|center|dd|details|div|dl|dt|fieldset|figcaption|figure|footer|form|h[1-6]|header|hr|html|li|main|nav|ol|p|pre|section|table|tbody|tfoot|thead|title|tr|ul)$/;

const TAG = /<(\/?)([a-zA-Z][\w:-]*)[^<>]*>/g;

/** How deep open tags nest, counted up to `limit` (then the count stops). */
export function nestingDepth(html: string, limit: number): number {
  let depth = 0;
  let max = 0;
  TAG.lastIndex = 0;
  for (let m = TAG.exec(html); m; m = TAG.exec(html)) {
    const name = (m[2] ?? "").toLowerCase();
    if (FLAT.has(name) || m[0].endsWith("/>")) continue;
    if (m[1] === "/") depth = Math.max(0, depth - 1);
    else {
      depth++;
      max = Math.max(max, depth);
      if (max > limit) return max;
    }
  }
  return max;
}

function text(raw: string): string {
  return decodeHTML(raw.replace(/[\t\n\r\f]+/g, " "));
}

export function flatHtmlToText(html: string): string {
  const out: string[] = [];
  const rawEnd = /<\/(script|style)\s*>/gi;
  let i = 0;

  while (i < html.length) {
    const lt = html.indexOf("<", i);
    if (lt < 0) {
      out.push(text(html.slice(i)));
      break;
    }
    if (lt > i) out.push(text(html.slice(i, lt)));
    if (html.startsWith("<!--", lt)) {
      const end = html.indexOf("-->", lt + 4);
      i = end < 0 ? html.length : end + 3;
      continue;
    }
    const gt = html.indexOf(">", lt + 1);
    if (gt < 0) {
      // No tag closes after this point: the rest is text as a browser would show it.
      out.push(text(html.slice(lt)));
      break;
    }
    const name = /^<\/?([a-zA-Z][\w:-]*)/.exec(html.slice(lt, Math.min(gt, lt + 64)))?.[1];
    i = gt + 1;
    if (!name) {
      out.push(text(html.slice(lt, i)));
      continue;
    }
    const lower = name.toLowerCase();
    const closing = html[lt + 1] === "/";
    if (!closing && (lower === "script" || lower === "style")) {
      rawEnd.lastIndex = i;
      const end = rawEnd.exec(html);
      i = end ? end.index + end[0].length : html.length;
    } else if (lower === "td" || lower === "th") out.push("\t");
    else if (BLOCKS.test(lower)) out.push("\n");
  }
  return out.join("");
}
