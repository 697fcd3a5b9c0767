import { ExtractError } from "./context.js";
import { cellFormats, formatDigits, type CellFormat } from "./numfmt.js";
import { parseXml } from "./xml.js";
import type { ZipArchive } from "./zip.js";

/**
 * XLSX (SpreadsheetML) to tables, one per sheet, hidden sheets included. Cells keep their column
 * (gaps stay empty), shared and inline strings are resolved, numbers formatted as dates are
 * written as MM/DD/YYYY so a date of birth reads as one, and zero-padded digit formats are
 * applied so an SSN stored as a number keeps its leading zero.
 */

export interface Sheet {
  name: string;
  rows: string[][];
}

async function readXml(zip: ZipArchive, name: string): Promise<string | null> {
  return zip.has(name) ? (await zip.read(name)).toString("utf8") : null;
}

function sharedStrings(xml: string | null): string[] {
  if (!xml) return [];
  const out: string[] = [];
  let cur: string[] | null = null;
  let inT = 0;
  let inPhonetic = 0;
  parseXml(xml, {
    onopentag(name) {
      if (name === "si") cur = [];
      else if (name === "t") inT++;
      else if (name === "rPh") inPhonetic++;
    },
    ontext(text) {
      if (cur && inT > 0 && inPhonetic === 0) cur.push(text);
    },
    onclosetag(name) {
      if (name === "si" && cur) {
        out.push(cur.join(""));
        cur = null;
      } else if (name === "t") inT--;
      else if (name === "rPh") inPhonetic--;
    },
  });
  return out;
}

function serialToDate(serial: number, date1904: boolean): string | null {
  if (!Number.isFinite(serial) || serial < 1 || serial > 2958465) return null;
  // Serial 60 is Excel's phantom 29 Feb 1900; from serial 61 on, day 0 is 30 Dec 1899.
  const days = Math.floor(serial) + (date1904 ? 1462 : serial < 61 ? 1 : 0);
  const d = new Date(Date.UTC(1899, 11, 30) + days * 86400000);
  const mm = String(d.getUTCMonth() + 1).padStart(2, "0");
  const dd = String(d.getUTCDate()).padStart(2, "0");
  return `${mm}/${dd}/${d.getUTCFullYear()}`;
}

function columnIndex(ref: string | undefined): number {
  if (!ref) return -1;
  let col = 0;
  for (let i = 0; i < ref.length; i++) {
    const c = ref.charCodeAt(i);
    if (c < 65 || c > 90) break;
    col = col * 26 + (c - 64);
  }
  return col - 1;
}

interface SheetContext {
  strings: string[];
  formats: CellFormat[];
  date1904: boolean;
  maxCells: number;
}

function sheetRows(xml: string, ctx: SheetContext): string[][] {
  const rows: string[][] = [];
  let row: string[] | null = null;
  let cellType = "";
  let cellStyle = 0;
  let cellCol = -1;
  let value: string[] | null = null;
  let inValue = 0;
  let cells = 0;

  parseXml(xml, {
    onopentag(name, a) {
      if (name === "row") row = [];
      else if (name === "c") {
        cellType = a.t ?? "n";
        cellStyle = Number(a.s ?? 0);
        cellCol = columnIndex(a.r);
        value = [];
      } else if (name === "v" || name === "t") inValue++;
    },
    ontext(text) {
      if (value && inValue > 0) value.push(text);
    },
    onclosetag(name) {
      if (name === "v" || name === "t") inValue--;
      else if (name === "c" && row && value) {
        if (++cells > ctx.maxCells) throw new ExtractError("over-budget");
        const raw = value.join("");
        let text = raw;
        if (cellType === "s") text = ctx.strings[Number(raw)] ?? "";
        else if (cellType === "b") text = raw === "1" ? "TRUE" : "FALSE";
        else if (cellType === "n" && raw !== "") {
          const format = ctx.formats[cellStyle];
          if (format?.kind === "date") text = serialToDate(Number(raw), ctx.date1904) ?? raw;
          else if (format?.kind === "digits") text = formatDigits(raw, format.pattern) ?? raw;
        }
        const col = cellCol >= 0 ? cellCol : row.length;
        if (col > row.length + 16384) throw new ExtractError("corrupt");
        while (row.length < col) row.push("");
        row[col] = text;
        value = null;
      } else if (name === "row" && row) {
        rows.push(row);
        row = null;
      }
    },
  });
  return rows;
}

function resolveTarget(target: string): string {
  if (target.startsWith("/")) return target.slice(1);
  const parts = ("xl/" + target).split("/");
  const out: string[] = [];
  for (const p of parts) {
    if (p === "..") out.pop();
    else if (p !== "." && p !== "") out.push(p);
  }
  return out.join("/");
}

/** Every sheet of a workbook, in workbook order. */
export async function xlsxSheets(zip: ZipArchive, options: { maxCells: number }): Promise<Sheet[]> {
  const workbook = await readXml(zip, "xl/workbook.xml");
  if (!workbook) throw new ExtractError("corrupt");

  const declared: { name: string; rid: string }[] = [];
  let date1904 = false;
  parseXml(workbook, {
    onopentag(name, a) {
      if (name === "sheet") declared.push({ name: a.name ?? "", rid: a["r:id"] ?? "" });
      else if (name === "workbookPr") date1904 = a.date1904 === "1" || a.date1904 === "true";
    },
  });

  const targets = new Map<string, string>();
  parseXml((await readXml(zip, "xl/_rels/workbook.xml.rels")) ?? "", {
    onopentag(name, a) {
      if (name === "Relationship" && a.Id && a.Target) targets.set(a.Id, resolveTarget(a.Target));
    },
  });

  const ctx: SheetContext = {
    strings: sharedStrings(await readXml(zip, "xl/sharedStrings.xml")),
    formats: cellFormats(await readXml(zip, "xl/styles.xml")),
    date1904,
    maxCells: options.maxCells,
  };

  const sheets: Sheet[] = [];
  for (const s of declared) {
    const target = targets.get(s.rid);
    if (!target || !zip.has(target)) continue;
    const xml = (await zip.read(target)).toString("utf8");
    sheets.push({ name: s.name, rows: sheetRows(xml, ctx) });
  }
  return sheets;
}
