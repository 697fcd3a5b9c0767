import type { AttachmentInfo } from "./extract/types.js";

/**
 * Where a finding came from, said without the part's name. Extraction names its sources after
 * the parts ("attachment:Jane Roe 512-44-1234.txt", "attachment:x.zip/Roe, Jane.pdf",
 * "attachment:book.xlsx#Roe J"), and a file or sheet name can be PHI itself, so everything
 * shown to a person (`sealgate policy test`, its JSON) uses these labels instead:
 * "attachment#2 (.txt)", "attachment#1 (.xlsx) sheet 2", "attachment#3 (.pdf) file name".
 */
export class SourceLabels {
  /** Raw source prefix of a named part -> its neutral label. */
  readonly #parts = new Map<string, string>();
  /** Longest prefixes first, so a ZIP entry is found before its archive. */
  #prefixes: string[] = [];
  readonly #sheets = new Map<string, Map<string, number>>();

  constructor(attachments: readonly AttachmentInfo[]) {
    for (const a of attachments) this.#register(a.source, a.filename ?? nameOf(a.source));
  }

  /** The neutral label of a segment's or unscannable part's source. */
  label(source: string): string {
    if (PLAIN_PART.test(source)) return source;
    const prefix = this.#prefixes.find(
      (p) => source === p || (source.startsWith(p) && "/#:".includes(source[p.length] ?? "")),
    );
    if (prefix === undefined) {
      // A part that never became an attachment (e.g. an encrypted one): name it all the same.
      const named = /^(?:attachment|message):/.test(source) ? source : undefined;
      if (named === undefined) return "part";
      this.#register(named, nameOf(named));
      return this.label(source);
    }
    const base = this.#parts.get(prefix) ?? "part";
    const rest = source.slice(prefix.length);
    if (rest === "") return base;
    if (rest === NAME_SUFFIX) return `${base} file name`;
    if (rest.startsWith("#")) return `${base} sheet ${this.#sheet(prefix, rest.slice(1))}`;
    const inner = rest.slice(1);
    if (PLAIN_PART.test(inner)) return `${base}/${inner}`;
    this.#register(source, nameOf(inner));
    return this.label(source);
  }

  #register(source: string, filename: string): void {
    if (this.#parts.has(source)) return;
    const kind = source.slice(source.lastIndexOf("/") + 1).startsWith("message:")
      ? "message"
      : "attachment";
    this.#parts.set(source, `${kind}#${this.#parts.size + 1}${extension(filename)}`);
    this.#prefixes = [...this.#parts.keys()].sort((a, b) => b.length - a.length);
  }

  #sheet(prefix: string, name: string): number {
    const sheets = this.#sheets.get(prefix) ?? new Map<string, number>();
    this.#sheets.set(prefix, sheets);
    const n = sheets.get(name) ?? sheets.size + 1;
    sheets.set(name, n);
    return n;
  }
}

/** Suffix of the segment that holds an attachment's own file name, scanned as text. */
export const NAME_SUFFIX = "::name";

/** Sources named by the extraction itself, never after a part's name. */
const PLAIN_PART =
  /^(?:subject|headers|outside-parts|message|part\d+|(?:body(?:\.html)?|encrypted)(?:\.\d+)?)$|^(?:attachment|message):part\d+$/;

function nameOf(source: string): string {
  return source.slice(source.lastIndexOf(":") + 1);
}

/** " (.pdf)": a short extension with a letter in it, lower case; nothing else of the name. */
function extension(filename: string): string {
  const ext = /\.([A-Za-z0-9]{1,5})$/.exec(filename)?.[1];
  return ext !== undefined && /[A-Za-z]/.test(ext) ? ` (.${ext.toLowerCase()})` : "";
}
