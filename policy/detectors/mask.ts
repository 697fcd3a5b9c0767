/**
 * Masks a matched value for explanations: every letter and digit becomes "*" except the last
 * few (four for values of nine or more, a third for shorter ones); separators stay, so
 * "123-45-6789" reads "***-**-6789". Names keep nothing but their shape.
 */
export function maskValue(value: string, options: { keepNone?: boolean } = {}): string {
  const alnum = value.replace(/[^\p{L}\p{N}]/gu, "").length;
  const keep = options.keepNone === true ? 0 : alnum >= 9 ? 4 : Math.floor(alnum / 3);
  let seen = 0;
  let out = "";
  for (const ch of value) {
    if (/[\p{L}\p{N}]/u.test(ch)) {
      seen++;
      out += seen > alnum - keep ? ch : "*";
    } else {
      out += ch === "\n" || ch === "\t" ? " " : ch;
    }
  }
  return out;
}
