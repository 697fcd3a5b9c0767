import { NAME_SUFFIX } from "../sources.js";
import { normalise, normaliseCell } from "./normalise.js";
import type {
  AttachmentInfo,
  Extraction,
  ExtractionBudget,
  SegmentKind,
  UnscannableReason,
} from "./types.js";

/** Why one part could not be read; `code` is the unscannable reason recorded for it. */
export class ExtractError extends Error {
  override readonly name = "ExtractError";
  readonly code: UnscannableReason;

  constructor(code: UnscannableReason, options: { cause?: unknown } = {}) {
    super(`part is unscannable: ${code}`, options);
    this.code = code;
  }
}

/** Turns whatever a reader threw into the unscannable reason for its part. */
export function reasonOf(err: unknown): UnscannableReason {
  if (err instanceof ExtractError) return err.code;
  if (
    err instanceof RangeError &&
    /Array buffer allocation|Invalid string length/.test(err.message)
  ) {
    return "over-budget";
  }
  return "corrupt";
}

/**
 * State of one extraction: the budget, the clock and what has been found so far. Once closed
 * (the overall deadline fired) nothing more is recorded, so the answer already handed out
 * cannot change under the caller.
 */
export class ExtractContext {
  readonly budget: ExtractionBudget;
  readonly out: Extraction = { segments: [], unscannable: [], attachments: [], headers: [] };
  readonly #deadline: number;
  #textBytes = 0;
  #entries = 0;
  #unpacked = 0;
  #closed = false;

  constructor(budget: ExtractionBudget) {
    this.budget = budget;
    this.#deadline = Date.now() + budget.maxMs;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
  }

  /** Milliseconds left before the deadline (0 when past it). */
  remainingMs(): number {
    return Math.max(0, this.#deadline - Date.now());
  }

  /** Throws a timeout for the part about to be read once the deadline has passed. */
  checkTime(): void {
    if (this.#closed || Date.now() >= this.#deadline) throw new ExtractError("timeout");
  }

  /** Counts archive entries against the per-message total. */
  countEntry(): void {
    if (++this.#entries > this.budget.maxEntries) throw new ExtractError("over-budget");
  }

  /**
   * Counts bytes unpacked from archives. The total per message is capped at four times the
   * per-part limit, so many entries that each pass the ratio test still cannot add up to a bomb.
   */
  countUnpacked(bytes: number): void {
    this.#unpacked += bytes;
    if (this.#unpacked > this.budget.maxPartBytes * 4) throw new ExtractError("over-budget");
  }

  #chargeText(length: number): void {
    // UTF-16 length is a cheap upper bound on what the detectors will hold per character.
    this.#textBytes += length;
    if (this.#textBytes > this.budget.maxTextBytes) throw new ExtractError("over-budget");
  }

  addText(source: string, kind: SegmentKind, original: string): void {
    if (this.#closed || original.length === 0) return;
    this.#chargeText(original.length);
    const { text, offsets } = normalise(original);
    if (text.length === 0) return;
    this.out.segments.push(
      offsets ? { source, kind, text, offsets, original } : { source, kind, text, original },
    );
  }

  /** A table (CSV, sheet): cells normalised, text laid out as tab- and newline-joined cells. */
  addTable(source: string, kind: SegmentKind, rows: string[][]): void {
    if (this.#closed) return;
    const table: string[][] = [];
    for (const row of rows) {
      const cells = row.map(normaliseCell);
      let last = cells.length;
      while (last > 0 && cells[last - 1] === "") last--;
      if (last === 0) continue;
      table.push(last === cells.length ? cells : cells.slice(0, last));
    }
    if (table.length === 0) return;
    const text = table.map((r) => r.join("\t")).join("\n");
    this.#chargeText(text.length);
    this.out.segments.push({ source, kind, text, original: text, table });
  }

  unscannable(source: string, reason: UnscannableReason): void {
    if (this.#closed) return;
    this.out.unscannable.push({ source, reason });
  }

  /**
   * Records an attachment. Its file name is read as text too: senders name scans after the
   * patient ("Roe_Jane_SSN_512-44-1234.pdf"), and a name nobody can open is still sent.
   */
  attachment(info: AttachmentInfo): void {
    if (this.#closed) return;
    this.out.attachments.push(info);
    const name = info.filename?.replace(/_/g, " ");
    if (name) this.addText(`${info.source}${NAME_SUFFIX}`, "attachment", name);
  }

  /** Runs one part's reader; a failure becomes an unscannable entry for that part. */
  async guard(source: string, read: () => Promise<void> | void): Promise<void> {
    try {
      this.checkTime();
      await read();
    } catch (err) {
      this.unscannable(source, reasonOf(err));
    }
  }
}
