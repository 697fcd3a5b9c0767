import { decodeText } from "./charset.js";

/**
 * RTF to text (RTF 1.9.1): control words are dropped, `\'hh` bytes decoded in the document's
 * code page (`\ansicpg`, or a font's `\fcharset` is not tracked), `\uN` read as Unicode with
 * its fallback characters skipped, and destinations that hold no readable text (font and
 * colour tables, pictures, embedded objects, `\*` extensions) skipped whole.
 */

// prettier-ignore
const SKIP_DESTINATIONS = new Set([
  "fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "objdata", "themedata",
  "colorschememapping", "datastore", "xmlnstbl", "listtable", "listoverridetable", "rsidtbl",
  "generator", "latentstyles", "filetbl", "revtbl", "pgdsctbl", "bkmkstart", "bkmkend",
  "fldinst", "nonshppict", "blipuid", "wgrffmtfilter", "mmathPr", "xmlopen",
]);

// prettier-ignore
const BREAKS: Record<string, string> = {
  par: "\n", line: "\n", row: "\n", sect: "\n", page: "\n", pard: "", cell: "\t", tab: "\t",
  emdash: "\u2014", endash: "\u2013", bullet: "\u2022", lquote: "\u2018", rquote: "\u2019",
  ldblquote: "\u201c", rdblquote: "\u201d", emspace: " ", enspace: " ", qmspace: " ",
};

interface Group {
  skip: boolean;
  uc: number;
}

function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}

export function rtfToText(buf: Buffer): string {
  const s = buf.toString("latin1");
  const out: string[] = [];
  const bytes: number[] = [];
  let codepage = "windows-1252";
  let group: Group = { skip: false, uc: 1 };
  const stack: Group[] = [];
  let pendingSkip = 0;
  let i = 0;

  const flushBytes = (): void => {
    if (bytes.length === 0) return;
    if (!group.skip) out.push(decodeText(Buffer.from(bytes), codepage));
    bytes.length = 0;
  };
  const emit = (text: string): void => {
    flushBytes();
    if (!group.skip) out.push(text);
  };

  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (pendingSkip > 0 && c !== 0x7b && c !== 0x7d) {
      // Fallback characters after \uN: a plain char or a whole control (e.g. \'e9) counts as one.
      pendingSkip--;
      if (c === 0x5c && s[i + 1] === "'") i += 4;
      else if (c === 0x5c) i += 2;
      else i++;
      continue;
    }
    if (c === 0x7b) {
      flushBytes();
      stack.push(group);
      group = { ...group };
      if (s.startsWith("\\*", i + 1)) group.skip = true;
      i++;
      continue;
    }
    if (c === 0x7d) {
      flushBytes();
      group = stack.pop() ?? group;
      pendingSkip = 0;
      i++;
      continue;
    }
    if (c === 0x0d || c === 0x0a) {
      i++;
      continue;
    }
    if (c !== 0x5c) {
      let j = i;
      while (j < s.length) {
        const d = s.charCodeAt(j);
        if (d === 0x5c || d === 0x7b || d === 0x7d || d === 0x0d || d === 0x0a) break;
        j++;
      }
      emit(s.slice(i, j));
      i = j;
      continue;
    }

    // A backslash: control symbol, hex byte or control word.
    const next = s.charCodeAt(i + 1);
    if (next === 0x27) {
      const hex = parseInt(s.slice(i + 2, i + 4), 16);
      if (!Number.isNaN(hex) && !group.skip) bytes.push(hex);
      i += 4;
      continue;
    }
    if (!isLetter(next)) {
      const sym = s[i + 1] ?? "";
      if (sym === "\\" || sym === "{" || sym === "}") emit(sym);
      else if (sym === "~") emit("\u00a0");
      else if (sym === "_") emit("-");
      else if (sym === "\n" || sym === "\r") emit("\n");
      i += 2;
      continue;
    }
    let j = i + 1;
    while (j < s.length && isLetter(s.charCodeAt(j))) j++;
    const word = s.slice(i + 1, j);
    let k = j;
    if (s[k] === "-") k++;
    while (k < s.length && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57) k++;
    const param = k > j ? Number(s.slice(j, k)) : null;
    if (s[k] === " ") k++;
    i = k;

    if (word === "bin" && param !== null) {
      i += Math.max(0, param);
      continue;
    }
    if (SKIP_DESTINATIONS.has(word)) {
      flushBytes();
      group.skip = true;
      continue;
    }
    if (word === "ansicpg" && param !== null) codepage = `cp${param}`;
    else if (word === "uc" && param !== null) group.uc = param;
    else if (word === "u" && param !== null) {
      emit(String.fromCharCode(param < 0 ? param + 65536 : param));
      pendingSkip = group.uc;
    } else {
      const brk = BREAKS[word];
      if (brk !== undefined) emit(brk);
    }
  }
  flushBytes();
  return out.join("");
}
