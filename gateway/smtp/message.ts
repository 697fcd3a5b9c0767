import type { Readable } from "node:stream";
import type { Config, ConnectorConfig } from "../config/index.js";
import { verifyStamp, type LoopStamp } from "../loop-guard.js";
import type { NewMessage } from "../store/index.js";
import type { ConnectorTable } from "./connectors.js";
import { DataGuard } from "./data-guard.js";
import { readIngressHeaders } from "./headers.js";
import type { ReplyName } from "./replies.js";

/** RFC 5321 §6.3: more Received fields than this means the message is looping. */
export const MAX_RECEIVED_HEADERS = 50;

/** What the DATA phase decided, before anything is stored. */
export type DataDecision =
  | { kind: "accept"; message: NewMessage; size: number }
  | { kind: "refuse"; reply: ReplyName; size: number }
  /** The client left before the final dot: nothing to answer. */
  | { kind: "aborted"; size: number };

export interface DataContext {
  config: Config;
  connectors: ConnectorTable;
  /** Connectors left after MAIL FROM. */
  candidates: readonly ConnectorConfig[];
  envelope: { mailFrom: string; rcptTo: string[]; eightBit: boolean; smtpUtf8: boolean };
  clientIp: string;
  /** Loop-guard secret; without one no stamp is trusted. */
  loopSecret: string | undefined;
}

/** Reads one DATA stream through the guard and decides whether it may be queued. */
export function readData(stream: Readable, ctx: DataContext): Promise<DataDecision> {
  const guard = new DataGuard({
    maxLineOctets: ctx.config.smtp.maxLineOctets,
    maxBytes: ctx.config.smtp.maxMessageBytes,
  });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (d: DataDecision) => {
      if (settled) return;
      settled = true;
      resolve(d);
    };
    stream.on("data", (chunk: Buffer) => guard.push(chunk));
    stream.on("error", () => settle({ kind: "aborted", size: guard.bytes }));
    stream.on("close", () => settle({ kind: "aborted", size: guard.bytes }));
    stream.on("end", () => {
      const raw = guard.finish();
      if (raw === null) {
        settle({ kind: "refuse", reply: guard.violation ?? "bareNewline", size: guard.bytes });
        return;
      }
      settle(decide(raw, ctx));
    });
  });
}

function decide(raw: Buffer, ctx: DataContext): DataDecision {
  const size = raw.length;
  const headers = readIngressHeaders(raw, ctx.config.loopGuard.header);
  if (headers.receivedCount > MAX_RECEIVED_HEADERS) {
    return { kind: "refuse", reply: "tooManyHops", size };
  }

  const tenant = ctx.connectors.forTenant(ctx.candidates, headers.tenantIds);
  if (tenant.kind === "reject") return { kind: "refuse", reply: tenant.reply, size };
  const connector = tenant.connectors[0];
  if (!connector) return { kind: "refuse", reply: "tenantNotAllowed", size };

  const stamp = trustedStamp(ctx, headers.messageId, headers.loopStamps);
  if (stamp && stamp.hops + 1 > ctx.config.loopGuard.maxHops) {
    return { kind: "refuse", reply: "routingLoop", size };
  }

  return {
    kind: "accept",
    size,
    message: {
      envelope: { mailFrom: ctx.envelope.mailFrom, rcptTo: ctx.envelope.rcptTo },
      raw,
      messageId: headers.messageId,
      connector: connector.name,
      clientIp: ctx.clientIp,
      origin: "ingress",
      eightBit: ctx.envelope.eightBit,
      smtpUtf8: ctx.envelope.smtpUtf8,
      loop: stamp ? { route: stamp.route, hops: stamp.hops + 1 } : undefined,
    },
  };
}

/**
 * The stamp that proves sealgate already handled this message, if any. A forged, foreign or
 * stale stamp verifies as nothing, so the message is scanned as new. With several valid
 * stamps the highest hop count wins (loops are never under-counted) and a sensitive route
 * wins over clean (a route is never relaxed).
 */
function trustedStamp(
  ctx: DataContext,
  messageId: string | null,
  values: readonly string[],
): LoopStamp | null {
  if (!ctx.loopSecret || messageId === null || values.length === 0) return null;
  const opts = { secret: ctx.loopSecret, maxAge: ctx.config.loopGuard.maxAge };
  let best: LoopStamp | null = null;
  for (const value of values) {
    const stamp = verifyStamp(opts, messageId, value);
    if (!stamp) continue;
    if (!best) {
      best = stamp;
      continue;
    }
    best = {
      hops: Math.max(best.hops, stamp.hops),
      route: best.route === "sensitive" || stamp.route === "sensitive" ? "sensitive" : "clean",
      issuedAt: Math.max(best.issuedAt, stamp.issuedAt),
    };
  }
  return best;
}
