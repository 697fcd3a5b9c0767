import type { Confidence } from "../types.js";
import { ContextWords, hasContext, inOtherRole, lineBefore } from "./context.js";
import { push } from "./ids.js";
import { forEachCell, type Detector, type SegmentView } from "./types.js";

/**
 * Who a message is about: dates of birth (a date only counts with birth context), patients'
 * names (a name only counts where something marks it as a patient's), and contact details.
 */

const DOB_CONTEXT = new ContextWords([
  "dob",
  "d.o.b",
  "d.o.b.",
  "date of birth",
  "birth date",
  "birthdate",
  "born",
  "birthday",
  "fecha de nacimiento",
  "date of birth/age",
  "birth",
]);
const MONTHS =
  "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|" +
  "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";
const DATE_RE = new RegExp(
  `(?<![\\d/.-])(?:(\\d{1,2})([/.-])(\\d{1,2})\\2(\\d{4}|\\d{2})|(\\d{4})-(\\d{2})-(\\d{2})` +
    `|(${MONTHS})\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})` +
    `|(\\d{1,2})\\s+(${MONTHS})\\.?,?\\s+(\\d{4}))(?![\\d/.-]\\d|\\d|t\\d)`,
  "g",
);
const MONTH_INDEX = [
  "jan",
  "feb",
  "mar",
  "apr",
  "may",
  "jun",
  "jul",
  "aug",
  "sep",
  "oct",
  "nov",
  "dec",
];
const THIS_YEAR = new Date().getUTCFullYear();

/** Year, month and day of a DATE_RE match, or undefined when it is no calendar date. */
function parseDate(m: RegExpMatchArray): string | undefined {
  let y: number;
  let mo: number;
  let d: number;
  if (m[1] !== undefined) {
    mo = Number(m[1]);
    d = Number(m[3]);
    y = Number(m[4]);
    if ((m[4] ?? "").length === 2) y += y > THIS_YEAR % 100 ? 1900 : 2000;
  } else if (m[5] !== undefined) {
    y = Number(m[5]);
    mo = Number(m[6]);
    d = Number(m[7]);
  } else if (m[8] !== undefined) {
    mo = MONTH_INDEX.indexOf((m[8] ?? "").slice(0, 3)) + 1;
    d = Number(m[9]);
    y = Number(m[10]);
  } else {
    mo = MONTH_INDEX.indexOf((m[12] ?? "").slice(0, 3)) + 1;
    d = Number(m[11]);
    y = Number(m[13]);
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || y < 1900 || y > THIS_YEAR) return undefined;
  return `${y}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

/**
 * True when the text between a birth word and a date leaves the field: a blank to fill in
 * ("DOB: ________ Today's date: 11/02/2025") or another label ending in ":".
 */
function passesField(between: string): boolean {
  if (/_{2,}|\.{4,}/.test(between)) return true;
  const rest = between.replace(/\([^)]*\)/g, "").replace(/^[^\p{L}]*/u, "");
  return /\p{L}{2,}[^:\n]*:/u.test(rest) && !/^(?:on|is|was|of|date)\s*:/.test(rest);
}

/**
 * Dates of birth: only a date within a few characters after a birth word ("DOB", "born",
 * "date of birth"), or in a column headed so. The scan starts from the birth words, so text
 * without them costs nothing here.
 */
export const dobDetector: Detector = {
  name: "dob",
  strength: 2,
  keyOf(value) {
    DATE_RE.lastIndex = 0;
    const m = DATE_RE.exec(value.trim().toLowerCase());
    return m === null || m[0].length !== value.trim().length ? undefined : parseDate(m);
  },
  detect(view, out) {
    let lastEnd = -1;
    for (const hit of view.words("dob-context")) {
      if (hit.end <= lastEnd) continue;
      DATE_RE.lastIndex = 0;
      const m = DATE_RE.exec(view.lower.slice(hit.end, hit.end + 60));
      if (m === null || m.index > 30) continue;
      const between = m.input?.slice(0, m.index) ?? "";
      if (/\d/.test(between) || (view.segment.table !== undefined && between.includes("\n")))
        continue;
      if (passesField(between)) continue;
      const key = parseDate(m);
      const start = hit.end + m.index;
      lastEnd = start + m[0].length;
      if (key !== undefined)
        push(out, view, { start, end: lastEnd, confidence: "high", key }, this.name);
    }
    if (view.segment.table === undefined) return;
    const columns = new Set<number>();
    forEachCell(view, (cell) => {
      const value = view.lower.slice(cell.start, cell.end);
      if (cell.row < view.headerRow) return;
      if (cell.row === view.headerRow) {
        if (DOB_CONTEXT.test(value.replace(/[_.]+/g, " "))) columns.add(cell.col);
        return;
      }
      if (!columns.has(cell.col)) return;
      DATE_RE.lastIndex = 0;
      const m = DATE_RE.exec(value);
      const key = m === null ? undefined : parseDate(m);
      if (m === null || key === undefined) return;
      const start = cell.start + m.index;
      push(out, view, { start, end: start + m[0].length, confidence: "high", key }, this.name);
    });
  },
};

/**
 * Contact details are everywhere (signatures, vendors); they rise above low only where the
 * text ties them to a person: "patient contact", "reach me at", "home", a column of a people
 * table, an e-mail header of a forwarded message.
 */
const PERSONAL_CONTACT = new ContextWords([
  "patient",
  "patient contact",
  "home",
  "home phone",
  "cell",
  "my cell",
  "mobile",
  "reach me",
  "call me",
  "you can reach",
  "best number",
  "my number",
  "emergency contact",
  "daughter",
  "son",
  "wife",
  "husband",
  "mother",
  "father",
  "guardian",
  "caregiver",
  "lives",
  "resides",
  "residence",
  "home address",
  "dob",
  "d.o.b",
  "date of birth",
  "born",
  "claimant",
  "member",
]);
/** In a table of people, these headers make a column personal. */
const PERSONAL_HEADERS = new ContextWords([
  "phone",
  "email",
  "e-mail",
  "address",
  "street",
  "home",
  "cell",
  "mobile",
  "contact",
]);
const BUSINESS_CONTACT = new ContextWords([
  "main",
  "fax",
  "office",
  "ext",
  "desk",
  "line",
  "toll-free",
  "toll free",
  "dial-in",
  "pager",
  "ap",
  "rep",
  "support",
  "help desk",
  "it",
  "billing",
  "remit",
  "vendor",
  "ship to",
  "returns",
  "questions",
  "center",
  "centre",
  "medicine",
  "clinic",
  "hospital",
  "pharmacy",
  "laboratories",
  "imaging",
  "llc",
  "inc",
  "po box",
  "suite",
  "department",
  "services",
]);

/** low, or medium/high when the contact detail is tied to a person (see PERSONAL_CONTACT). */
function contactConfidence(view: SegmentView, start: number, end: number): Confidence {
  const header = view.headerAt(start);
  if (header !== undefined) return PERSONAL_HEADERS.test(header) ? "high" : "low";
  const before = lineBefore(view, start, 30);
  if (BUSINESS_CONTACT.lastEnd(before) > PERSONAL_CONTACT.lastEnd(before)) return "low";
  return hasContext(view, { start, end }, { words: PERSONAL_CONTACT, proximity: 40 })
    ? "medium"
    : "low";
}
// Separators are spaces, dots or dashes, never a tab or line break: in a table those split cells.
const PHONE_RE =
  /(?<![\d-])(?:\+?1[ .-]?)?(?:\(([2-9]\d\d)\) ?|([2-9]\d\d)[ .-])([2-9]\d\d)[ .-](\d{4})(?![\d-])/g;

export const phoneDetector: Detector = {
  name: "phone",
  strength: 2,
  keyOf(value) {
    const digits = value.replace(/\D/g, "");
    return digits.length === 11 && digits.startsWith("1") ? digits.slice(1) : digits;
  },
  detect(view, out) {
    for (const m of view.text.matchAll(PHONE_RE)) {
      const start = m.index;
      const end = start + m[0].length;
      const key = `${m[1] ?? m[2]}${m[3]}${m[4]}`;
      push(
        out,
        view,
        { start, end, confidence: contactConfidence(view, start, end), key },
        this.name,
      );
    }
  },
};

const EMAIL_AROUND =
  /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![\w-])/y;

/** E-mail addresses, found from each "@" so that text without one costs a single indexOf. */
export const emailDetector: Detector = {
  name: "email",
  strength: 2,
  detect(view, out) {
    const text = view.text;
    let lastEnd = 0;
    for (let at = text.indexOf("@"); at !== -1; at = text.indexOf("@", at + 1)) {
      let start = at;
      while (start > lastEnd && start > at - 64 && /[A-Za-z0-9._%+-]/.test(text[start - 1] ?? ""))
        start--;
      if (start === at) continue;
      EMAIL_AROUND.lastIndex = start;
      const m = EMAIL_AROUND.exec(text);
      if (m === null) continue;
      const end = start + m[0].length;
      lastEnd = end;
      const confidence = contactConfidence(view, start, end);
      push(out, view, { start, end, confidence, key: m[0].toLowerCase() }, this.name);
    }
  },
};

const STREET_TYPES =
  "St|Street|Ave|Avenue|Rd|Road|Dr|Drive|Ln|Lane|Blvd|Boulevard|Ct|Court|Way|Ter|Terrace|Pl|" +
  "Place|Pkwy|Parkway|Cir|Circle|Hwy|Highway|Trl|Trail|Sq|Square|Loop|Row|Run|Pike";
const ADDRESS_RE = new RegExp(
  `(?<![\\w-])\\d{1,6} +(?:[NSEW]\\.? +)?(?:[A-Z][A-Za-z'-]+ +){1,3}(?:${STREET_TYPES})\\b\\.?` +
    `(?:,?\\s+(?:Apt|Unit|Suite|Ste|#)\\.?\\s*[A-Za-z0-9-]+)?` +
    `(?:,\\s+[A-Z][A-Za-z .'-]{1,30},\\s+[A-Z]{2}\\s+\\d{5}(?:-\\d{4})?)?`,
  "g",
);

export const addressDetector: Detector = {
  name: "street-address",
  strength: 2,
  detect(view, out) {
    for (const m of view.text.matchAll(ADDRESS_RE)) {
      const start = m.index;
      const end = start + m[0].length;
      if (inOtherRole(view, start, {})) continue;
      const key = m[0].toLowerCase().replace(/\s+/g, " ");
      push(
        out,
        view,
        { start, end, confidence: contactConfidence(view, start, end), key },
        this.name,
      );
    }
  },
};
