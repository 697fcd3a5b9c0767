/**
 * One pass over a segment's lower-cased text finds every dictionary word and label the
 * detectors ask about: a trie flattened into a transition table and walked by character code
 * from each word start, with no allocation per word. Detectors then look only around these
 * hits instead of running scans of their own, which keeps plain-text throughput high. The same
 * structure answers "is a context word near?" for small windows.
 */

export interface WordHit {
  start: number;
  end: number;
  /** The term as listed (lower case, single spaces). */
  term: string;
  /** Which list it came from, e.g. "drug", "label:mrn". */
  kind: string;
}

/** Symbol per ASCII code: a-z, 0-9 and the punctuation terms use; -1 for anything else. */
const SYMBOL = new Int8Array(128).fill(-1);
const PUNCT = "#/.'&+%:()!,;?*@$=\"";
for (let c = 97; c <= 122; c++) SYMBOL[c] = c - 97;
for (let c = 48; c <= 57; c++) SYMBOL[c] = 26 + c - 48;
for (let i = 0; i < PUNCT.length; i++) {
  const code = PUNCT.charCodeAt(i);
  if (code < 128) SYMBOL[code] = 36 + i;
}
const GAP_SYMBOL = 36 + PUNCT.length;
const SYMBOLS = GAP_SYMBOL + 1;

function isAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
}

/**
 * A term ending in a letter may be followed by a digit ("MRN34312787", "DOB11/06/1947") but
 * not by a letter; one ending in a digit by neither; one ending in punctuation by anything.
 */
function endsWord(last: number, after: number): boolean {
  if (last >= 97 && last <= 122) return !((after >= 97 && after <= 122) || after > 127);
  if (last >= 48 && last <= 57) return !(isAlnum(after) || after > 127);
  return true;
}

function isLetter(c: number): boolean {
  return c >= 97 && c <= 122;
}

/**
 * Where a term matched at lower[start, end) ends as a whole word, or -1. A term of three or
 * more characters ending in a letter other than "s" also matches its plural ("SSNs", "MRNs",
 * "diagnosis codes"); shorter ones do not, so "hi" is not found in "his" nor "it" in "its".
 */
function wordEnd(lower: string, start: number, end: number): number {
  const last = lower.charCodeAt(end - 1);
  const after = end < lower.length ? lower.charCodeAt(end) : 32;
  if (endsWord(last, after)) return end;
  if (after !== 115 || !isLetter(last) || last === 115 || end - start < 3) return -1;
  const next = end + 1 < lower.length ? lower.charCodeAt(end + 1) : 32;
  return endsWord(115, next) ? end + 1 : -1;
}

/** Characters a space in a term stands for: spaces, tabs, line breaks, "_", "-", NBSP. */
function isGap(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 95 || c === 45 || c === 160;
}

/**
 * Lower case with Latin accents folded away ("Diagnóstico" -> "diagnostico", "NIÑO" -> "nino"),
 * one character for one, so offsets in the folded text are offsets in the text. Terms and
 * text are both folded, so a policy author's accented keyword matches with or without its
 * accents. Characters with no ASCII base (ß, ø, other scripts) stay as they are.
 */
export function fold(text: string): string {
  if (!NON_ASCII.test(text)) return text.toLowerCase();
  let lower = text.toLowerCase();
  if (lower.length !== text.length) {
    lower = "";
    for (const ch of text) {
      const l = ch.toLowerCase();
      lower += l.length === ch.length ? l : ch;
    }
  }
  return lower.replace(LATIN, (ch) => FOLDED.get(ch) ?? ch);
}

const NON_ASCII = /[^\t\n\r\u0020-\u007e]/;
const LATIN = /[\u00c0-\u024f]/g;
const FOLDED = new Map<string, string>();
for (let c = 0xc0; c <= 0x24f; c++) {
  const ch = String.fromCharCode(c).toLowerCase();
  const parts = ch.normalize("NFD");
  const base = parts.charCodeAt(0);
  if (ch.length === 1 && base < 128 && /^\p{M}*$/u.test(parts.slice(1))) {
    FOLDED.set(String.fromCharCode(c), parts[0] as string);
  }
}

/** A term as the trie holds it: NFKC, folded, trimmed, single spaces. */
function termForm(term: string): string {
  return fold(term.normalize("NFKC")).trim().replace(/\s+/g, " ");
}

/**
 * Why a term can never match, or undefined when it can: the code point of the first
 * character the trie does not know (only letters, digits, spaces and the punctuation above).
 */
export function unmatchable(term: string): string | undefined {
  const t = termForm(term);
  if (t === "") return "it is empty";
  for (const ch of t) {
    const c = ch.charCodeAt(0);
    if (c === 32 || c === 45 || (c < 128 && SYMBOL[c] !== -1)) continue;
    const code = (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
    return (
      `character U+${code} cannot be matched; use letters (accents are ignored), digits, ` +
      `spaces and ${PUNCT.split("").join(" ")} -`
    );
  }
  return undefined;
}

export class WordTrie {
  #next = new Int32Array(SYMBOLS * 64);
  #terminal = new Uint8Array(64);
  #nodes = 1;
  readonly #ends = new Map<number, { term: string; kind: string }[]>();

  add(term: string, kind: string): void {
    const t = termForm(term);
    let node = 0;
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      const symbol = c === 32 ? GAP_SYMBOL : c < 128 ? (SYMBOL[c] ?? -1) : -1;
      if (symbol === -1) {
        // A "-" inside a term also matches a gap; other characters cannot be matched.
        if (c !== 45) return;
        node = this.#child(node, GAP_SYMBOL);
        continue;
      }
      node = this.#child(node, symbol);
    }
    if (node === 0) return;
    if (node >= this.#terminal.length) {
      const grown = new Uint8Array(this.#terminal.length * 2 + node);
      grown.set(this.#terminal);
      this.#terminal = grown;
    }
    this.#terminal[node] = 1;
    const ends = this.#ends.get(node) ?? [];
    if (!ends.some((e) => e.kind === kind)) ends.push({ term: t, kind });
    this.#ends.set(node, ends);
  }

  addAll(terms: readonly string[], kind: string): this {
    for (const term of terms) this.add(term, kind);
    return this;
  }

  /** Every whole-word occurrence in `lower` (from `from` to `to`), in text order. */
  scan(lower: string, from = 0, to = lower.length): WordHit[] {
    const hits: WordHit[] = [];
    this.#scan(lower, from, to, hits);
    return hits;
  }

  /** True when any term occurs whole in lower[from, to). */
  test(lower: string, from = 0, to = lower.length): boolean {
    return this.#scan(lower, from, to, undefined) !== -1;
  }

  /** End offset of the last occurrence in lower[from, to), or -1. */
  lastEnd(lower: string, from = 0, to = lower.length): number {
    return this.#scan(lower, from, to, null);
  }

  #child(node: number, symbol: number): number {
    const slot = node * SYMBOLS + symbol;
    const existing = this.#next[slot] ?? 0;
    if (existing !== 0) return existing;
    if ((this.#nodes + 1) * SYMBOLS > this.#next.length) {
      const grown = new Int32Array(this.#next.length * 2);
      grown.set(this.#next);
      this.#next = grown;
    }
    const created = this.#nodes++;
    this.#next[slot] = created;
    return created;
  }

  /**
   * Walks the trie from each word start. With an array, collects every hit and returns -1;
   * with undefined, returns the end of the first hit (a test); with null, the end of the last.
   * One loop for the three keeps the hot path free of callbacks.
   */
  #scan(lower: string, from: number, to: number, hits: WordHit[] | undefined | null): number {
    const next = this.#next;
    const terminal = this.#terminal;
    let lastEnd = -1;
    let prev = from > 0 ? lower.charCodeAt(from - 1) : 32;
    for (let i = from; i < to; i++) {
      const c = lower.charCodeAt(i);
      const p = prev;
      prev = c;
      if ((p >= 97 && p <= 122) || (p >= 48 && p <= 57) || p > 127 || c >= 128) continue;
      let node = next[SYMBOL[c] as number] ?? 0;
      if (node === 0 || SYMBOL[c] === -1) continue;
      let j = i + 1;
      while (node !== 0) {
        if (terminal[node] === 1) {
          const end = wordEnd(lower, i, j);
          if (end !== -1) {
            if (hits === undefined) return end;
            if (hits === null) lastEnd = Math.max(lastEnd, end);
            else
              for (const e of this.#ends.get(node) ?? [])
                hits.push({ start: i, end, term: e.term, kind: e.kind });
          }
        }
        if (j >= to) break;
        const d = lower.charCodeAt(j);
        const sym = d < 128 ? (SYMBOL[d] as number) : -1;
        const step = sym === -1 ? 0 : (next[node * SYMBOLS + sym] ?? 0);
        if (step !== 0) {
          node = step;
          j++;
          continue;
        }
        const gap = next[node * SYMBOLS + GAP_SYMBOL] ?? 0;
        if (d === 46 && isLetter(lower.charCodeAt(j - 1))) {
          // An abbreviation's dot ("Soc. Sec. No.", "S.S.N."): it stands for a gap in the
          // term, or for nothing between two letters.
          const after = j + 1 < to ? lower.charCodeAt(j + 1) : 32;
          if (gap !== 0 && isGap(after)) {
            let k = j + 1;
            while (k < to && k - j < 8 && isGap(lower.charCodeAt(k))) k++;
            node = gap;
            j = k;
            continue;
          }
          const skip =
            after < 128 && isLetter(after)
              ? (next[node * SYMBOLS + (SYMBOL[after] as number)] ?? 0)
              : 0;
          if (skip === 0) break;
          node = skip;
          j += 2;
          continue;
        }
        if (gap === 0 || !isGap(d)) break;
        let k = j;
        while (k < to && k - j < 8 && isGap(lower.charCodeAt(k))) k++;
        node = gap;
        j = k;
      }
    }
    return lastEnd;
  }
}
