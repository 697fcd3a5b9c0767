import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { ExtractError } from "./context.js";
import { PDF_WORKER_SOURCE } from "./pdf-worker-source.js";
import type { UnscannableReason } from "./types.js";

/**
 * PDF text through pdf.js in worker threads. A hostile PDF can make a parser loop or balloon,
 * so each job runs in a worker with a heap limit and a hard deadline: past it the worker is
 * terminated (the job answers "timeout"), past the heap limit it dies ("over-budget"). Idle
 * workers are kept for the next PDF, since loading pdf.js costs a few hundred ms, but do not
 * keep the process alive.
 */

const HEAP_MB = 384;

interface Answer {
  id: number;
  pages?: string[];
  error?: UnscannableReason;
}

interface Job {
  data: Uint8Array;
  maxChars: number;
  timeoutMs: number;
}

let pdfjsUrl: string | null = null;

function resolvePdfjs(): string {
  pdfjsUrl ??= pathToFileURL(
    createRequire(import.meta.url).resolve("pdfjs-dist/legacy/build/pdf.mjs"),
  ).href;
  return pdfjsUrl;
}

class PdfWorkers {
  readonly #max: number;
  #idle: Worker[] = [];
  #running = 0;
  #waiting: (() => void)[] = [];
  #nextId = 1;

  constructor(max: number) {
    this.#max = max;
  }

  async #acquire(deadline: number): Promise<Worker> {
    while (this.#idle.length === 0 && this.#running >= this.#max) {
      const left = deadline - Date.now();
      if (left <= 0) throw new ExtractError("timeout");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiting.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.#running++;
    const idle = this.#idle.pop();
    if (idle) return idle;
    return new Worker(PDF_WORKER_SOURCE, {
      eval: true,
      workerData: { pdfjsUrl: resolvePdfjs() },
      resourceLimits: { maxOldGenerationSizeMb: HEAP_MB },
    });
  }

  #release(worker: Worker | null): void {
    this.#running--;
    if (worker) {
      worker.unref();
      this.#idle.push(worker);
    }
    this.#waiting.shift()?.();
  }

  async run(job: Job): Promise<string[]> {
    const deadline = Date.now() + job.timeoutMs;
    const worker = await this.#acquire(deadline);
    worker.ref();
    const id = this.#nextId++;
    const data = new Uint8Array(job.data);

    return new Promise<string[]>((resolve, reject) => {
      let settled = false;
      const finish = (keep: boolean, fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        if (!keep) void worker.terminate();
        this.#release(keep ? worker : null);
        fn();
      };
      const onMessage = (a: Answer): void => {
        if (a.id !== id) return;
        if (a.pages) finish(true, () => resolve(a.pages ?? []));
        else finish(true, () => reject(new ExtractError(a.error ?? "corrupt")));
      };
      const onError = (err: Error & { code?: string }): void => {
        const reason = err.code === "ERR_WORKER_OUT_OF_MEMORY" ? "over-budget" : "corrupt";
        finish(false, () => reject(new ExtractError(reason, { cause: err })));
      };
      const onExit = (): void => finish(false, () => reject(new ExtractError("corrupt")));
      const timer = setTimeout(
        () => finish(false, () => reject(new ExtractError("timeout"))),
        Math.max(0, deadline - Date.now()),
      );
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      worker.postMessage({ id, data, maxChars: job.maxChars }, [data.buffer]);
    });
  }
}

let pool: PdfWorkers | null = null;

/** The text of each page of a PDF; throws ExtractError (encrypted, corrupt, timeout ...). */
export function pdfPages(data: Uint8Array, options: { maxChars: number; timeoutMs: number }) {
  pool ??= new PdfWorkers(Math.max(1, Math.min(2, availableParallelism() - 1)));
  return pool.run({ data, ...options });
}
