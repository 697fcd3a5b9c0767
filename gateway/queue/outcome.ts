import type { DeliveryConfig } from "../config/index.js";
import type { AttemptResult, RecipientReply } from "../deliver/index.js";
import type {
  DeliveryOutcome,
  LeasedDelivery,
  NewEvent,
  NewMessage,
  RecipientResult,
} from "../store/types.js";
import { buildDsn, type DsnRecipient } from "./dsn.js";

/**
 * Turns one attempt's result into what the store records: who was sent, who failed for good,
 * who waits and until when, the DSN for the sender, and one event per recipient. Pure, so the
 * retry and expiry rules can be tested without a clock or a network.
 */

export interface DecideOptions {
  delivery: LeasedDelivery;
  result: AttemptResult;
  now: Date;
  config: Pick<DeliveryConfig, "retrySchedule" | "maxLifetime" | "postmaster">;
  reportingMta: string;
  organisation: string;
}

export type Decision =
  | { kind: "complete"; outcome: DeliveryOutcome; events: NewEvent[] }
  | { kind: "defer"; reason: string; nextAttemptAt: Date; events: NewEvent[] };

/** Seconds to wait after the n-th failed attempt (n from 0); the last value repeats. */
export function retryDelay(schedule: readonly number[], attempts: number): number {
  const i = Math.min(Math.max(attempts, 0), schedule.length - 1);
  return schedule[i] ?? 3600;
}

function codeOf(reply: string): number | undefined {
  const m = /^([2-5]\d\d)/.exec(reply);
  return m?.[1] ? Number(m[1]) : undefined;
}

/** Whether the sender gets a DSN: never for the null sender, never about a DSN. */
export function wantsDsn(delivery: LeasedDelivery): boolean {
  return delivery.message.envelope.mailFrom !== "" && delivery.message.origin !== "dsn";
}

export function decide(o: DecideOptions): Decision {
  const { delivery, result, now } = o;
  const receivedAt = delivery.message.receivedAt.getTime();
  const expiresAt = receivedAt + o.config.maxLifetime * 1000;
  const expired = now.getTime() >= expiresAt;
  const attempts = delivery.attempts + 1;
  const waitMs = retryDelay(o.config.retrySchedule, delivery.attempts) * 1000;
  // Never sleep past the expiry: the last try happens on time and the bounce follows it.
  const nextAttemptAt = new Date(
    Math.min(now.getTime() + waitMs, Math.max(expiresAt, now.getTime())),
  );
  const ageSeconds = Math.round((now.getTime() - receivedAt) / 1000);
  const pending = delivery.recipients.filter((r) => r.state === "pending").map((r) => r.address);
  const tls = result.tls.used ? (result.tls.version ?? "TLS") : "none";
  const base = {
    nextHop: delivery.nextHop,
    host: result.kind === "replies" ? result.host : (result.host ?? null),
    tls,
    tlsVerified: result.tls.verified,
  };

  const events: NewEvent[] = [];
  const sent: RecipientResult[] = [];
  const failed: RecipientResult[] = [];
  const deferred: RecipientResult[] = [];
  const dsnRecipients: DsnRecipient[] = [];
  const event = (name: NewEvent["name"], recipient: string, data: Record<string, unknown>) =>
    events.push({ queueId: delivery.queueId, name, recipient, data: { ...base, ...data } });

  const fail = (address: string, reply: string, status: string, wasExpired: boolean) => {
    const text = wasExpired ? `expired after ${ageSeconds}s in the queue; last: ${reply}` : reply;
    failed.push({ address, reply: text });
    dsnRecipients.push({
      address,
      action: "failed",
      status: wasExpired && status.startsWith("4") ? `5${status.slice(1)}` : status,
      diagnostic: text,
      remoteMta: base.host && base.host !== "outbox" ? base.host : undefined,
    });
    const code = result.kind === "fault" ? result.code : codeOf(reply);
    const reason = result.kind === "fault" ? result.reason : undefined;
    if (wasExpired) event("deliver:expired", address, { age: ageSeconds, code, status, reason });
    else event("deliver:bounced", address, { code, status, reason });
  };
  const wait = (address: string, reply: string, status: string, category: string) => {
    deferred.push({ address, reply });
    event("deliver:deferred", address, {
      code: result.kind === "fault" ? result.code : codeOf(reply),
      status,
      category,
      // A fault's reason is built from protocol facts only (classify.describeError).
      reason: result.kind === "fault" ? result.reason : undefined,
      attempts,
      nextAttemptAt: nextAttemptAt.toISOString(),
    });
  };

  if (result.kind === "fault") {
    // A tls-route copy whose next hop cannot prove itself at send time (tls-unverifiable)
    // reaches here only with the portal off (the deliverer hands it to the portal otherwise):
    // like any TLS failure it waits and is retried until maxLifetime, never sent in clear.
    const reply = `${result.status} ${result.category}: ${result.reason}`;
    if (result.temporary && !expired) {
      for (const address of pending) wait(address, reply, result.status, result.category);
      return { kind: "defer", reason: reply, nextAttemptAt, events };
    }
    for (const address of pending) fail(address, reply, result.status, result.temporary);
  } else {
    const answers = new Map<string, RecipientReply>(result.recipients.map((r) => [r.address, r]));
    if (result.fallback) {
      for (const address of pending) {
        event("secure:route", address, { route: "portal", reason: result.fallback });
      }
    }
    for (const address of pending) {
      const r = answers.get(address);
      if (!r) {
        const reply = "4.4.0 no answer for this recipient";
        if (expired) fail(address, reply, "4.4.0", true);
        else wait(address, reply, "4.4.0", "protocol");
      } else if (r.kind === "accepted") {
        sent.push({ address, reply: r.reply });
        event("deliver:sent", address, { code: codeOf(r.reply) });
      } else if (r.kind === "rejected-permanent") {
        fail(address, r.reply, r.status, false);
      } else if (expired) {
        fail(address, r.reply, r.status, true);
      } else {
        wait(address, r.reply, r.status, r.category);
      }
    }
  }

  let dsn: NewMessage | undefined;
  if (dsnRecipients.length > 0 && wantsDsn(delivery)) {
    dsn = buildDsn({
      message: delivery.message,
      recipients: dsnRecipients,
      reportingMta: o.reportingMta,
      postmaster: o.config.postmaster,
      organisation: o.organisation,
      includeHeaders: true,
      sensitive: delivery.sensitive,
    });
  }
  const outcome: DeliveryOutcome = { sent, failed, deferred, dsn };
  if (deferred.length > 0) outcome.nextAttemptAt = nextAttemptAt;
  return { kind: "complete", outcome, events };
}
