import type { Confidence } from "../types.js";
import { ContextWords } from "./context.js";
import { fold } from "./words.js";
import { push } from "./ids.js";
import { forEachCell, type Detector, type DetectorMatch, type SegmentView } from "./types.js";

/**
 * Patients' names. A capitalised pair of words is everywhere (staff, places, products), so a
 * name only counts where the text marks it as a patient's: a label ("Patient:", "Member:",
 * "Claimant:"), a salutation to the person, an honorific, a date of birth right after it, or a
 * table column headed "patient" or "first name". Clinicians ("Dr. …", "…, MD") are not patients.
 */

const TOKEN = "(?:\\p{Lu}[\\p{Ll}'’]+(?:-\\p{Lu}\\p{Ll}+)?|\\p{Lu}{2,}(?:[-'’]\\p{Lu}+)?)";
const NAME = `(?:${TOKEN},[^\\S\\n]+${TOKEN}(?:[^\\S\\n]+\\p{Lu}\\.?(?!\\p{L}))?|${TOKEN}(?:[^\\S\\n]+(?:${TOKEN}|\\p{Lu}\\.)){1,3})`;
const NAME_AT = new RegExp(`[\\s:,\\-–]*(${NAME})`, "uy");
/** A name right before a birth word: "Olufemi Whitaker, born …", "Ashby, Tamar - DOB …". */
const NAME_BEFORE_DOB = new RegExp(`(?<![\\p{L}.])(${NAME})[^\\S\\n]*[,(–-]?[^\\S\\n]*$`, "u");
/** A label and a name run together, as PDF and table text often is: "Patient Jane Roe MRN …". */
const NAME_THEN_ID = new RegExp(
  `^[^\\S\\n]+(${TOKEN}(?:[^\\S\\n]+${TOKEN}){1,2}?)[^\\S\\n]+(?:MRN|DOB|D\\.O\\.B|Member ID|ID|Date of birth|Sex|Age|Acct)(?![\\p{L}])`,
  "u",
);
/** After "Dear", "Hi" or "Hello": a full name and the greeting's punctuation. */
const GREETED = new RegExp(`[^\\S\\n]+(${NAME})[^\\S\\n]*[,:!]`, "uy");
/** After "Mr", "Mrs", "Ms", "Sra" …: an optional dot and one to three name words. */
const HONOURED = new RegExp(`\\.?[^\\S\\n]+(${TOKEN}(?:[^\\S\\n]+${TOKEN}){0,2})`, "uy");

/**
 * Labels count only when something separates them from the name ("Patient: …", "Member,
 * …", a table cell) or when they are a phrase about the person ("my patient …"), so that
 * "Patient Access Representative" or "New Patient Intake Form" name nobody.
 */
const PHRASE_LABELS = new Set([
  "my patient",
  "our patient",
  "mutual patient",
  "shared patient",
  "your patient",
  "the patient",
  "my mother",
  "my father",
  "my son",
  "my daughter",
  "my wife",
  "my husband",
]);
const LABEL_SEPARATOR = /^[^\S\n]*(?:[:\t,–]|-\s|\n)/;

const NAME_HEADERS = new ContextWords([
  "patient",
  "patient name",
  "name",
  "first name",
  "last name",
  "given name",
  "surname",
  "family name",
  "member name",
  "full name",
  "first",
  "last",
  "fname",
  "lname",
]);

const CLINICIAN_AFTER =
  /^,?\s*(?:MD|M\.D\.|DO|RN|NP|PA|PA-C|PhD|PsyD|LCSW|DPM|CPC|FNP|APRN|DDS|PharmD|RPh|LPN|MSW)\b/;
const CLINICIAN_BEFORE =
  /(?:\bDr\.?|\bDoctor|\bProvider:?|\bPhysician:?|\bReferring:?|\bPrescriber:?)\s*$/i;

/** Capitalised words that begin or fill labels and sentences, never a name. */
const NOT_NAMES = new Set(
  `the this that these those please thank thanks dear hi hello date birth address phone sex
  gender signature department provider insurance plan group policy number name patient member
  unknown none information first last middle city state zip email fax cell home work sent from
  to subject re fw fwd monday tuesday wednesday thursday friday saturday sunday january february
  march april may june july august september october november december primary secondary
  medicare medicaid health care center clinic hospital medical family all team staff everyone
  confidential notice emergency contact yes no male female id mrn dob ssn age result results
  today tomorrow yesterday our your my his her their new see attached report summary form
  intake representative access portal office services line quality meeting schedule accounts
  receivable payable billing support sales customer service desk committee inc llc corp company`.split(
    /\s+/,
  ),
);

function plausibleName(name: string): boolean {
  const tokens = name.split(/[\s,]+/).filter((t) => t.length > 1);
  if (tokens.length === 0) return false;
  return tokens.every((t) => !NOT_NAMES.has(t.toLowerCase().replace(/[.'’]/g, "")));
}

function isClinician(text: string, start: number, end: number): boolean {
  return (
    CLINICIAN_BEFORE.test(text.slice(Math.max(0, start - 12), start)) ||
    CLINICIAN_AFTER.test(text.slice(end, end + 8))
  );
}

function nameKey(name: string): string {
  const tokens = name
    .toLowerCase()
    .split(/[\s,]+/)
    .filter((t) => t.length > 1);
  return tokens.sort().join(" ");
}

/**
 * Words near a name that make it a patient's: identifiers, or the person's own care addressed
 * to them ("your appointment", "your results"), which a newsletter's greeting does not have.
 */
const PATIENT_NEAR = new ContextWords([
  "patient",
  "dob",
  "date of birth",
  "mrn",
  "member id",
  "diagnosis",
  "your appointment",
  "your visit",
  "your results",
  "your test results",
  "your lab results",
  "your medication",
  "your medications",
  "your prescription",
  "your diagnosis",
  "your procedure",
  "your surgery",
  "your biopsy",
  "your scan",
  "your treatment",
  "your infusion",
  "your referral",
]);

export const patientNameDetector: Detector = {
  name: "patient-name",
  strength: 2,
  keyOf: (value) => nameKey(value),
  detect(view, out) {
    const text = view.text;
    const found = (start: number, name: string, confidence: Confidence): void => {
      const end = start + name.length;
      if (!plausibleName(name) || isClinician(text, start, end)) return;
      const near = PATIENT_NEAR.test(
        view.lower,
        Math.max(0, start - 60),
        Math.min(text.length, end + 120),
      );
      const c = near && confidence === "medium" ? "high" : confidence;
      push(out, view, { start, end, confidence: c, key: nameKey(name) }, "patient-name");
    };

    for (const kind of ["label:patient", "label:name"]) {
      for (const hit of view.words(kind)) {
        const labelEnd = hit.end;
        if (
          !PHRASE_LABELS.has(hit.term) &&
          !LABEL_SEPARATOR.test(text.slice(labelEnd, labelEnd + 4))
        ) {
          const joined = NAME_THEN_ID.exec(text.slice(labelEnd, labelEnd + 80));
          if (joined?.[1] !== undefined)
            found(labelEnd + joined[0].indexOf(joined[1]), joined[1], "high");
          continue;
        }
        NAME_AT.lastIndex = labelEnd;
        const n = NAME_AT.exec(text);
        if (n === null || n[1] === undefined) continue;
        if (n[0].slice(0, n[0].length - n[1].length).includes("\n\n")) continue;
        const start = NAME_AT.lastIndex - n[1].length;
        found(start, n[1], kind === "label:patient" ? "high" : "medium");
      }
    }
    for (const hit of view.words("dob-context")) {
      const from = Math.max(0, hit.start - 60);
      const m = NAME_BEFORE_DOB.exec(text.slice(from, hit.start));
      if (m?.[1] !== undefined) found(from + m.index, m[1], "high");
    }
    for (const [kind, re] of [
      ["greeting", GREETED],
      ["honorific", HONOURED],
    ] as const) {
      for (const hit of view.words(kind)) {
        if (!/\p{Lu}/u.test(text[hit.start] ?? "")) continue;
        re.lastIndex = hit.end;
        const m = re.exec(text);
        if (m?.[1] !== undefined)
          found(re.lastIndex - m[0].length + m[0].indexOf(m[1]), m[1], "medium");
      }
    }
    tableNames(view, out);
  },
};

const CELL_NAME = new RegExp(`^(?:${NAME}|${TOKEN})$`, "u");

function tableNames(view: SegmentView, out: DetectorMatch[]): void {
  if (view.segment.table === undefined) return;
  const columns = new Set<number>();
  forEachCell(view, (cell) => {
    const value = view.text.slice(cell.start, cell.end).trim();
    if (cell.row < view.headerRow) return;
    if (cell.row === view.headerRow) {
      if (
        NAME_HEADERS.test(fold(value).replace(/[_.]+/g, " ")) &&
        !/physician|provider|doctor|staff/i.test(value)
      ) {
        columns.add(cell.col);
      }
      return;
    }
    if (!columns.has(cell.col) || !CELL_NAME.test(value) || !plausibleName(value)) return;
    const start = cell.start + view.text.slice(cell.start, cell.end).indexOf(value);
    const found = {
      start,
      end: start + value.length,
      confidence: "high" as const,
      key: nameKey(value),
    };
    push(out, view, found, "patient-name");
  });
}
