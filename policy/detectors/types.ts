import type { TextSegment } from "../extract/types.js";
import type { Confidence } from "../types.js";
import { VOCABULARY } from "./vocabulary.js";
import { fold, type WordHit } from "./words.js";

/** One place a detector found something. Positions index the segment's normalised text. */
export interface DetectorMatch {
  detector: string;
  /** Index of the segment in the extraction. */
  segment: number;
  start: number;
  end: number;
  confidence: Confidence;
  /**
   * The value reduced to a canonical form (digits, upper case) so repeats count once. Held in
   * memory only while a message is evaluated; never logged or returned.
   */
  key: string;
}

/**
 * How strongly a detector's own evidence holds when overlapping spans have equal confidence:
 * a checksum beats a label, a label beats a dictionary, a dictionary beats a bare shape.
 */
export type DetectorStrength = 1 | 2 | 3 | 4;

export interface Detector {
  readonly name: string;
  readonly strength: DetectorStrength;
  detect(view: SegmentView, out: DetectorMatch[]): void;
  /**
   * The key a value written by a person would have (an exclusion list's "Mary Ann Smith",
   * "03/14/1961"), where it is not simply its letters and digits in upper case; undefined
   * when the text is no such value.
   */
  keyOf?(value: string): string | undefined;
}

/** How far along a line a label above a value is looked for. */
const LINE_SCAN = 400;

/** How many rows from the top of a table may hold its header row. */
const HEADER_SEARCH_ROWS = 5;

export const CONFIDENCE_RANK: Record<Confidence, number> = { low: 0, medium: 1, high: 2 };

export function atLeast(c: Confidence, min: Confidence): boolean {
  return CONFIDENCE_RANK[c] >= CONFIDENCE_RANK[min];
}

export function raise(c: Confidence): Confidence {
  return c === "low" ? "medium" : "high";
}

/** A segment with lazily built helpers that several detectors share. */
export class SegmentView {
  readonly segment: TextSegment;
  readonly index: number;
  readonly text: string;
  #lineStarts: number[] | undefined;
  #lower: string | undefined;
  #words: Map<string, WordHit[]> | undefined;
  #headerRow: number | undefined;
  #blockTops: Map<number, number> | undefined;

  constructor(segment: TextSegment, index: number) {
    this.segment = segment;
    this.index = index;
    this.text = segment.text;
  }

  /** Folded lower-case text (see fold in words.ts), computed once; offsets as in text. */
  get lower(): string {
    this.#lower ??= fold(this.text);
    return this.#lower;
  }

  /** Hits of one kind of the shared vocabulary (see vocabulary.ts), in text order. */
  words(kind: string): readonly WordHit[] {
    if (this.#words === undefined) {
      this.#words = new Map();
      for (const hit of VOCABULARY.scan(this.lower)) {
        const list = this.#words.get(hit.kind);
        if (list === undefined) this.#words.set(hit.kind, [hit]);
        else list.push(hit);
      }
    }
    return this.#words.get(kind) ?? [];
  }

  /** For tabular segments: the row and column of a text offset, else undefined. */
  cellAt(offset: number): { row: number; col: number } | undefined {
    const table = this.segment.table;
    if (table === undefined) return undefined;
    const starts = this.#rowStarts();
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    let col = 0;
    for (let i = starts[lo] ?? 0; i < offset; i++) if (this.text.charCodeAt(i) === 9) col++;
    return { row: lo, col };
  }

  /**
   * For tables: the index of the header row. A title ("Clinic roster - March") or an export
   * note ("Generated 2025-03-01") often stands above the real header, so it is the first of
   * the first few rows that looks like one: two or more cells, each with a letter and none
   * with a four-digit number. 0 when no row does.
   */
  get headerRow(): number {
    if (this.#headerRow !== undefined) return this.#headerRow;
    const rows = this.segment.table ?? [];
    this.#headerRow = 0;
    for (let r = 0; r < Math.min(rows.length - 1, HEADER_SEARCH_ROWS); r++) {
      const cells = (rows[r] ?? []).map((c) => c.trim()).filter((c) => c !== "");
      if (cells.length >= 2 && cells.every((c) => /\p{L}/u.test(c) && !/\d{4}/.test(c))) {
        this.#headerRow = r;
        break;
      }
    }
    return this.#headerRow;
  }

  /** The header cell above a text offset in a table, lower-cased, or undefined. */
  headerAt(offset: number): string | undefined {
    const cell = this.cellAt(offset);
    if (cell === undefined || cell.row <= this.headerRow) return undefined;
    const header = this.segment.table?.[this.headerRow]?.[cell.col];
    return header === undefined ? undefined : fold(header).replace(/[_.]+/g, " ");
  }

  /** True when the offset lies in a table's header row (or a title row above it). */
  inHeaderRow(offset: number): boolean {
    const cell = this.cellAt(offset);
    return cell !== undefined && cell.row <= this.headerRow;
  }

  /**
   * Outside tables: the label above a value that has none of its own on its line, lower-cased.
   * In a block of tab-separated lines (an HTML or PDF table) it is the same column's cell of
   * the block's first line; else the previous non-blank line ("Order number:\n512-44-1234").
   */
  labelAbove(offset: number): string | undefined {
    if (this.segment.table !== undefined) return undefined;
    const text = this.text;
    // Only a value that starts its line or its cell has a label above; the walk back over
    // spaces answers that for the common case (a label on its own line) in a few steps.
    let i = offset - 1;
    while (i >= 0 && text.charCodeAt(i) === 32) i--;
    const before = i < 0 ? 10 : text.charCodeAt(i);
    if (before !== 10 && before !== 13 && before !== 9) return undefined;
    const lineStart = before === 9 ? text.lastIndexOf("\n", i) + 1 : i + 1;
    if (before === 9 || this.#tabAfter(offset, LINE_SCAN)) {
      const top = this.#blockTop(lineStart);
      if (top === lineStart || offset - lineStart > LINE_SCAN) return undefined;
      let col = 0;
      for (let k = lineStart; k < offset; k++) if (text.charCodeAt(k) === 9) col++;
      const headEnd = text.indexOf("\n", top);
      const cells = text.slice(top, Math.min(headEnd, top + LINE_SCAN)).split("\t");
      const label = cells[col]?.trim();
      return label === undefined ? undefined : fold(label);
    }
    let end = lineStart - 1;
    for (let blank = 0; end > 0 && blank < 2; blank++) {
      const from = Math.max(0, end - LINE_SCAN);
      const start = text.lastIndexOf("\n", end - 1) + 1;
      const line = this.lower.slice(Math.max(start, from), end).trim();
      if (line !== "") return line.slice(-40);
      end = start - 1;
    }
    return undefined;
  }

  /** True when a tab stands on the line after offset, within `limit` characters. */
  #tabAfter(offset: number, limit: number): boolean {
    const text = this.text;
    const stop = Math.min(text.length, offset + limit);
    for (let k = offset; k < stop; k++) {
      const c = text.charCodeAt(k);
      if (c === 9) return true;
      if (c === 10) return false;
    }
    return false;
  }

  /** Start of the first line of the run of tab-holding lines that holds lineStart. */
  #blockTop(lineStart: number): number {
    this.#blockTops ??= new Map();
    const known = this.#blockTops.get(lineStart);
    if (known !== undefined) return known;
    const visited = [lineStart];
    let top = lineStart;
    while (top > 0) {
      const cached = this.#blockTops.get(top);
      if (cached !== undefined) {
        top = cached;
        break;
      }
      const prevStart = this.text.lastIndexOf("\n", top - 2) + 1;
      if (!this.text.slice(prevStart, top - 1).includes("\t")) break;
      top = prevStart;
      visited.push(top);
    }
    for (const v of visited) this.#blockTops.set(v, top);
    return top;
  }

  #rowStarts(): number[] {
    if (this.#lineStarts !== undefined) return this.#lineStarts;
    const starts = [0];
    for (let i = this.text.indexOf("\n"); i !== -1; i = this.text.indexOf("\n", i + 1)) {
      starts.push(i + 1);
    }
    this.#lineStarts = starts;
    return starts;
  }
}

/** Calls fn for every cell of a tabular segment with the cell's offsets in the text. */
export function forEachCell(
  view: SegmentView,
  fn: (cell: { row: number; col: number; start: number; end: number }) => void,
): void {
  const table = view.segment.table;
  if (table === undefined) return;
  let offset = 0;
  for (let row = 0; row < table.length; row++) {
    const cells = table[row] ?? [];
    for (let col = 0; col < cells.length; col++) {
      const len = (cells[col] ?? "").length;
      fn({ row, col, start: offset, end: offset + len });
      offset += len + 1;
    }
    if (cells.length === 0) offset += 1;
  }
}
