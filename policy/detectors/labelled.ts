import { ContextWords } from "./context.js";
import { push } from "./ids.js";
import { forEachCell, type Detector, type DetectorMatch, type SegmentView } from "./types.js";

/**
 * Identifiers with no checksum, recognised by the label in front of them ("MRN: 80913238",
 * "Member ID NHW677391101") or by their table column's header. A value must hold at least four
 * digits so that words after a label ("Member ID: see card") are not taken.
 */
interface LabelledSpec {
  name: string;
  /** Header words that mark a column of such values. */
  headers: readonly string[];
  minLength?: number;
  maxLength?: number;
}

const FILLER = "(?:[^\\S\\n]*[:#.=-]*[^\\S\\n]*(?:number|num|no|nbr|id|identifier|#)(?![a-z]))?";

/** Labels come from the shared vocabulary ("label:<name>"); the value must follow closely. */
export function labelledDetector(spec: LabelledSpec): Detector {
  const min = spec.minLength ?? 5;
  const max = spec.maxLength ?? 20;
  const value = `([a-z0-9][a-z0-9-]{${min - 2},${max - 2}}[a-z0-9])(?![a-z0-9])`;
  const after = new RegExp(`${FILLER}[\\s:#.=-]{0,6}${value}`, "y");
  // "MRNs: 51244123, 49833127 and 77712345": a label in front of a list labels each value.
  const listNext = new RegExp(
    `[^\\S\\n]*(?:[,;/&]|and\\b)[^\\S\\n]*(?:and[^\\S\\n]+)?${value}`,
    "y",
  );
  const valueRe = new RegExp(`^[A-Za-z0-9][A-Za-z0-9-]{${min - 2},${max - 2}}[A-Za-z0-9]$`);
  const headers = new ContextWords(spec.headers);
  const kind = `label:${spec.name}`;
  return {
    name: spec.name,
    strength: 2,
    detect(view: SegmentView, out: DetectorMatch[]) {
      let lastStart = -1;
      for (const hit of view.words(kind)) {
        after.lastIndex = hit.end;
        const m = after.exec(view.lower);
        if (m === null || m[1] === undefined) continue;
        const start = hit.end + m[0].length - m[1].length;
        if (start === lastStart) continue;
        const found = view.text.slice(start, start + m[1].length);
        if (!plausible(found)) continue;
        lastStart = start;
        push(
          out,
          view,
          { start, end: start + found.length, confidence: "high", key: canon(found) },
          spec.name,
        );
        listNext.lastIndex = start + found.length;
        for (let n = 0; n < MAX_LIST; n++) {
          const more = listNext.exec(view.lower);
          if (more === null || more[1] === undefined) break;
          const end = listNext.lastIndex;
          const itemStart = end - more[1].length;
          const item = view.text.slice(itemStart, end);
          if (!plausible(item)) break;
          push(
            out,
            view,
            { start: itemStart, end, confidence: "high", key: canon(item) },
            spec.name,
          );
        }
      }
      if (view.segment.table === undefined) return;
      const columns = new Set<number>();
      forEachCell(view, (cell) => {
        if (cell.row < view.headerRow) return;
        if (cell.row === view.headerRow) {
          const header = view.lower.slice(cell.start, cell.end).replace(/[_.]+/g, " ");
          if (headers.test(header)) columns.add(cell.col);
          return;
        }
        if (!columns.has(cell.col)) return;
        const cellText = view.text.slice(cell.start, cell.end);
        const v = cellText.trim();
        if (!valueRe.test(v) || !plausible(v)) return;
        const start = cell.start + cellText.indexOf(v);
        push(
          out,
          view,
          { start, end: start + v.length, confidence: "high", key: canon(v) },
          spec.name,
        );
      });
    },
  };
}

/** Values of one list after a label that are still taken as labelled. */
const MAX_LIST = 50;

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
  headers: ["member id", "subscriber id", "insurance id", "policy number", "medicaid id", "member"],
  minLength: 6,
});

export const mrnDetector = labelledDetector({
  name: "mrn",
  headers: ["mrn", "medical record", "chart", "patient id", "patient number"],
  minLength: 5,
});

export const claimNumberDetector = labelledDetector({
  name: "claim-number",
  headers: ["claim", "claim id", "claim number", "claim no", "icn"],
  minLength: 6,
});

export const bankAccountDetector = labelledDetector({
  name: "bank-account",
  headers: ["bank account", "account number", "acct"],
  minLength: 6,
  maxLength: 17,
});
