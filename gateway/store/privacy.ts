/**
 * What the stores keep out of their rows: events name a recipient by its position in the
 * message's envelope, replies are stored without addresses, and a message's bytes are
 * cleared once it is done (so the column allows NULL, but nothing is queued without them).
 */

import { withoutAddresses } from "../deliver/classify.js";
import { StoreError } from "./errors.js";
import type { NewMessage } from "./types.js";

export function requireBytes(m: NewMessage): void {
  if (!Buffer.isBuffer(m.raw)) throw new StoreError("STORE_INVALID", "a message needs its bytes");
}

/**
 * The 1-based position of `address` in the envelope's recipients: an exact match first, else
 * one that differs only in case (the portal keeps owners in lower case). Undefined if absent.
 */
export function rcptPosition(rcptTo: readonly string[], address: string): number | undefined {
  let i = rcptTo.indexOf(address);
  if (i < 0) {
    const wanted = address.toLowerCase();
    i = rcptTo.findIndex((r) => r.toLowerCase() === wanted);
  }
  return i < 0 ? undefined : i + 1;
}

/** The address an event's position names, for display (`sealgate trace`). */
export function rcptAddress(rcptTo: readonly string[], rcpt: number | undefined): string | null {
  return rcpt === undefined ? null : (rcptTo[rcpt - 1] ?? null);
}

/** A reply or reason as stored with a recipient: its addresses replaced by "…". */
export function storedReply<T extends string | null | undefined>(reply: T): T {
  return (typeof reply === "string" ? withoutAddresses(reply) : reply) as T;
}
