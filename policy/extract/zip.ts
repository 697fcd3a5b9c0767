import yauzl from "yauzl";
import { ExtractError } from "./context.js";

/**
 * ZIP reading with limits against bombs. The central directory is read first, so entry count
 * and declared sizes are judged before anything is inflated; while inflating, yauzl checks that
 * an entry yields exactly its declared size and we stop at the per-part byte limit, so a lying
 * header cannot make us hold more than that.
 */

export interface ZipLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxRatio: number;
}

export interface ZipEntry {
  name: string;
  size: number;
  compressedSize: number;
  encrypted: boolean;
  directory: boolean;
}

/** Ratios are judged only above this size: a small file of spaces compresses very well. */
const RATIO_FLOOR = 1 << 20;

export class ZipArchive {
  readonly #zip: yauzl.ZipFile;
  readonly #entries: Map<string, yauzl.Entry>;
  readonly #limits: ZipLimits;

  private constructor(zip: yauzl.ZipFile, entries: Map<string, yauzl.Entry>, limits: ZipLimits) {
    this.#zip = zip;
    this.#entries = entries;
    this.#limits = limits;
  }

  static async open(buf: Buffer, limits: ZipLimits): Promise<ZipArchive> {
    let zip: yauzl.ZipFile;
    try {
      zip = await yauzl.fromBufferPromise(buf, {
        lazyEntries: true,
        validateEntrySizes: true,
        strictFileNames: false,
        decodeStrings: true,
      });
    } catch (err) {
      throw new ExtractError("corrupt", { cause: err });
    }
    if (zip.entryCount > limits.maxEntries) {
      zip.close();
      throw new ExtractError("over-budget");
    }

    const entries = new Map<string, yauzl.Entry>();
    try {
      for await (const e of zip.eachEntry()) entries.set(e.fileName, e);
    } catch (err) {
      zip.close();
      throw new ExtractError("corrupt", { cause: err });
    }
    return new ZipArchive(zip, entries, limits);
  }

  list(): ZipEntry[] {
    return [...this.#entries.values()].map((e) => ({
      name: e.fileName,
      size: e.uncompressedSize,
      compressedSize: e.compressedSize,
      encrypted: e.isEncrypted(),
      directory: e.fileName.endsWith("/"),
    }));
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** Reads one entry whole, or throws password / over-budget / corrupt. */
  async read(name: string): Promise<Buffer> {
    const e = this.#entries.get(name);
    if (!e) throw new ExtractError("corrupt");
    if (e.isEncrypted()) throw new ExtractError("password");

    const { maxEntryBytes, maxRatio } = this.#limits;
    if (e.uncompressedSize > maxEntryBytes) throw new ExtractError("over-budget");
    if (e.uncompressedSize > RATIO_FLOOR && e.uncompressedSize > e.compressedSize * maxRatio) {
      throw new ExtractError("over-budget");
    }
    if (!e.canDecodeFileData()) throw new ExtractError("unsupported");

    let stream;
    try {
      stream = await this.#zip.openReadStreamPromise(e);
    } catch (err) {
      throw new ExtractError("corrupt", { cause: err });
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > maxEntryBytes) throw new ExtractError("over-budget");
        chunks.push(chunk);
      }
    } catch (err) {
      stream.destroy();
      if (err instanceof ExtractError) throw err;
      throw new ExtractError("corrupt", { cause: err });
    }
    return Buffer.concat(chunks, total);
  }

  close(): void {
    this.#zip.close();
  }
}
