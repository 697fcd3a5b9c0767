import type { SegmentView } from "./types.js";
import { WordTrie } from "./words.js";

/**
 * Context words: whole words or phrases near a candidate that make it more (or less) likely to
 * be what its shape says. Matching is on lower-cased text and whole words only, so "ssn" does
 * not match inside "lessons" while "SSN#" and "SS#" still count.
 */
export class ContextWords {
  readonly #trie = new WordTrie();

  constructor(words: readonly string[]) {
    this.#trie.addAll(words, "context");
  }

  /** True when lowerText[from, to) holds one of the words. */
  test(lowerText: string, from = 0, to = lowerText.length): boolean {
    return this.#trie.test(lowerText, from, to);
  }

  /** End offset of the last occurrence within lowerText[from, to), or -1. */
  lastEnd(lowerText: string, from = 0, to = lowerText.length): number {
    return this.#trie.lastEnd(lowerText, from, to);
  }
}

/** Default distance in characters, either side, at which a context word still counts. */
export const DEFAULT_PROXIMITY = 60;

/**
 * True when a context word stands within `proximity` characters of [start, end), or in the
 * header cell of the candidate's table column (a header lends context to its whole column).
 */
export function hasContext(
  view: SegmentView,
  span: { start: number; end: number },
  options: { words: ContextWords; proximity?: number },
): boolean {
  const proximity = options.proximity ?? DEFAULT_PROXIMITY;
  let from = Math.max(0, span.start - proximity);
  let to = Math.min(view.text.length, span.end + proximity);
  if (view.segment.table !== undefined) {
    // In a table the context is the cell's own row and its column header, not other rows.
    from = Math.max(from, view.text.lastIndexOf("\n", span.start) + 1);
    const eol = view.text.indexOf("\n", span.end);
    to = Math.min(to, eol === -1 ? view.text.length : eol);
  }
  if (options.words.test(view.lower, from, to)) return true;
  const header = view.headerAt(span.start);
  return header !== undefined && options.words.test(header);
}

/** The text on the same line before `start`, at most `limit` characters, lower-cased. */
export function lineBefore(view: SegmentView, start: number, limit = 40): string {
  const from = Math.max(0, start - limit);
  const before = view.lower.slice(from, start);
  const nl = Math.max(before.lastIndexOf("\n"), before.lastIndexOf("\t"));
  return nl === -1 ? before : before.slice(nl + 1);
}

/**
 * Words that label a number as something other than a personal identifier: order, invoice and
 * tracking numbers, phone numbers, tickets, SKUs and the like.
 */
export const OTHER_ROLES = new ContextWords([
  "order",
  "order no",
  "order number",
  "order #",
  "tracking",
  "track",
  "invoice",
  "inv",
  "po",
  "p.o.",
  "purchase order",
  "quote",
  "ticket",
  "case",
  "ref",
  "reference",
  "confirmation",
  "conf",
  "item",
  "sku",
  "part",
  "serial",
  "lot",
  "batch",
  "shipment",
  "package",
  "pro",
  "transaction",
  "txn",
  "receipt",
  "employee id",
  "employee",
  "badge",
  "permit",
  "version",
  "build",
  "phone",
  "tel",
  "fax",
  "pager",
  "ext",
  "cell",
  "mobile",
  "call",
  "dial-in",
  "access code",
  "meeting id",
  "passcode",
  "pin",
  "usps",
  "ups",
  "fedex",
  "waybill",
  "check",
  "cheque",
  "remit",
  "vendor",
  "supplier",
  "customer",
  "store",
  "rma",
  "accession",
  "job",
]);

/**
 * True when the nearest label before a number on its line (or its column header) names another
 * role, and no identifier context stands closer to the number.
 */
export function inOtherRole(
  view: SegmentView,
  start: number,
  options: { context?: ContextWords; roles?: ContextWords },
): boolean {
  const roles = options.roles ?? OTHER_ROLES;
  const before = lineBefore(view, start);
  const roleEnd = roles.lastEnd(before);
  const header = view.headerAt(start);
  const headerIsRole = header !== undefined && roles.test(header);
  const contextEnd = options.context?.lastEnd(before) ?? -1;
  const headerIsContext = header !== undefined && (options.context?.test(header) ?? false);
  if (roleEnd > contextEnd) return true;
  return headerIsRole && !headerIsContext && contextEnd === -1;
}

/**
 * True when a run of digits continues past the match: another digit, or a separator followed
 * by a digit, on either side ("7712 3456 7890", "1,204,567", "12.5", "2024-11-13T...").
 */
export function digitsContinue(text: string, start: number, end: number): boolean {
  return continuesBefore(text, start) || continuesAfter(text, end);
}

/**
 * digitsContinue, except that a context word glued to the front of the number is its label,
 * not part of it ("SSN512-44-1234", "NPI1234567893").
 */
export function digitsContinueUnlabelled(
  view: SegmentView,
  span: { start: number; end: number },
  words: ContextWords,
): boolean {
  const { start, end } = span;
  if (continuesAfter(view.text, end)) return true;
  if (!continuesBefore(view.text, start)) return false;
  if (isDigit(view.text.charCodeAt(start - 1))) return true;
  return words.lastEnd(view.lower, Math.max(0, start - 30), start) !== start;
}

function continuesBefore(text: string, start: number): boolean {
  const before = text.charCodeAt(start - 1);
  return isAlnum(before) || (isJoiner(before) && isDigit(text.charCodeAt(start - 2)));
}

function continuesAfter(text: string, end: number): boolean {
  const after = text.charCodeAt(end);
  return isAlnum(after) || (isJoiner(after) && isDigit(text.charCodeAt(end + 1)));
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAlnum(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Characters that join digit groups into one number: - . , / : and a single space. */
function isJoiner(c: number): boolean {
  return c === 45 || c === 46 || c === 44 || c === 47 || c === 58 || c === 32;
}

/** True when a number ending at `end` goes on: a digit, or a joiner and a digit. */
export function digitsContinueAfter(text: string, end: number): boolean {
  const after = text.charCodeAt(end);
  return isDigit(after) || (isJoiner(after) && after !== 32 && isDigit(text.charCodeAt(end + 1)));
}
