import { RE2 } from "@adguard/re2-wasm";

/**
 * Policy authors' regular expressions run in RE2 (compiled to WebAssembly), whose matching time
 * is linear in the input: no pattern can backtrack catastrophically. Constructs that need
 * backtracking (backreferences, lookaround) are refused when the policy loads, with the reason.
 */
export class SafeRegex {
  readonly #re: RE2;
  readonly source: string;

  constructor(source: string, options: { ignoreCase: boolean }) {
    if (source.length > 2000) throw new Error("pattern longer than 2000 characters");
    const reason = unsupported(source);
    if (reason !== undefined) throw new Error(reason);
    try {
      this.#re = new RE2(source, options.ignoreCase ? "giu" : "gu");
    } catch (err) {
      const why = err instanceof Error ? err.message.replace(/^.*?: (?=[a-z])/i, "") : String(err);
      throw new Error(`not a valid RE2 pattern: ${why}`, { cause: err });
    }
    this.source = source;
    this.#re.lastIndex = 0;
    if (this.#re.exec("") !== null) throw new Error("the pattern matches an empty string");
  }

  /**
   * Calls fn for each match. The text is handed to RE2 in blocks that end at a line break, so
   * copying it into WebAssembly memory stays linear however many matches there are.
   */
  forEach(text: string, fn: (start: number, end: number, value: string) => void): void {
    const BLOCK = 64 * 1024;
    let from = 0;
    while (from < text.length) {
      let to = Math.min(text.length, from + BLOCK);
      if (to < text.length) {
        const nl = text.indexOf("\n", to);
        to = nl === -1 ? text.length : nl + 1;
      }
      const block = text.slice(from, to);
      this.#re.lastIndex = 0;
      for (let m = this.#re.exec(block); m !== null; m = this.#re.exec(block)) {
        const whole = m[0] ?? "";
        const value = m.groups?.["value"] ?? whole;
        const offset = m.groups?.["value"] === undefined ? 0 : Math.max(0, whole.indexOf(value));
        const start = from + m.index + offset;
        fn(start, start + value.length, value);
        if (whole.length === 0) this.#re.lastIndex++;
      }
      from = to;
    }
  }
}

/** Names what the pattern asks for that a linear-time engine cannot do, or undefined. */
function unsupported(source: string): string | undefined {
  if (/(^|[^\\])(\\\\)*\\[1-9]/.test(source) || /\\k</.test(source)) {
    return "backreferences need a backtracking engine, which a pattern could make hang; rewrite without them";
  }
  if (/\(\?<?[=!]/.test(source)) {
    return "lookahead and lookbehind are not supported (RE2 syntax); use context words instead";
  }
  return undefined;
}
