import { parseXml } from "./xml.js";
import { ExtractError } from "./context.js";
import type { Sheet } from "./xlsx.js";
import type { ZipArchive } from "./zip.js";

/**
 * OpenDocument (ODF 1.3) files from LibreOffice and others: text documents and presentations
 * become text, spreadsheets one table per sheet. All keep their content in content.xml.
 */

export type OdfContent = { kind: "text"; text: string } | { kind: "sheets"; sheets: Sheet[] };

function textOf(xml: string): string {
  const out: string[] = [];
  parseXml(xml, {
    onopentag(name, a) {
      if (name === "text:tab") out.push("\t");
      else if (name === "text:line-break") out.push("\n");
      else if (name === "text:s") out.push(" ".repeat(Math.min(Number(a["text:c"] ?? 1), 64)));
    },
    ontext(text) {
      out.push(text);
    },
    onclosetag(name) {
      if (name === "text:p" || name === "text:h" || name === "table:table-row") out.push("\n");
      else if (name === "table:table-cell") out.push("\t");
    },
  });
  return out.join("");
}

function sheetsOf(xml: string, maxCells: number): Sheet[] {
  const sheets: Sheet[] = [];
  let sheet: Sheet | null = null;
  let row: string[] | null = null;
  let cell: string[] | null = null;
  let repeat = 1;
  let cells = 0;
  parseXml(xml, {
    onopentag(name, a) {
      if (name === "table:table") sheet = { name: a["table:name"] ?? "", rows: [] };
      else if (name === "table:table-row") row = [];
      else if (name === "table:table-cell" || name === "table:covered-table-cell") {
        cell = [];
        // Repeats pad empty cells out to the sheet's width; only the first few can matter.
        repeat = Math.min(Number(a["table:number-columns-repeated"] ?? 1), 256);
      } else if (cell && name === "text:tab") cell.push("\t");
    },
    ontext(text) {
      if (cell) cell.push(text);
    },
    onclosetag(name) {
      if (name === "text:p" && cell) cell.push("\n");
      else if ((name === "table:table-cell" || name === "table:covered-table-cell") && row) {
        const text = (cell ?? []).join("").trim();
        cells += repeat;
        if (cells > maxCells) throw new ExtractError("over-budget");
        for (let i = 0; i < repeat; i++) row.push(text);
        cell = null;
      } else if (name === "table:table-row" && sheet && row) {
        sheet.rows.push(row);
        row = null;
      } else if (name === "table:table" && sheet) {
        sheets.push(sheet);
        sheet = null;
      }
    },
  });
  return sheets;
}

/** Whether the archive is an OpenDocument file (its first entry names the type). */
export async function odfType(zip: ZipArchive): Promise<string | null> {
  if (!zip.has("mimetype") || !zip.has("content.xml")) return null;
  const type = (await zip.read("mimetype")).toString("ascii").trim();
  return type.startsWith("application/vnd.oasis.opendocument.") ? type : null;
}

export async function odfContent(
  zip: ZipArchive,
  options: { type: string; maxCells: number },
): Promise<OdfContent> {
  const { type, maxCells } = options;
  const xml = (await zip.read("content.xml")).toString("utf8");
  if (type.endsWith(".spreadsheet")) {
    return { kind: "sheets", sheets: sheetsOf(xml, maxCells) };
  }
  return { kind: "text", text: textOf(xml) };
}
