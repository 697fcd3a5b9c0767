import { mtaName, type Config } from "../config/index.js";
import { isQueueId } from "../ids.js";
import type { HeldChange, NewMessage, ReleaseAs, Store, StoredMessage } from "../store/types.js";
import { buildDsn } from "./dsn.js";

/**
 * What an admin can do with held mail (`sealgate queue held|release|drop`). A message is held
 * when policy quarantines it or the pipeline cannot route it; it keeps its bytes until an
 * admin decides, or until delivery.holdRetention expires it.
 */

/** A held message as listed: ids, time, reason code and rule names, counts. Never addresses. */
export interface HeldEntry {
  id: string;
  receivedAt: Date;
  /** Stable code: quarantine, method-unavailable, policy-failed, blocked. */
  reason: string;
  /** Rules that asked for it (quarantine, blocked); empty otherwise. */
  rules: string[];
  recipientCount: number;
  connector: string;
}

/** Splits a stored hold reason ("quarantine: rules a, b") into its code and rule names. */
export function describeHold(holdReason: string | null): { reason: string; rules: string[] } {
  if (holdReason === null) return { reason: "unknown", rules: [] };
  const i = holdReason.indexOf(":");
  const reason = i < 0 ? holdReason : holdReason.slice(0, i);
  const detail = i < 0 ? "" : holdReason.slice(i + 1).trim();
  const rules = detail.startsWith("rules ")
    ? detail
        .slice("rules ".length)
        .split(",")
        .map((r) => r.trim())
        .filter(Boolean)
    : [];
  return { reason, rules };
}

export async function listHeld(store: Store, limit = 1000): Promise<HeldEntry[]> {
  const held = await store.heldMessages(limit);
  return held.map((m) => ({
    id: m.id,
    receivedAt: m.receivedAt,
    ...describeHold(m.holdReason),
    recipientCount: m.recipientCount,
    connector: m.connector,
  }));
}

/** An admin action's answer: done, or refused with a sentence naming the id and why. */
export type AdminResult = { kind: "done"; reason: string } | { kind: "refused"; message: string };

function refusal(id: string, change: Exclude<HeldChange, { kind: "done" }>): AdminResult {
  if (change.kind === "not-found") return { kind: "refused", message: `no message ${id}` };
  return { kind: "refused", message: `message ${id} is not held (it is ${change.state})` };
}

/** Queue ids are upper-case Crockford base32; anything else is refused before the store. */
function normalise(id: string): string | null {
  const upper = id.trim().toUpperCase();
  return isQueueId(upper) ? upper : null;
}

function notAnId(id: string): AdminResult {
  const shown = JSON.stringify(id.slice(0, 40));
  return { kind: "refused", message: `${shown} is not a queue id (17 letters and digits)` };
}

/**
 * Lets a held message go: it is received again, and the pipeline routes it as `as` says
 * without asking the policy (so a quarantine does not catch it twice). A message blocked by
 * policy is refused: its sender was already told it failed.
 */
export async function releaseHeld(
  store: Store,
  id: string,
  options: { as: ReleaseAs; by: string },
): Promise<AdminResult> {
  const queueId = normalise(id);
  if (queueId === null) return notAnId(id);
  const message = await store.getMessage(queueId);
  if (message?.state === "held") {
    const { reason } = describeHold(message.holdReason);
    if (reason === "blocked") {
      return {
        kind: "refused",
        message:
          `message ${queueId} was blocked by policy and its sender told it failed; ` +
          "it cannot be released, only dropped",
      };
    }
    const change = await store.releaseHeld(queueId, { as: options.as, by: options.by });
    return change.kind === "done" ? { kind: "done", reason } : refusal(queueId, change);
  }
  return message
    ? refusal(queueId, { kind: "not-held", state: message.state })
    : refusal(queueId, { kind: "not-found" });
}

/**
 * Deletes a held message: its bytes are cleared, it is done, and its sender gets a DSN
 * (failed, 5.7.1, no Subject or content). A message blocked by policy gets no second DSN.
 */
export async function dropHeld(
  store: Store,
  id: string,
  options: { by: string; config: Config },
): Promise<AdminResult> {
  const { config } = options;
  const queueId = normalise(id);
  if (queueId === null) return notAnId(id);
  const message = await store.getMessage(queueId);
  if (!message) return refusal(queueId, { kind: "not-found" });
  if (message.state !== "held") return refusal(queueId, { kind: "not-held", state: message.state });

  const { reason } = describeHold(message.holdReason);
  const dsn =
    message.raw === null
      ? undefined
      : heldFailureDsn({ ...message, raw: message.raw }, config, "deleted by an administrator");
  const change = await store.dropHeld(queueId, { by: options.by, dsn });
  return change.kind === "done" ? { kind: "done", reason } : refusal(queueId, change);
}

/**
 * The sender's delivery failure notice for a held message that will never be sent (dropped by
 * an admin, or expired after delivery.holdRetention): 5.7.1 per recipient, the reference id,
 * no Subject or content. None for a message blocked by policy (its sender was told then), for
 * the null sender or for mail sealgate made itself.
 */
export function heldFailureDsn(
  message: StoredMessage,
  config: Config,
  what: string,
): NewMessage | undefined {
  const { reason } = describeHold(message.holdReason);
  if (reason === "blocked") return undefined;
  if (message.envelope.mailFrom === "" || message.origin !== "ingress") return undefined;
  return buildDsn({
    message,
    recipients: message.envelope.rcptTo.map((address) => ({
      address,
      action: "failed" as const,
      status: "5.7.1",
      diagnostic: `held, then ${what}; not sent; reference ${message.id}`,
    })),
    reportingMta: mtaName(config),
    postmaster: config.delivery.postmaster,
    organisation: config.organisation,
    includeHeaders: false,
  });
}
