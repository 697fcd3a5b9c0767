import { ContextWords, escapeRegex } from "./context.js";
import { push } from "./ids.js";
import { forEachCell, type Detector, type DetectorMatch, type SegmentView } from "./types.js";

/**
 * Identifiers with no checksum, recognised by the label in front of them ("MRN: 80913238",
 * "Member ID NHW677391101") or by their table column's header. A value must hold at least four
 * digits so that words after a label ("Member ID: see card") are not taken.
 */
interface LabelledSpec {
  name: string;
  labels: readonly string[];
  /** Header words that mark a column of such values. Default: the labels. */
  headers?: readonly string[];
  minLength?: number;
  maxLength?: number;
}

const FILLER = "(?:[\\s:#.=-]*(?:number|num|no|nbr|id|identifier|#))?";

export function labelledDetector(spec: LabelledSpec): Detector {
  const labels = [...spec.labels]
    .sort((a, b) => b.length - a.length)
    .map((l) => escapeRegex(l.toLowerCase()).replace(/\\? +/g, "[\\s_-]+"));
  const min = spec.minLength ?? 5;
  const max = spec.maxLength ?? 20;
  const source =
    `(?<![a-z0-9])(?:${labels.join("|")})${FILLER}[\\s:#.=-]{0,6}` +
    `([a-z0-9][a-z0-9-]{${min - 2},${max - 2}}[a-z0-9])(?![a-z0-9])`;
  const re = new RegExp(source, "dg");
  const valueRe = new RegExp(`^[A-Za-z0-9][A-Za-z0-9-]{${min - 2},${max - 2}}[A-Za-z0-9]$`);
  const headers = new ContextWords(spec.headers ?? spec.labels);
  return {
    name: spec.name,
    strength: 2,
    detect(view: SegmentView, out: DetectorMatch[]) {
      for (const m of view.lower.matchAll(re)) {
        const span = m.indices?.[1];
        if (span === undefined) continue;
        const value = view.text.slice(span[0], span[1]);
        if (!plausible(value)) continue;
        push(out, view, { start: span[0], end: span[1], confidence: "high", key: canon(value) }, spec.name);
      }
      if (view.segment.table === undefined) return;
      const columns = new Set<number>();
      forEachCell(view, (cell) => {
        if (cell.row === 0) {
          const header = view.text.slice(cell.start, cell.end).toLowerCase().replace(/[_.]+/g, " ");
          if (headers.test(header)) columns.add(cell.col);
          return;
        }
        if (!columns.has(cell.col)) return;
        const value = view.text.slice(cell.start, cell.end).trim();
        if (!valueRe.test(value) || !plausible(value)) return;
        const start = cell.start + view.text.slice(cell.start, cell.end).indexOf(value);
        const found = { start, end: start + value.length, confidence: "high" as const, key: canon(value) };
        push(out, view, found, spec.name);
      });
    },
  };
}

function plausible(value: string): boolean {
  let digits = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  return digits >= 4;
}

function canon(value: string): string {
  return value.toUpperCase().replace(/-/g, "");
}

export const healthPlanIdDetector = labelledDetector({
  name: "health-plan-id",
  labels: [
    "member id", "member #", "member number", "member no", "subscriber id", "subscriber #",
    "subscriber number", "insurance id", "insured id", "policy number", "policy #", "policy id",
    "plan member id", "medicaid id", "medicaid #", "medicaid number", "beneficiary id",
    "health plan id", "insurance number", "member", "subscriber", "recipient id", "eligibility id",
  ],
  headers: ["member id", "subscriber id", "insurance id", "policy number", "medicaid id", "member"],
  minLength: 6,
});

export const mrnDetector = labelledDetector({
  name: "mrn",
  labels: [
    "mrn", "mrn#", "medical record", "medical record number", "med rec", "medrec", "chart",
    "chart number", "chart #", "patient id", "patient #", "patient number", "pt id", "hospital number",
    "record number", "emr", "ehr id",
  ],
  headers: ["mrn", "medical record", "chart", "patient id", "patient number"],
  minLength: 5,
});

export const claimNumberDetector = labelledDetector({
  name: "claim-number",
  labels: ["claim", "claim number", "claim #", "claim no", "claim id", "icn", "dcn"],
  headers: ["claim", "claim id", "claim number", "claim no", "icn"],
  minLength: 6,
});

export const bankAccountDetector = labelledDetector({
  name: "bank-account",
  labels: [
    "bank account", "checking account", "savings account", "acct", "account number", "iban",
    "deposit account", "checking", "savings",
  ],
  headers: ["bank account", "account number", "acct"],
  minLength: 6,
  maxLength: 17,
});
