import { parse } from "csv-parse/sync";

/**
 * CSV (or TSV, or the semicolon files European spreadsheet locales write) to rows. The
 * delimiter is whichever of comma, semicolon and tab occurs most in the first line outside
 * quotes. Ragged rows and stray quotes are tolerated, and a file the parser refuses (an
 * unclosed quote) is split naively by line and delimiter: a sloppy export still holds PHI.
 */

function sniffDelimiter(text: string): string {
  const end = text.indexOf("\n");
  const first = end < 0 ? text.slice(0, 65536) : text.slice(0, Math.min(end, 65536));
  const counts = new Map<string, number>([
    [",", 0],
    [";", 0],
    ["\t", 0],
  ]);
  let quoted = false;
  for (const ch of first) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && counts.has(ch)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  let best = ",";
  let max = 0;
  for (const [d, n] of counts) {
    if (n > max) {
      best = d;
      max = n;
    }
  }
  return best;
}

export function csvRows(text: string): string[][] {
  const delimiter = sniffDelimiter(text);
  try {
    return parse(text, {
      delimiter,
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      max_record_size: 1 << 20,
    }) as string[][];
  } catch {
    return text.split(/\r?\n/).map((line) => line.split(delimiter));
  }
}
