import { Parser } from "htmlparser2";
import { flatHtmlToText, nestingDepth } from "./html-flat.js";

/**
 * HTML rendered to the text a reader would see, and more: hidden elements (display:none,
 * visibility:hidden, `hidden`, zero font size or opacity) are kept because a hidden value is
 * still sent, but apart: after the visible text, so that junk hidden inside a value
 * (`512<span style="display:none">0</span>-44-1234`) does not break what a reader sees. Script
 * and style are dropped. Inline tags and comments add nothing, so `123-<b>45</b>-6789` stays one value;
 * block elements become line breaks and table cells tabs, so values in neighbouring cells
 * never merge. Entities are decoded by the parser.
 */

// prettier-ignore
const BLOCK = new Set([
  "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
  "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
  "h3", "h4", "h5", "h6", "head", "header", "hr", "html", "legend", "li", "main", "menu", "nav",
  "ol", "option", "p", "pre", "section", "select", "summary", "table", "tbody", "tfoot",
  "thead", "title", "tr", "ul",
]);

const SKIP = new Set(["script", "style", "object", "embed", "applet"]);

const CELL = new Set(["td", "th"]);

/** Line breaks and tabs in HTML source are spaces on screen (outside pre and textarea). */
const SOURCE_BREAK = /[\t\n\r\f]/;
const SOURCE_BREAKS = /[\t\n\r\f]+/g;
const BLANK = /^[ \t\n\r\f]*$/;

/** Attributes whose value a reader may see (form values, image alternatives). */
const SHOWN_ATTRS = ["alt", "value", "placeholder", "title"] as const;

/** Deeper than this, markup is read by the flat pass (html-flat.ts), not the tree parser. */
const MAX_NESTING = 1000;

/** Inline styles that hide an element from a reader. */
const HIDING =
  /(?:^|[;\s])(?:display\s*:\s*none|visibility\s*:\s*hidden|(?:font-size|opacity|max-height|height)\s*:\s*0(?:\.0*)?(?:px|pt|em|rem|%)?\s*(?:!important\s*)?(?:;|$))/i;

function hides(attribs: Record<string, string>): boolean {
  return attribs["hidden"] !== undefined || HIDING.test(attribs["style"] ?? "");
}

export function htmlToText(html: string): string {
  if (nestingDepth(html, MAX_NESTING) > MAX_NESTING) return flatHtmlToText(html);
  const shown: string[] = [];
  const hiddenText: string[] = [];
  let out = shown;
  const hiding: boolean[] = [];
  let hidden = 0;
  let skip = 0;
  let pre = 0;
  // One line break per block boundary, however many block tags open or close there.
  const brk = (): void => {
    if (out[out.length - 1] === " ") out.pop();
    if (out[out.length - 1] !== "\n") out.push("\n");
  };

  const parser = new Parser(
    {
      onopentag(name, attribs) {
        const hide = hides(attribs);
        hiding.push(hide);
        if (hide && hidden++ === 0) {
          out = hiddenText;
          brk();
        }
        if (SKIP.has(name)) {
          skip++;
          return;
        }
        if (skip > 0) return;
        if (name === "br") out.push("\n");
        else if (CELL.has(name)) out.push("\t");
        else if (BLOCK.has(name)) brk();
        if (name === "pre" || name === "textarea") pre++;
        for (const a of SHOWN_ATTRS) {
          const v = attribs[a];
          if (v) out.push(" ", v, " ");
        }
      },
      ontext(text) {
        if (skip > 0) return;
        if (pre > 0) out.push(text);
        else if (BLANK.test(text)) {
          // Indentation between tags: one space at most, none right after a line break.
          const last = out[out.length - 1];
          if (last !== undefined && last !== "\n" && last !== " ") out.push(" ");
        } else out.push(SOURCE_BREAK.test(text) ? text.replace(SOURCE_BREAKS, " ") : text);
      },
      onclosetag(name) {
        const hid = hiding.pop() === true;
        if (SKIP.has(name)) {
          if (skip > 0) skip--;
        } else if (skip === 0) {
          if (name === "pre" || name === "textarea") pre = Math.max(0, pre - 1);
          if (CELL.has(name)) out.push("\t");
          else if (BLOCK.has(name)) brk();
        }
        if (hid && --hidden === 0) out = shown;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  // A break right after a digit and a dash continues the number on the next line, as a
  // reader reads "512-44-<br>1234".
  const visible = shown.join("").replace(/(\d-)\n(?=\d)/g, "$1");
  return hiddenText.length === 0 ? visible : `${visible}\n\n${hiddenText.join("")}`;
}
