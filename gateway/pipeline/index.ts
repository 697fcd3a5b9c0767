import type { EncryptMethod, PolicyEngine, Verdict } from "../../policy/index.js";
import { mtaName, type Config } from "../config/index.js";
import type { Logger } from "../log.js";
import { buildDsn } from "../queue/dsn.js";
import { MemoryKeyRepository } from "../../certs/memory.js";
import { CopyBuilder, RecipientSelector, selectRoute } from "../secure/index.js";
import type { NewEvent, Release, Store, StoredEvent, StoredMessage } from "../store/index.js";
import { isEncryptedMessage } from "./encrypted.js";
import { addHeaders } from "./headers.js";
import { buildSenderNotice } from "./notice.js";
import { groupPlans, routeSensitive, type RoutedCopies } from "./route.js";

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
  /**
   * Chooses each recipient's method for sensitive mail. Default: one without keys or probes
   * (no key store: S/MIME and PGP never apply; TLS is checked at send time only).
   */
  selector?: RecipientSelector | undefined;
  /** Builds S/MIME and PGP copies. Default: one over an empty key store. */
  builder?: CopyBuilder | undefined;
  /**
   * The recipient portal is running: recipients no other method can carry get a portal copy
   * (route "portal"). Without it they are held and the sender told. Default false.
   */
  portal?: boolean | undefined;
}

export interface Pipeline {
  process(message: StoredMessage): Promise<void>;
}

/** Why a message is kept back; stable codes shown in `sealgate trace`. */
export type HoldReason =
  | "policy-failed" // the policy engine could not decide (parse fault, timeout)
  | "quarantine" // a rule asked for an admin to look at it
  | "method-unavailable"; // no method can carry any recipient's copy; never fall back to clear

export function createPipeline(options: PipelineOptions): Pipeline {
  const { store, config, logger } = options;
  const reportingMta = mtaName(config);
  const emptyKeys = new MemoryKeyRepository();
  const selector =
    options.selector ??
    new RecipientSelector({
      repository: emptyKeys,
      trustAnchors: async () => [],
      discovery: null,
      prober: null,
      mode: config.delivery.mode,
      smartHost: config.delivery.smartHost?.host,
      order: config.secure.order,
    });
  const builder =
    options.builder ?? new CopyBuilder({ repository: emptyKeys, secure: config.secure });

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

  /**
   * Recipients whose copy no method can carry while the others go out: they are not sent
   * to, and the sender gets a DSN naming them (no Subject, no content).
   */
  async function tellHeld(message: StoredMessage, held: string[]) {
    if (message.envelope.mailFrom === "" || message.origin !== "ingress") return;
    const dsn = buildDsn({
      message,
      recipients: held.map((address) => ({
        address,
        action: "failed" as const,
        status: "5.7.1",
        diagnostic:
          "not sent: this recipient has no certificate or key and no verified TLS, and the " +
          `secure portal is not running; reference ${message.id}`,
      })),
      reportingMta,
      postmaster: config.delivery.postmaster,
      organisation: config.organisation,
      includeHeaders: false,
    });
    const dsnQueueId = await store.enqueue(dsn);
    await store.recordEvent({ queueId: message.id, name: "deliver:dsn", data: { dsnQueueId } });
  }

  async function evaluate(message: StoredMessage): Promise<Verdict | null> {
    // A reply written in the portal answers a sensitive message: it travels as one, over
    // verified TLS (or, failing that, back into the portal), never in clear.
    if (message.origin === "portal") {
      return { action: "encrypt", method: "tls", rules: ["portal-reply"], findings: [] };
    }
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
      // A copy sealgate encrypted (S/MIME, PGP) that came back is already protected: it
      // leaves as it is rather than be wrapped a second time.
      if (message.loop.route === "sensitive" && isEncryptedMessage(message.raw)) {
        return { action: "allow", rules: ["loop-guard-encrypted"], findings: [] };
      }
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
      const verdict = message.release
        ? releasedVerdict(message.release, await store.events(message.id))
        : await evaluate(message);
      if (!verdict) {
        await hold(message, "policy-failed", "the message could not be scanned");
        return;
      }
      const verdictEvent: NewEvent = {
        queueId: message.id,
        name: "policy:verdict",
        data: {
          policy: options.policy().name,
          action: verdict.action,
          method: verdict.method,
          portalExpiryDays: verdict.portalExpiryDays,
          // Where the portal reads the passphrase at wrap time; the passphrase never is here.
          portalPassphrase: verdict.portalPassphrase ? "required" : undefined,
          portalPassphraseFrom: verdict.portalPassphrase,
          portalShowSubject: verdict.portalShowSubject,
          rules: verdict.rules,
          findings: verdict.findings,
          released: message.release?.as,
        },
      };

      if (verdict.action === "block" || verdict.action === "quarantine") {
        await store.recordEvent(verdictEvent);
        if (verdict.action === "block") return block(message, verdict);
        return hold(message, "quarantine", `rules ${verdict.rules.join(", ")}`);
      }

      const sensitive = verdict.action === "encrypt";
      // A portal reply is bound for our own staff: it travels over verified TLS whatever
      // secure.order lists for outside recipients (a hop that cannot prove itself at send time
      // sends it back into the portal). In the embedded default the outbox folder is that hop.
      const selection =
        message.origin === "portal"
          ? ({
              kind: "route",
              route: "tls",
              reason:
                config.delivery.mode === "outbox"
                  ? "tls: portal reply to the outbox"
                  : "tls: portal reply to staff",
            } as const)
          : selectRoute({ sensitive, method: verdict.method ?? "auto" });
      const modified = Boolean(verdict.addHeaders?.length);
      const raw = verdict.addHeaders?.length
        ? addHeaders(message.raw, verdict.addHeaders)
        : message.raw;
      const rcpts = message.envelope.rcptTo;
      if (selection.kind === "route") {
        const plans = groupPlans(config, rcpts, {
          route: selection.route,
          sensitive,
          raw: modified ? raw : undefined,
        });
        const events: NewEvent[] = plans.flatMap((p) =>
          p.recipients.map((recipient) => ({
            queueId: message.id,
            name: "secure:route" as const,
            recipient,
            data: { route: p.route, reason: selection.reason, nextHop: p.nextHop },
          })),
        );
        // Routing follows the verdict at once here: one commit records both.
        await store.routeMessage(message.id, plans, [verdictEvent, ...events]);
        if (verdict.notifySender) {
          await notifySender(message, verdict, `${rcpts.length} recipient(s): sent normally.`);
        }
        logger.info(
          {
            queueId: message.id,
            event: "secure:route",
            route: selection.route,
            rules: verdict.rules,
          },
          "message routed",
        );
        return;
      }

      // Key lookups and probes may take a while: the verdict is recorded at its own time.
      await store.recordEvent(verdictEvent);
      const routed = await routeSensitive(rcpts, raw, {
        config,
        selector,
        builder,
        queueId: message.id,
        method: selection.method,
        modified,
        portal: options.portal === true,
        mailFrom: message.envelope.mailFrom,
      });
      if (routed.plans.length === 0) {
        for (const event of routed.events) await store.recordEvent(event);
        await hold(
          message,
          "method-unavailable",
          "no secure method for any recipient and the portal is not running",
        );
      } else {
        // The notice first: if the run stops in between, the sender may hear twice, never not.
        if (routed.held.length > 0) await tellHeld(message, routed.held);
        await store.routeMessage(message.id, routed.plans, routed.events);
      }
      if (verdict.notifySender) await notifySender(message, verdict, summary(routed));
      logger.info(
        {
          queueId: message.id,
          event: "secure:route",
          ...routed.counts,
          copies: routed.plans.length,
          rules: verdict.rules,
        },
        "message routed per recipient",
      );
    },
  };
}

/**
 * An admin released the message from hold (`sealgate queue release`): it is routed as they
 * decided and the policy is not asked again, so a quarantine rule does not hold it twice.
 * `encrypt` (the default) takes each recipient's secure method, never clear; `clean` is the
 * admin's explicit decision to send it unchanged.
 */
function releasedVerdict(release: Release, events: readonly StoredEvent[]): Verdict {
  if (release.as === "clean") return { action: "allow", rules: ["admin-release"], findings: [] };
  // A message held because its method was unavailable keeps what the policy asked of that
  // method (portal only, a passphrase, an expiry); release must not relax it.
  const prior = events.findLast((e) => e.name === "policy:verdict")?.data ?? {};
  const asked = prior.action === "encrypt";
  const verdict: Verdict = {
    action: "encrypt",
    method: asked && isMethod(prior.method) ? prior.method : "auto",
    rules: ["admin-release"],
    findings: [],
  };
  if (!asked) return verdict;
  if (typeof prior.portalExpiryDays === "number") verdict.portalExpiryDays = prior.portalExpiryDays;
  if (typeof prior.portalShowSubject === "boolean") {
    verdict.portalShowSubject = prior.portalShowSubject;
  }
  const from = prior.portalPassphraseFrom as Verdict["portalPassphrase"] | undefined;
  if (from) verdict.portalPassphrase = from;
  return verdict;
}

function isMethod(value: unknown): value is EncryptMethod {
  return ["auto", "portal", "smime", "pgp", "tls"].includes(value as string);
}

/** The sender's notice line: how many recipients got which form, no addresses. */
function summary(routed: RoutedCopies): string {
  const c = routed.counts;
  const parts = [
    c.smime ? `${c.smime} encrypted with S/MIME` : "",
    c.pgp ? `${c.pgp} encrypted with PGP` : "",
    c.tls ? `${c.tls} sent over verified TLS` : "",
    c.portal && routed.held.length === 0 ? `${c.portal} sent through the secure portal` : "",
    routed.held.length ? `${routed.held.length} held (no secure method; portal not running)` : "",
  ].filter(Boolean);
  return `${parts.join(", ")}.`;
}
