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
  if (c < 0x20 || c === 0x7f)
    return c === 0x0d || c === 0x0b || c === 0x0c ? Cls.Newline : Cls.Space;
  if (c < 0xa0) return c === 0x85 ? Cls.Newline : Cls.Space;
  if (c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x202f) return Cls.Space;
  if (c === 0x205f || c === 0x3000) return Cls.Space;
  if (c === 0x2028 || c === 0x2029) return Cls.Newline;
  if (c === 0xad || (c >= 0x200b && c <= 0x200d) || (c >= 0x2060 && c <= 0x2064)) return Cls.Drop;
  if (c === 0xfeff || c === 0x180e) return Cls.Drop;
  return Cls.Plain;
}

const MARKS = /[\p{M}\u1100-\u11ff\u3130-\u318f]/u;
const CLUSTER = /\P{M}\p{M}*|\p{M}+/gsu;
const MAX_CLUSTER = 32;

/**
 * NFKC of single code points, cached ("" when a code point maps to itself): text in one script
 * repeats the same few thousand code points. Beyond NFKC, dashes (U+2010 hyphen, en dash, minus
 * sign ...) become "-" and decimal digits of any script become ASCII digits, since NFKC leaves
 * them be and a value written with them would otherwise slip past every pattern.
 */
const singles = new Map<number, string>();

const DASH = /^[\p{Pd}\u2212\u2796\ufe63\uff0d]$/u;
const DIGIT = /^\p{Nd}$/u;

/** The value of a decimal digit: Unicode lays each script's digits out as a run of ten. */
function digitValue(cp: number): number {
  let start = cp;
  while (start > 0 && DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

function mapCodePoint(cp: number): string {
  const ch = String.fromCodePoint(cp);
  const n = ch.normalize("NFKC");
  if (n.length <= 2 && n.codePointAt(0) === n.codePointAt(n.length - 1)) {
    if (DASH.test(n)) return "-";
    if (DIGIT.test(n) && (n < "0" || n > "9")) return String(digitValue(n.codePointAt(0) ?? 0));
  }
  return n;
}

function nfkcChange(cp: number): string | null {
  let r = singles.get(cp);
  if (r === undefined) {
    const n = mapCodePoint(cp);
    r = n === String.fromCodePoint(cp) ? "" : n;
    if (singles.size < 65536) singles.set(cp, r);
  }
  return r === "" ? null : r;
}

class Builder {
  #text = "";
  #offsets = new Int32Array(0);
  #len = 0;
  readonly #hint: number;

  /** Nothing is allocated until something is appended: unchanged text costs no map. */
  constructor(capacity: number) {
    this.#hint = capacity + 1;
  }

  get length(): number {
    return this.#len;
  }

  #reserve(n: number): void {
    if (this.#len + n + 1 <= this.#offsets.length) return;
    const size = Math.max(this.#hint, this.#offsets.length * 2, this.#len + n + 1);
    const grown = new Int32Array(size);
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
    this.#text += s;
  }

  /** Appends text whose characters all map to one original index. */
  mapped(s: string, at: number): void {
    this.#reserve(s.length);
    this.#offsets.fill(at, this.#len, this.#len + s.length);
    this.#len += s.length;
    this.#text += s;
  }

  finish(original: string): Normalised {
    // V8 concatenates into a rope and flattens it once here, so += stays linear.
    const text = this.#text;
    if (text === original) return { text, offsets: undefined };
    this.#offsets[this.#len] = original.length;
    const offsets =
      this.#offsets.length > (this.#len + 1) * 2
        ? this.#offsets.slice(0, this.#len + 1)
        : this.#offsets.subarray(0, this.#len + 1);
    return { text, offsets };
  }
}

/** How normalise() treats whitespace. */
export interface NormaliseOptions {
  /** Keep line breaks (default true); false turns them into spaces, as for table cells. */
  lines?: boolean;
}

/**
 * Whether a whitespace run may stay as written: it already is its collapsed form, or the same
 * with CRLF line ends. Keeping CRLF lets a typical mail body pass unchanged, with no offset map.
 */
function keepsAsWritten(written: string, sep: string): boolean {
  return (
    written === sep ||
    (sep === "\n" ? written === "\r\n" : sep === "\n\n" && written === "\r\n\r\n")
  );
}

function isPlainAt(s: string, i: number): boolean {
  if (i >= s.length) return false;
  const c = s.charCodeAt(i);
  return (c > 0x20 && c < 0x7f) || classify(c) === Cls.Plain;
}

/**
 * Normalises text. Whitespace: a run of spaces becomes one space (one tab if it held a tab);
 * a run holding line breaks becomes one or, for a blank line, two line breaks (CRLF kept
 * where it was written so).
 *
 * Text is copied in verbatim spans (slices of the original) broken only where something
 * changes, so ordinary text costs one scan and a few slices per line.
 */
export function normalise(original: string, options: NormaliseOptions = {}): Normalised {
  const lines = options.lines ?? true;
  const n = original.length;
  const b = new Builder(n);
  let span = 0; // start of the verbatim span not yet copied
  let i = 0;

  const flush = (end: number): void => {
    if (end > span) b.copy(original.slice(span, end), span);
  };

  while (i < n) {
    const c = original.charCodeAt(i);
    if (c > 0x20 && c < 0x7f) {
      i++;
      continue;
    }
    // A single space between two visible characters stays as it is.
    if (c === 0x20 && (i > span || b.length > 0) && isPlainAt(original, i + 1)) {
      i++;
      continue;
    }

    const cls = classify(c);
    if (cls === Cls.Plain) {
      let j = i + 1;
      while (j < n) {
        const d = original.charCodeAt(j);
        if (d < 0xa0 || classify(d) !== Cls.Plain) break;
        j++;
      }
      // A combining mark composes with the base character before it.
      const from = i > span && MARKS.test(original[i] ?? "") ? i - 1 : i;
      const run = original.slice(from, j);
      if (MARKS.test(run)) {
        // Cluster by cluster, each output mapped to its cluster's start. ICU reorders marks in
        // quadratic time, so a cluster longer than Unicode's stream-safe limit (UAX #15
        // section 13: 30 non-starters) is kept as written rather than normalised.
        for (const m of run.matchAll(CLUSTER)) {
          const cluster = m[0];
          if (cluster.length > MAX_CLUSTER) continue;
          const at = from + (m.index ?? 0);
          const cp = cluster.codePointAt(0) ?? 0;
          const single = cluster.length === (cp > 0xffff ? 2 : 1);
          const n = single ? nfkcChange(cp) : cluster.normalize("NFKC");
          if (n !== null && n !== cluster) {
            flush(at);
            b.mapped(n, at);
            span = at + cluster.length;
          }
        }
      } else {
        // Without marks or jamo NFKC acts on each code point alone: walk them with cached
        // answers, breaking the verbatim span only where one changes.
        for (let k = from; k < j;) {
          const cp = original.codePointAt(k) ?? 0;
          const width = cp > 0xffff ? 2 : 1;
          const changed = nfkcChange(cp);
          if (changed !== null) {
            flush(k);
            b.mapped(changed, k);
            span = k + width;
          }
          k += width;
        }
      }
      i = j;
      continue;
    }

    // A run of whitespace and invisible characters.
    let j = i;
    let breaks = 0;
    let spaces = false;
    let tab = false;
    while (j < n) {
      const d = original.charCodeAt(j);
      if (d > 0x20 && d < 0x7f) break;
      const k = classify(d);
      if (k === Cls.Plain) break;
      if (k === Cls.Newline) {
        // CRLF counts as one line break.
        if (!(d === 0x0a && j > 0 && original.charCodeAt(j - 1) === 0x0d)) breaks++;
      } else if (k === Cls.Tab) tab = true;
      if (k !== Cls.Drop) spaces = true;
      j++;
    }
    let sep = "";
    if (spaces) {
      if (!lines) sep = " ";
      else sep = breaks > 1 ? "\n\n" : breaks === 1 ? "\n" : tab ? "\t" : " ";
    }
    if (!keepsAsWritten(original.slice(i, j), sep)) {
      flush(i);
      if (sep !== "") b.mapped(sep, i);
      span = j;
    }
    i = j;
  }

  if (span === 0 && b.length === 0) return { text: original, offsets: undefined };
  flush(n);
  return b.finish(original);
}

/** Normalises one table cell: no line breaks inside, no tabs that would fake a column. */
export function normaliseCell(cell: string): string {
  return normalise(cell, { lines: false }).text;
}
