import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32: no I, L, O, U

/**
 * Queue ids sort by time (like ULIDs) and are short enough to quote on the phone:
 * 8 characters of milliseconds, then 8 random characters.
 */
export function newQueueId(now = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 9; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const rand = randomBytes(8);
  let tail = "";
  for (const byte of rand) tail += ALPHABET[byte % 32];
  return time + tail;
}

export function isQueueId(value: string): boolean {
  return /^[0-9A-HJKMNP-TV-Z]{17}$/.test(value);
}
