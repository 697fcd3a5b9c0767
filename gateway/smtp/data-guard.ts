import type { ReplyName } from "./replies.js";

const CR = 0x0d;
const LF = 0x0a;

export interface DataGuardOptions {
  /** Longest line allowed, in octets without the CRLF. */
  maxLineOctets: number;
  /** Largest message allowed, in octets (after dot-unstuffing). */
  maxBytes: number;
}

/**
 * Checks the DATA bytes as they stream in and keeps them only while they are acceptable.
 *
 * smtp-server ends DATA only at <CRLF>.<CRLF>, so a lone CR or LF never ends a message here;
 * but a next hop that is more lenient could read `\n.\n` as the end and run whatever follows
 * as a second message (SMTP smuggling). Refusing any message with a bare CR or LF anywhere
 * closes that for good. Line length is checked in the same pass. After the first violation
 * the guard drops what it held and only counts, so a refused message is never buffered.
 */
export class DataGuard {
  readonly #maxLine: number;
  readonly #maxBytes: number;
  #chunks: Buffer[] = [];
  #bytes = 0;
  #lineLength = 0;
  #afterCr = false;
  #violation: ReplyName | null = null;

  constructor(options: DataGuardOptions) {
    this.#maxLine = options.maxLineOctets;
    this.#maxBytes = options.maxBytes;
  }

  /** Octets seen so far, kept or not. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The first problem found, as the reply it earns; null while the message is acceptable. */
  get violation(): ReplyName | null {
    return this.#violation;
  }

  push(chunk: Buffer): void {
    this.#bytes += chunk.length;
    if (this.#violation !== null) return;
    if (this.#bytes > this.#maxBytes) {
      this.#fail("messageTooBig");
      return;
    }
    this.#scan(chunk);
    if (this.#violation === null) this.#chunks.push(chunk);
  }

  /** Call once the data stream ended; returns the message bytes, or null if refused. */
  finish(): Buffer | null {
    // DATA as smtp-server hands it over ends with the CRLF before the final dot, so a CR
    // still waiting for its LF here was a bare CR.
    if (this.#violation === null && this.#afterCr) this.#fail("bareNewline");
    if (this.#violation !== null) return null;
    const raw = Buffer.concat(this.#chunks, this.#bytes);
    this.#chunks = [];
    return raw;
  }

  #fail(reply: ReplyName): void {
    this.#violation = reply;
    this.#chunks = [];
  }

  #scan(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#afterCr) {
        if (chunk[i] !== LF) return this.#fail("bareNewline");
        this.#afterCr = false;
        this.#lineLength = 0;
        i++;
        continue;
      }
      const next = nextNewline(chunk, i);
      const end = next < 0 ? chunk.length : next;
      this.#lineLength += end - i;
      if (this.#lineLength > this.#maxLine) return this.#fail("lineTooLong");
      if (next < 0) return;
      if (chunk[next] === LF) return this.#fail("bareNewline");
      this.#afterCr = true;
      i = next + 1;
    }
  }
}

/** Index of the next CR or LF at or after `from`, or -1. */
function nextNewline(chunk: Buffer, from: number): number {
  const cr = chunk.indexOf(CR, from);
  const lf = cr < 0 ? chunk.indexOf(LF, from) : chunk.subarray(from, cr).indexOf(LF);
  if (cr < 0) return lf;
  return lf < 0 ? cr : from + lf;
}
