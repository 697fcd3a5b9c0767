/**
 * Normalisation of decoded text before detectors see it: Unicode NFKC, invisible characters
 * (zero-width space/joiners, word joiner, BOM, soft hyphen) removed, whitespace runs collapsed,
 * with a map from every normalised index back to the original for masking.
 *
 * One pass over the input: ASCII runs are copied as slices, only non-ASCII runs that NFKC
 * actually changes are normalised cluster by cluster, so plain text costs a few ns per char.
 */

export interface Normalised {
  text: string;
  /** Absent when text === original. */
  offsets: Int32Array | undefined;
}

const enum Cls {
  Plain,
  Space,
  Tab,
  Newline,
  Drop,
}

function classify(c: number): Cls {
  if (c > 0x20 && c < 0x7f) return Cls.Plain;
  if (c === 0x20) return Cls.Space;
  if (c === 0x0a) return Cls.Newline;
  if (c === 0x09) return Cls.Tab;
  if (c < 0x20 || c === 0x7f) return c === 0x0d || c === 0x0b || c === 0x0c ? Cls.Newline : Cls.Space;
  if (c < 0xa0) return c === 0x85 ? Cls.Newline : Cls.Space;
  if (c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x202f) return Cls.Space;
  if (c === 0x205f || c === 0x3000) return Cls.Space;
  if (c === 0x2028 || c === 0x2029) return Cls.Newline;
  if (c === 0xad || (c >= 0x200b && c <= 0x200d) || (c >= 0x2060 && c <= 0x2064)) return Cls.Drop;
  if (c === 0xfeff || c === 0x180e) return Cls.Drop;
  return Cls.Plain;
}

const CLUSTER = /\P{M}\p{M}*|\p{M}+/gsu;

class Builder {
  #parts: string[] = [];
  #offsets: Int32Array;
  #len = 0;

  constructor(capacity: number) {
    this.#offsets = new Int32Array(capacity + 1);
  }

  get length(): number {
    return this.#len;
  }

  #reserve(n: number): void {
    if (this.#len + n + 1 <= this.#offsets.length) return;
    const grown = new Int32Array(Math.max(this.#offsets.length * 2, this.#len + n + 1));
    grown.set(this.#offsets.subarray(0, this.#len));
    this.#offsets = grown;
  }

  /** Appends text whose characters map one to one onto original[from...]. */
  copy(s: string, from: number): void {
    this.#reserve(s.length);
    const o = this.#offsets;
    let j = this.#len;
    for (let k = 0; k < s.length; k++) o[j++] = from + k;
    this.#len = j;
    this.#parts.push(s);
  }

  /** Appends text whose characters all map to one original index. */
  mapped(s: string, at: number): void {
    this.#reserve(s.length);
    this.#offsets.fill(at, this.#len, this.#len + s.length);
    this.#len += s.length;
    this.#parts.push(s);
  }

  finish(original: string): Normalised {
    const text = this.#parts.length === 1 ? (this.#parts[0] ?? "") : this.#parts.join("");
    if (text === original) return { text, offsets: undefined };
    this.#offsets[this.#len] = original.length;
    const offsets =
      this.#offsets.length > (this.#len + 1) * 2
        ? this.#offsets.slice(0, this.#len + 1)
        : this.#offsets.subarray(0, this.#len + 1);
    return { text, offsets };
  }
}

function appendRun(b: Builder, run: string, from: number, ascii: boolean): void {
  if (ascii) return b.copy(run, from);
  const nfkc = run.normalize("NFKC");
  if (nfkc === run) return b.copy(run, from);

  for (const m of run.matchAll(CLUSTER)) {
    const cluster = m[0];
    const at = from + (m.index ?? 0);
    const n = cluster.normalize("NFKC");
    if (n === cluster) b.copy(cluster, at);
    else b.mapped(n, at);
  }
}

/** How normalise() treats whitespace. */
export interface NormaliseOptions {
  /** Keep line breaks (default true); false turns them into spaces, as for table cells. */
  lines?: boolean;
}

/**
 * Normalises text. Whitespace: a run of spaces becomes one space (one tab if it held a tab);
 * a run holding line breaks becomes one or, for a blank line, two newlines; leading and
 * trailing whitespace is dropped.
 */
export function normalise(original: string, options: NormaliseOptions = {}): Normalised {
  const lines = options.lines ?? true;
  const b = new Builder(original.length);
  const n = original.length;
  let i = 0;

  // Whitespace state: start of the pending run, newline count and whether a tab was seen.
  let wsStart = -1;
  let wsLines = 0;
  let wsTab = false;

  while (i < n) {
    const c = original.charCodeAt(i);
    const cls = classify(c);

    if (cls === Cls.Plain) {
      if (wsStart >= 0) {
        if (b.length > 0) {
          const sep = !lines ? " " : wsLines > 1 ? "\n\n" : wsLines === 1 ? "\n" : wsTab ? "\t" : " ";
          b.mapped(sep, wsStart);
        }
        wsStart = -1;
        wsLines = 0;
        wsTab = false;
      }
      const start = i;
      let ascii = true;
      while (i < n) {
        const d = original.charCodeAt(i);
        if (d > 0x20 && d < 0x7f) {
          i++;
          continue;
        }
        if (d < 0xa0 || classify(d) !== Cls.Plain) break;
        ascii = false;
        i++;
      }
      appendRun(b, original.slice(start, i), start, ascii);
      continue;
    }

    if (cls !== Cls.Drop) {
      if (wsStart < 0) wsStart = i;
      if (cls === Cls.Newline) {
        // CRLF counts as one line break.
        if (!(c === 0x0a && i > 0 && original.charCodeAt(i - 1) === 0x0d)) wsLines++;
      } else if (cls === Cls.Tab) {
        wsTab = true;
      }
    }
    i++;
  }

  return b.finish(original);
}

/** Normalises one table cell: no line breaks inside, no tabs that would fake a column. */
export function normaliseCell(cell: string): string {
  return normalise(cell, { lines: false }).text;
}
