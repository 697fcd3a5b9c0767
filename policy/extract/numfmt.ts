import { parseXml } from "./xml.js";

/**
 * The number formats of an XLSX workbook that change what a reader sees of a number: dates
 * (stored as day serials) and zero-padded digit patterns such as Excel's built-in "Social
 * Security Number" format `000-00-0000`, which shows 12345678 as 012-34-5678.
 */

export type CellFormat = { kind: "date" } | { kind: "digits"; pattern: string } | null;

/** Built-in number formats that show a date (ECMA-376 Part 1, 18.8.30). */
const BUILTIN_DATE = new Set([14, 15, 16, 17, 22, 27, 30, 36, 50, 57]);

export function parseFormat(code: string): CellFormat {
  const first = code.split(";")[0] ?? "";
  if (/\[[^\]]*\]/.test(first.replace(/\[\$[^\]]*\]/g, ""))) return null; // conditions, colours
  const bare = first.replace(/"[^"]*"|\\.|\[[^\]]*\]/g, "");
  if (/[dy]/i.test(bare)) return { kind: "date" };

  // Literal text kept, placeholders only: a pattern of 0 and # with separators, no decimals.
  const literal = first.replace(/"([^"]*)"/g, "$1").replace(/\\(.)/g, "$1");
  if (/^[0#][0#\-\s()/]*[0#]$/.test(literal) && literal.includes("0") && /[^0#]|^0/.test(literal)) {
    return { kind: "digits", pattern: literal };
  }
  return null;
}

/** An integer shown through a digit pattern, or null when the value is not an integer. */
export function formatDigits(raw: string, pattern: string): string | null {
  if (!/^\d{1,30}$/.test(raw)) return null;
  const zeros = [...pattern].filter((c) => c === "0").length;
  const digits = raw.padStart(zeros, "0").split("");
  const out: string[] = [];
  for (let i = pattern.length - 1; i >= 0; i--) {
    const c = pattern[i] ?? "";
    if (c !== "0" && c !== "#") {
      out.push(c);
      continue;
    }
    const isFirst = !/[0#]/.test(pattern.slice(0, i));
    // The leftmost placeholder takes every digit still left, as Excel shows them.
    out.push(isFirst ? digits.splice(0).join("") : (digits.pop() ?? ""));
  }
  return out.reverse().join("");
}

/** For each cell style index (cellXfs order), the format that changes how numbers read. */
export function cellFormats(xml: string | null): CellFormat[] {
  if (!xml) return [];
  const custom = new Map<number, CellFormat>();
  const out: CellFormat[] = [];
  let inCellXfs = false;
  parseXml(xml, {
    onopentag(name, a) {
      if (name === "numFmt") custom.set(Number(a.numFmtId), parseFormat(a.formatCode ?? ""));
      else if (name === "cellXfs") inCellXfs = true;
      else if (name === "xf" && inCellXfs) {
        const id = Number(a.numFmtId ?? 0);
        out.push(
          custom.has(id)
            ? (custom.get(id) ?? null)
            : BUILTIN_DATE.has(id)
              ? { kind: "date" }
              : null,
        );
      }
    },
    onclosetag(name) {
      if (name === "cellXfs") inCellXfs = false;
    },
  });
  return out;
}
