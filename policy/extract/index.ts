import { ExtractContext, reasonOf } from "./context.js";
import { extractMessage } from "./message.js";
import type { Extraction, ExtractionBudget } from "./types.js";

export type * from "./types.js";

/**
 * Text extraction for the policy engine: every part of a message a human would read, as
 * normalised text segments, plus what could not be read. See types.ts for the contract.
 */

export const DEFAULT_BUDGET: ExtractionBudget = Object.freeze({
  maxPartBytes: 25 * 1024 * 1024,
  maxTextBytes: 50 * 1024 * 1024,
  maxMs: 20_000,
  maxDepth: 8,
  maxEntries: 1000,
  maxRatio: 100,
});

/**
 * Extracts the text of a raw RFC 5322 message. Never throws: an unreadable part becomes an
 * unscannable entry; a message that cannot be parsed at all, or that runs out of time, gets one
 * with source "message". When time runs out the answer holds what was read until then, and the
 * rest is never reported clean.
 */
export async function extract(
  raw: Buffer,
  options: { budget?: Partial<ExtractionBudget> } = {},
): Promise<Extraction> {
  const ctx = new ExtractContext({ ...DEFAULT_BUDGET, ...options.budget });
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ctx.remainingMs());
  });

  try {
    const work = extractMessage(ctx, raw, { prefix: "", depth: 0 }).then(() => "done" as const);
    // A rejection after the deadline has nowhere to go; it must not become unhandled.
    work.catch(() => undefined);
    if ((await Promise.race([work, timeUp])) === "timeout") ctx.unscannable("message", "timeout");
  } catch (err) {
    ctx.unscannable("message", reasonOf(err));
  } finally {
    clearTimeout(timer);
    ctx.close();
  }
  return ctx.out;
}
