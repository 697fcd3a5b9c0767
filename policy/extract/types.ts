/**
 * What text extraction hands to the detectors. Extraction walks the whole MIME tree and every
 * attachment a human would read, normalises the text (NFKC, zero-width and soft hyphens
 * removed, HTML rendered) and keeps a map back to the decoded original for masking.
 */

export type SegmentKind = "subject" | "header" | "body" | "attachment";

export interface TextSegment {
  /**
   * Where the text came from, for explanations (from part names, which may hold PHI): "subject", "body",
   * "body.html", "attachment:report.pdf", "attachment:records.zip/patients.csv",
   * "message:fwd.eml/body", "attachment:eligibility.xlsx#Sheet2", and
   * "attachment:report.pdf::name" for an attachment's file name read as text. File and sheet
   * names can be PHI: show a person `SourceLabels` (policy/sources.ts), never this.
   */
  source: string;
  kind: SegmentKind;
  /** Normalised text the detectors match against. */
  text: string;
  /**
   * For each index of `text`, the index of the same character in `original`
   * (length text.length + 1, last entry = original.length). Absent when text === original.
   */
  offsets?: Int32Array | undefined;
  /** The decoded text before normalisation. */
  original: string;
  /**
   * Tabular sources (CSV, XLSX sheets): the cells, already normalised. For such segments
   * `text` is exactly rows.map((r) => r.join("\t")).join("\n"), so an offset in text maps to
   * a row and column, and a header row can lend context to its whole column.
   */
  table?: string[][] | undefined;
}

export type UnscannableReason =
  | "encrypted" // encrypted PDF, S/MIME or PGP content
  | "password" // password-protected ZIP or Office file
  | "corrupt" // the file does not open as its type says
  | "over-budget" // too large, too deep, too many entries, or a decompression bomb
  | "timeout" // extraction did not finish within its time budget
  | "unsupported"; // a type that may hold text but that we cannot read (e.g. TNEF variants)

export interface Unscannable {
  source: string;
  reason: UnscannableReason;
}

export interface AttachmentInfo {
  source: string;
  /** Decoded file name (RFC 2231 / encoded words), or null. */
  filename: string | null;
  /** Lower-case MIME type as declared, e.g. "application/pdf". */
  contentType: string;
  /** Type sniffed from the bytes when it differs from the declared one, else null. */
  detectedType: string | null;
  size: number;
}

export interface ExtractionBudget {
  /** Bytes of decoded content per part. Default 25 MiB. */
  maxPartBytes: number;
  /** Total bytes of extracted text per message. Default 50 MiB. */
  maxTextBytes: number;
  /** Wall-clock time for the whole message, ms. Default 20000. */
  maxMs: number;
  /** Nesting depth (message/rfc822 inside ZIP inside ...). Default 8. */
  maxDepth: number;
  /** Entries per ZIP and in total. Default 1000. */
  maxEntries: number;
  /** Largest allowed ratio of unpacked to packed size in an archive. Default 100. */
  maxRatio: number;
}

export interface Extraction {
  segments: TextSegment[];
  unscannable: Unscannable[];
  attachments: AttachmentInfo[];
  /** Top-level headers, unfolded and decoded, in order. */
  headers: { name: string; value: string }[];
}
