import type { TextSegment } from "../extract/types.js";
import type { Confidence } from "../types.js";
import { VOCABULARY } from "./vocabulary.js";
import type { WordHit } from "./words.js";

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
}

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

  constructor(segment: TextSegment, index: number) {
    this.segment = segment;
    this.index = index;
    this.text = segment.text;
  }

  /** Lower-cased text, computed once (same length as text for the characters we match on). */
  get lower(): string {
    this.#lower ??= lowerSameLength(this.text);
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

  /** The header cell above a text offset in a table (row 0), lower-cased, or undefined. */
  headerAt(offset: number): string | undefined {
    const cell = this.cellAt(offset);
    if (cell === undefined || cell.row === 0) return undefined;
    const header = this.segment.table?.[0]?.[cell.col];
    return header === undefined ? undefined : header.toLowerCase().replace(/[_.]+/g, " ");
  }

  /** True when the offset lies in a table's first row. */
  inHeaderRow(offset: number): boolean {
    return this.cellAt(offset)?.row === 0;
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

/** Lower case that keeps every offset: a character whose lower case is longer stays as is. */
function lowerSameLength(text: string): string {
  const lower = text.toLowerCase();
  if (lower.length === text.length) return lower;
  let out = "";
  for (const ch of text) {
    const l = ch.toLowerCase();
    out += l.length === ch.length ? l : ch;
  }
  return out;
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
