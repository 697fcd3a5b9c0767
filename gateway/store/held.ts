/** Shared by both stores for held mail: the reason's stable code, and a stored release. */

import type { Release } from "./types.js";

/**
 * The stable code of a stored hold reason ("quarantine: rules a, b" → "quarantine"); the
 * detail after the colon is fixed text or rule names, but events carry the code alone.
 */
export function holdCode(reason: string | null): string | null {
  if (reason === null) return null;
  const i = reason.indexOf(":");
  return i < 0 ? reason : reason.slice(0, i);
}

/** The release columns of a message row; anything but a known value is no release. */
export function releaseOf(as: string | null, by: string | null): Release | undefined {
  if (as !== "encrypt" && as !== "clean") return undefined;
  return { as, by: by ?? "" };
}
