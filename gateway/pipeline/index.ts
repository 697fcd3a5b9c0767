import { hostname } from "node:os";
import type { PolicyEngine, Verdict } from "../../policy/index.js";
import type { Config } from "../config/index.js";
import type { Logger } from "../log.js";
import { buildDsn } from "../queue/dsn.js";
import { selectRoute } from "../secure/index.js";
import type { DeliveryPlan, NewEvent, RouteKind, Store, StoredMessage } from "../store/index.js";
import { addHeaders } from "./headers.js";
import { buildSenderNotice } from "./notice.js";

/**
 * The pipeline for one queued message: policy → route per recipient → plans, recorded in
 * the store in one transaction. Anything that cannot be decided holds the message and tells
 * the sender; nothing here ever lets sensitive mail out in clear.
 */

export interface PipelineOptions {
  store: Store;
  config: Config;
  logger: Logger;
  /** Returns the current policy; reloading swaps what this returns. */
  policy: () => PolicyEngine;
}

export interface Pipeline {
  process(message: StoredMessage): Promise<void>;
}

/** Why a message is kept back; stable codes shown in `sealgate trace`. */
export type HoldReason =
  | "policy-failed" // the policy engine could not decide (parse fault, timeout)
  | "quarantine" // a rule asked for an admin to look at it
  | "method-unavailable"; // the forced method is not available; never fall back to clear

export function createPipeline(options: PipelineOptions): Pipeline {
  const { store, config, logger } = options;
  const reportingMta = config.smtp.hostname ?? hostname();

  function nextHop(recipient: string): string {
    switch (config.delivery.mode) {
      case "outbox":
        return "outbox";
      case "smarthost":
        return config.delivery.smartHost?.host ?? "smarthost";
      case "mx":
        return recipient.slice(recipient.lastIndexOf("@") + 1).toLowerCase();
    }
  }

  /** Groups recipients that share route and next hop into one copy (one SMTP transaction). */
  function plan(
    recipients: string[],
    route: RouteKind,
    sensitive: boolean,
    raw?: Buffer,
  ): DeliveryPlan[] {
    const byHop = new Map<string, string[]>();
    for (const rcpt of recipients) {
      const hop = nextHop(rcpt);
      byHop.set(hop, [...(byHop.get(hop) ?? []), rcpt]);
    }
    return [...byHop].map(([hop, rcpts]) => ({
      recipients: rcpts,
      route,
      nextHop: hop,
      sensitive,
      raw,
    }));
  }

  async function hold(message: StoredMessage, reason: HoldReason, detail: string) {
    const log = logger.child({ queueId: message.id });
    const recipients = message.envelope.rcptTo.map((address) => ({
      address,
      action: "delayed" as const,
      status: "4.7.0",
      diagnostic: `held by sealgate (${reason}): ${detail}; reference ${message.id}`,
    }));
    const notice =
      message.envelope.mailFrom === "" || message.origin !== "ingress"
        ? undefined
        : buildDsn({
            message,
            recipients,
            reportingMta,
            postmaster: config.delivery.postmaster,
            organisation: config.organisation,
            includeHeaders: false,
          });
    await store.holdMessage(message.id, `${reason}: ${detail}`, notice);
    log.warn({ event: "pipeline:held", reason }, "message held");
  }

  /** No delivery; the sender gets a DSN with the policy author's text. Atomic with the DSN. */
  async function block(message: StoredMessage, verdict: Verdict) {
    const text = verdict.blockText ?? "blocked by policy";
    const rules = verdict.rules.join(", ");
    for (const recipient of message.envelope.rcptTo) {
      await store.recordEvent({
        queueId: message.id,
        name: "secure:route",
        recipient,
        data: { route: "block", reason: `block: rules ${rules}` },
      });
    }
    const dsn =
      message.envelope.mailFrom === ""
        ? undefined
        : buildDsn({
            message,
            recipients: message.envelope.rcptTo.map((address) => ({
              address,
              action: "failed" as const,
              status: "5.7.1",
              diagnostic: `${text} (rules: ${rules}; reference ${message.id})`,
            })),
            reportingMta,
            postmaster: config.delivery.postmaster,
            organisation: config.organisation,
            includeHeaders: false,
          });
    await store.holdMessage(message.id, `blocked: rules ${rules}`, dsn);
    logger.info({ queueId: message.id, event: "secure:route", route: "block" }, "message blocked");
  }

  /** The policy's notify-sender action: rules and detector counts, never values. */
  async function notifySender(message: StoredMessage, verdict: Verdict, outcome: string) {
    if (message.envelope.mailFrom === "" || message.origin !== "ingress") return;
    const notice = await buildSenderNotice({
      message,
      verdict,
      outcome,
      postmaster: config.delivery.postmaster,
      organisation: config.organisation,
    });
    const noticeQueueId = await store.enqueue(notice);
    await store.recordEvent({
      queueId: message.id,
      name: "pipeline:notice",
      data: { noticeQueueId },
    });
  }

  async function evaluate(message: StoredMessage): Promise<Verdict | null> {
    // Mail sealgate made itself (DSNs, notices) carries no user content to scan.
    if (message.origin !== "ingress") return { action: "allow", rules: [], findings: [] };
    if (message.loop) {
      await store.recordEvent({
        queueId: message.id,
        name: "pipeline:loop",
        data: { hops: message.loop.hops, route: message.loop.route },
      });
      // A valid, fresh stamp: processed before. A sensitive verdict is kept, never relaxed,
      // and not re-wrapped. A clean stamp proves nothing about these bytes (anyone who got a
      // copy has seen it), so the message is scanned again like any other.
      if (message.loop.route === "sensitive") {
        return { action: "encrypt", method: "auto", rules: ["loop-guard"], findings: [] };
      }
    }
    try {
      return await options.policy().evaluate({
        raw: message.raw,
        mailFrom: message.envelope.mailFrom,
        rcptTo: message.envelope.rcptTo,
      });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      logger.error(
        { queueId: message.id, err: { name: (err as Error).name, code } },
        "policy evaluation failed",
      );
      return null;
    }
  }

  return {
    async process(message) {
      const verdict = await evaluate(message);
      if (!verdict) {
        await hold(message, "policy-failed", "the message could not be scanned");
        return;
      }
      await store.recordEvent({
        queueId: message.id,
        name: "policy:verdict",
        data: {
          policy: options.policy().name,
          action: verdict.action,
          method: verdict.method,
          rules: verdict.rules,
          findings: verdict.findings,
        },
      });

      if (verdict.action === "block") return block(message, verdict);
      if (verdict.action === "quarantine") {
        return hold(message, "quarantine", `rules ${verdict.rules.join(", ")}`);
      }

      const sensitive = verdict.action === "encrypt";
      const selection = selectRoute({ sensitive, method: verdict.method ?? "auto" });
      if (selection.kind === "hold") {
        return hold(message, "method-unavailable", selection.reason);
      }
      const raw = verdict.addHeaders?.length
        ? addHeaders(message.raw, verdict.addHeaders)
        : undefined;
      const plans = plan(message.envelope.rcptTo, selection.route, sensitive, raw);
      const events: NewEvent[] = plans.flatMap((p) =>
        p.recipients.map((recipient) => ({
          queueId: message.id,
          name: "secure:route" as const,
          recipient,
          data: { route: p.route, reason: selection.reason, nextHop: p.nextHop },
        })),
      );
      await store.routeMessage(message.id, plans, events);
      if (verdict.notifySender) {
        const how = sensitive
          ? "over verified TLS (the next hop must prove its identity)"
          : "normally";
        await notifySender(
          message,
          verdict,
          `${message.envelope.rcptTo.length} recipient(s): sent ${how}.`,
        );
      }
      logger.info(
        {
          queueId: message.id,
          event: "secure:route",
          route: selection.route,
          copies: plans.length,
          rules: verdict.rules,
        },
        "message routed",
      );
    },
  };
}
