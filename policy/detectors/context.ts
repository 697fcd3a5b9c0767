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
  const label = view.headerAt(span.start) ?? view.labelAbove(span.start);
  return label !== undefined && options.words.test(label);
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
export const OTHER_ROLE_WORDS = [
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
  "catalog",
  "catalogue",
  "cat",
  "account",
  "acct",
  "model",
  "mfr",
  "release",
  "rev",
  "revision",
  "tin",
  "ein",
  "fein",
  "tax id",
  "federal tax id",
  "taxpayer id",
  "employer id",
  "employer identification",
  "routing",
];

export const OTHER_ROLES = new ContextWords(OTHER_ROLE_WORDS);

/**
 * "Catalog no.", "Model #", "Lot number": a word and a number word just before the value name
 * its role. Words that say nothing of the role ("ID no.", "your number") are not labels here.
 */
const LABEL_TAIL =
  /(?:^|[^a-z])([a-z][a-z'-]*)\.?[^\S\n]*(?:no\.?|#|number|num|nbr)[^\S\n]*[:.#=-]?[^\S\n]*$/;
const NO_ROLE = new Set([
  "id",
  "identification",
  "your",
  "my",
  "his",
  "her",
  "their",
  "our",
  "the",
  "a",
  "this",
  "that",
  "same",
  "new",
  "old",
  "phone",
]);

/** End of a "<word> no." label at the end of `before` whose word is no context word, or -1. */
function labelTailEnd(before: string, context: ContextWords | undefined): number {
  const m = LABEL_TAIL.exec(before);
  const word = m?.[1];
  if (m === null || word === undefined || NO_ROLE.has(word)) return -1;
  const wordEnd = m.index + m[0].indexOf(word) + word.length;
  return (context?.lastEnd(before) ?? -1) >= wordEnd ? -1 : before.length;
}

/** True when a label above the value (see SegmentView.labelAbove) names another role. */
function labelAboveIsRole(
  view: SegmentView,
  start: number,
  options: { context?: ContextWords | undefined; roles: ContextWords },
): boolean {
  const above = view.labelAbove(start);
  if (above === undefined || options.context?.test(above) === true) return false;
  // A whole sentence above is no label; a short line, or one ending in ":" or "#", is.
  if (!/[:#]$/.test(above) && above.length > 30) return false;
  return options.roles.test(above) || labelTailEnd(above, options.context) !== -1;
}

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
  if (Math.max(roleEnd, labelTailEnd(before, options.context)) > contextEnd) return true;
  if (headerIsRole && !headerIsContext && contextEnd === -1) return true;
  return contextEnd === -1 && labelAboveIsRole(view, start, { context: options.context, roles });
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
