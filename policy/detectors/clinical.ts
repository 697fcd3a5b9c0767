import { isIcd10Category } from "../dictionaries/icd10-categories.js";
import type { Confidence } from "../types.js";
import {
  ContextWords,
  OTHER_ROLE_WORDS,
  digitsContinueAfter,
  hasContext,
  inOtherRole,
} from "./context.js";
import { push } from "./ids.js";
import type { Detector, DetectorMatch, SegmentView } from "./types.js";
import { WordTrie } from "./words.js";

/**
 * Health information: diagnosis and procedure codes, drugs, clinical words and lab values.
 * A code shape alone is weak (SKUs and ZIP codes share it): ICD-10 needs a listed category,
 * and both ICD-10 and CPT need context to count.
 */

const ICD_CONTEXT = new ContextWords([
  "icd",
  "icd-10",
  "icd10",
  "icd-10-cm",
  "dx",
  "diagnosis",
  "diagnoses",
  "diagnosed",
  "problem list",
  "assessment",
  "indication",
  "impression",
  "primary dx",
  "secondary dx",
  "working diagnoses",
  "diagnosis code",
  "diagnosis codes",
]);
const ICD_RE =
  /(?<![A-Za-z0-9.\-/])([A-TV-Z][0-9][0-9AB])(?:\.([0-9A-TV-Z]{1,4}))?(?![A-Za-z0-9]|[-/][A-Za-z0-9]|\.[0-9A-Za-z])/g;

export const icd10Detector: Detector = {
  name: "icd10",
  strength: 3,
  detect(view, out) {
    for (const m of view.text.matchAll(ICD_RE)) {
      const category = m[1] ?? "";
      if (!isIcd10Category(category)) continue;
      // After the dot come digits, "X" placeholders and a closing letter ("T36.0X1A"); a run
      // of letters alone ("E11.ZZZZ") is no code.
      if (m[2] !== undefined && m[2].length > 1 && !/\d/.test(m[2])) continue;
      const start = m.index;
      const end = start + m[0].length;
      const dotted = m[2] !== undefined;
      const context =
        hasContext(view, { start, end }, { words: ICD_CONTEXT, proximity: dotted ? 80 : 40 }) ||
        (dotted && ICD_DESCRIPTION.test(view.lower.slice(end, end + 60)));
      // Code shapes are everywhere ("A12"): only one that context would raise is worth the
      // look for a label that makes it a form's or a release's number.
      if (context && inOtherRole(view, start, { context: ICD_CONTEXT, roles: ICD_ROLES })) continue;
      const confidence: Confidence = context ? (dotted ? "high" : "medium") : "low";
      push(out, view, { start, end, confidence, key: m[0].toUpperCase() }, this.name);
    }
  },
};

/**
 * Words of the ICD-10-CM descriptions that follow a code ("E11.9 Type 2 diabetes mellitus …").
 * Only clinical words: "with", "use of" or "failure" follow a form number or a release as
 * readily ("form C12.1 with your manager", "Release R10.2 with fixes").
 */
const ICD_DESCRIPTION = new ContextWords([
  "unspecified",
  "disorder",
  "disease",
  "pain",
  "neoplasm",
  "syndrome",
  "encounter for",
  "fracture",
  "chronic",
  "acute",
  "diabetes",
  "hypertension",
  "infection",
  "injury",
  "heart failure",
  "renal failure",
  "without complications",
  "sprain",
  "malignant",
  "deficiency",
]);

/** Labels that make a code-shaped token a form, a release, a section or a seat. */
const ICD_ROLES = new ContextWords([
  ...OTHER_ROLE_WORDS,
  "form",
  "forms",
  "release",
  "section",
  "chapter",
  "page",
  "room",
  "figure",
  "table",
  "step",
  "exhibit",
  "appendix",
  "flight",
  "gate",
  "seat",
  "row",
  "aisle",
  "bay",
  "slot",
  "firmware",
  "driver",
]);

const CPT_CONTEXT = new ContextWords([
  "cpt",
  "cpt®",
  "hcpcs",
  "procedure code",
  "procedure codes",
  "e/m",
  "cpt code",
  "cpt codes",
  "billing code",
]);
const CPT_RE = /(?<![A-Za-z0-9$.,\-/])(\d{4}[0-9FTU]|[A-V]\d{4})(?![A-Za-z0-9]|[-/.,]\d)/g;
const STATE_BEFORE = /(?:^|[\s,])[A-Z]{2}\s+$/;

export const cptDetector: Detector = {
  name: "cpt",
  strength: 2,
  detect(view, out) {
    const text = view.text;
    for (const m of text.matchAll(CPT_RE)) {
      const start = m.index;
      const end = start + m[0].length;
      if (STATE_BEFORE.test(text.slice(Math.max(0, start - 5), start))) continue;
      const header = view.headerAt(start);
      if (header !== undefined && /zip|postal/.test(header)) continue;
      if (!hasContext(view, { start, end }, { words: CPT_CONTEXT, proximity: 80 })) continue;
      // An amount is no code, whatever stands near it ("total 14500", "$ 14500").
      if (MONEY_BEFORE.test(view.lower.slice(Math.max(0, start - 24), start))) continue;
      if (inOtherRole(view, start, { context: CPT_CONTEXT })) continue;
      const near = hasContext(view, { start, end }, { words: CPT_CONTEXT, proximity: 25 });
      push(out, view, { start, end, confidence: near ? "high" : "medium", key: m[0] }, this.name);
    }
  },
};

/** A dictionary of words and phrases matched as whole words (policy keyword lists). */
export class Dictionary {
  readonly #trie = new WordTrie();

  constructor(terms: readonly string[]) {
    this.#trie.addAll(terms, "term");
  }

  /** Calls fn for each whole-word occurrence with its span in the lower-cased text. */
  scan(lower: string, fn: (start: number, end: number, term: string) => void): void {
    for (const hit of this.#trie.scan(lower)) fn(hit.start, hit.end, hit.term);
  }
}

const DOSE_RE =
  /\d+(?:\.\d+)?\s?(?:mg|mcg|µg|g|ml|units?|iu|tabs?|tablets?|caps?|capsules?|puffs?|%)(?![a-z])/;
const DRUG_CONTEXT = new ContextWords([
  "medication",
  "medications",
  "meds",
  "rx",
  "prescribed",
  "prescription",
  "refill",
  "takes",
  "taking",
  "started",
  "dose",
  "dosage",
  "mg",
  "daily",
  "twice",
  "nightly",
  "as needed",
  "prn",
]);

/**
 * A clinical word that names an organisation or a campaign ("Cancer Center", "Oncology
 * service line", "Diabetes Month") says nothing about a person.
 */
const ORGANISATION_AFTER =
  /^[^\S\n]*(?:&[^\S\n]*\w+[^\S\n]+)?(?:center|centre|institute|clinic|hospital|society|association|foundation|department|dept|services?|program|programme|unit|line|awareness|month|week|day|committee|team|front desk|office|registry|measures)(?![a-z])/;

/** A detector over one kind of the shared vocabulary; drugs gain confidence from a dose. */
export function dictionaryDetector(name: string, kind: string, dose: boolean): Detector {
  return {
    name,
    strength: 1,
    detect(view: SegmentView, out: DetectorMatch[]) {
      for (const { start, end, term } of view.words(kind)) {
        if (!dose && ORGANISATION_AFTER.test(view.lower.slice(end, end + 24))) continue;
        let confidence: Confidence = "medium";
        if (dose) {
          const after = view.lower.slice(end, end + 40);
          if (
            DOSE_RE.test(after) ||
            hasContext(view, { start, end }, { words: DRUG_CONTEXT, proximity: 40 })
          ) {
            confidence = "high";
          }
        }
        push(out, view, { start, end, confidence, key: term }, name);
      }
    },
  };
}

export const drugDetector = dictionaryDetector("drug", "drug", true);
export const medicalTermDetector = dictionaryDetector("medical-term", "medical-term", false);

/** What may stand between a lab's name and its value: a unit in brackets, ":", "was", "from". */
const LAB_VALUE = new RegExp(
  `[^\\S\\n]*(?:\\([^)\\n]{1,20}\\))?[^\\S\\n]*(?:[:=]|(?:was|is|of|at|level|result)\\b)?[^\\S\\n]*` +
    `(?:(?:has\\s+)?(?:improved|increased|decreased|dropped|risen)\\s+from\\s+)?` +
    `[<>]?\\d+(?:\\.\\d+)?(?:/\\d+)?(?![\\d_])`,
  "y",
);
const LAB_RESULT_CONTEXT = new ContextWords([
  "result",
  "results",
  "lab",
  "labs",
  "level",
  "value",
  "critical",
]);

export const labResultDetector: Detector = {
  name: "lab-result",
  strength: 1,
  detect(view, out) {
    for (const hit of view.words("lab")) {
      if (view.lower.charCodeAt(hit.end) === 95) continue;
      LAB_VALUE.lastIndex = hit.end;
      const m = LAB_VALUE.exec(view.lower);
      if (m === null) continue;
      const start = hit.start;
      const end = hit.end + m[0].length;
      if (digitsContinueAfter(view.text, end)) continue;
      const context = hasContext(view, { start, end }, { words: LAB_RESULT_CONTEXT });
      if (!plausibleLab(view, { hit, value: m[0], context })) continue;
      const key = view.lower.slice(start, end).replace(/\s+/g, " ");
      push(out, view, { start, end, confidence: context ? "high" : "medium", key }, this.name);
    }
  },
};

/**
 * Values a lab can take, per test, so that "INR 45000" (rupees), "BP 2000" (a fuel station)
 * or "Alt 4" (a keyboard key) are not read as results. Blood pressure must read as
 * systolic/diastolic. Tests not listed take any value.
 */
const LAB_RANGES: Record<string, [number, number]> = {
  a1c: [3, 20],
  hba1c: [3, 20],
  "hemoglobin a1c": [3, 20],
  glucose: [10, 2000],
  inr: [0.5, 15],
  "pt/inr": [0.5, 15],
  potassium: [1, 10],
  sodium: [90, 200],
  creatinine: [0.1, 30],
  egfr: [1, 200],
  bun: [1, 300],
  ldl: [5, 1000],
  hdl: [5, 300],
  "ldl cholesterol": [5, 1000],
  cholesterol: [20, 1500],
  tsh: [0, 200],
  "free t4": [0, 20],
  hemoglobin: [2, 25],
  hgb: [2, 25],
  hematocrit: [5, 75],
  alt: [1, 10000],
  ast: [1, 10000],
  calcium: [2, 20],
  magnesium: [0.3, 10],
  spo2: [40, 100],
  "oxygen saturation": [40, 100],
  "phq-9": [0, 27],
  "gad-7": [0, 21],
};
const BLOOD_PRESSURE = new Set(["bp", "blood pressure"]);
/** Short names that are also currencies, keys or brands, written in capitals when they are labs. */
const AMBIGUOUS_LABS = new Set([
  "inr",
  "alt",
  "ast",
  "bp",
  "anc",
  "bun",
  "esr",
  "crp",
  "psa",
  "tsh",
]);
const MONEY_BEFORE =
  /(?:\$|usd|eur|total|amount|price|cost|quote|quoted|balance|paid|due|invoice)[^\S\n]*[:=]?[^\S\n]*$/;

function plausibleLab(
  view: SegmentView,
  found: { hit: { start: number; end: number; term: string }; value: string; context: boolean },
): boolean {
  const { hit, value, context } = found;
  const m = /(\d+(?:\.\d+)?)(?:\/(\d+))?$/.exec(value);
  if (m === null) return false;
  const n = Number(m[1]);
  if (BLOOD_PRESSURE.has(hit.term)) {
    const low = Number(m[2] ?? NaN);
    return n >= 50 && n <= 300 && low >= 20 && low <= 200;
  }
  const range = LAB_RANGES[hit.term];
  if (range !== undefined && (n < range[0] || n > range[1])) return false;
  if (MONEY_BEFORE.test(view.lower.slice(Math.max(0, hit.start - 24), hit.start))) return false;
  if (AMBIGUOUS_LABS.has(hit.term) && !context) {
    const written = view.text.slice(hit.start, hit.end);
    if (written !== written.toUpperCase()) return false;
  }
  return true;
}
