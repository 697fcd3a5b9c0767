import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * The loop guard. Every copy leaving sealgate carries a stamp
 *   X-Sealgate-Loop: v=1; t=<unix seconds>; h=<hops>; r=<s|c>; m=<base64url HMAC>
 * where the HMAC covers the Message-ID, t, h and r. The tenant's transport rule lets stamped
 * mail pass; if it still comes back, a valid fresh stamp means "already processed" (route
 * class r is reused, never relaxed) and h counts the round trips. A stamp a user typed, one
 * for another Message-ID, or a stale one counts for nothing: the message is scanned as new.
 */

export type RouteClass = "sensitive" | "clean";

export interface LoopStamp {
  hops: number;
  route: RouteClass;
  issuedAt: number;
}

export interface LoopGuardOptions {
  secret: string;
  /** Seconds a stamp stays fresh. */
  maxAge: number;
}

function mac(secret: string, messageId: string, t: number, h: number, r: string): string {
  return createHmac("sha256", secret).update(`${messageId}\n${t}\n${h}\n${r}`).digest("base64url");
}

export function createStamp(
  opts: LoopGuardOptions,
  messageId: string,
  stamp: { hops: number; route: RouteClass },
  now = Date.now(),
): string {
  const t = Math.floor(now / 1000);
  const r = stamp.route === "sensitive" ? "s" : "c";
  return `v=1; t=${t}; h=${stamp.hops}; r=${r}; m=${mac(opts.secret, messageId, t, stamp.hops, r)}`;
}

/** Returns the stamp if it is authentic and fresh, otherwise null. */
export function verifyStamp(
  opts: LoopGuardOptions,
  messageId: string,
  value: string,
  now = Date.now(),
): LoopStamp | null {
  const fields = new Map<string, string>();
  for (const part of value.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const t = Number(fields.get("t"));
  const h = Number(fields.get("h"));
  const r = fields.get("r");
  const m = fields.get("m");
  if (fields.get("v") !== "1" || !Number.isInteger(t) || !Number.isInteger(h) || h < 0) return null;
  if (r !== "s" && r !== "c") return null;
  if (!m) return null;
  const expected = Buffer.from(mac(opts.secret, messageId, t, h, r));
  const given = Buffer.from(m);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  const age = now / 1000 - t;
  if (age > opts.maxAge || age < -300) return null;
  return { hops: h, route: r === "s" ? "sensitive" : "clean", issuedAt: t };
}
