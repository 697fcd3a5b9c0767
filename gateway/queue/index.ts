import { mtaName, type Config } from "../config/index.js";
import type { AttemptResult, Deliverer } from "../deliver/index.js";
import type { Logger } from "../log.js";
import type { LeasedDelivery, Store, StoredMessage } from "../store/types.js";
import { heldFailureDsn } from "./held.js";
import { decide, type Decision } from "./outcome.js";

export { buildDsn, type DsnOptions, type DsnRecipient } from "./dsn.js";
export { decide, retryDelay, type Decision } from "./outcome.js";
export { describeHold, dropHeld, heldFailureDsn, listHeld, releaseHeld } from "./held.js";
export type { AdminResult, HeldEntry } from "./held.js";

/** The pipeline as the runner sees it; it records its result via routeMessage/holdMessage. */
export interface PipelineStep {
  process(message: StoredMessage): Promise<void>;
}

export interface QueueRunnerOptions {
  store: Store;
  config: Config;
  logger: Logger;
  deliverer: Deliverer;
  pipeline: PipelineStep;
  /** Lease owner; leases of a node that died expire on their own. */
  nodeId: string;
  /** Lease length for one delivery attempt, in ms. Default 15 minutes. */
  deliveryLeaseMs?: number | undefined;
  /** Lease length for one pipeline run, in ms. Default 5 minutes. */
  messageLeaseMs?: number | undefined;
  /** Longest sleep between looks at the store (other nodes may add work). Default 30 s. */
  maxIdleMs?: number | undefined;
  /** How often held messages past delivery.holdRetention are expired. Default 60 s. */
  holdSweepMs?: number | undefined;
  /** Least time between two store checkpoints, taken when the queue is idle. Default 5 min. */
  checkpointMs?: number | undefined;
}

/**
 * Moves the queue: leases received messages into the pipeline and due deliveries into the
 * deliverer, at most delivery.concurrency at a time, and sleeps until the store says the next
 * thing is due. Whatever goes wrong in an attempt becomes a deferral, never a lost message:
 * the worst case is a lease that runs out and the work being picked up again.
 */
export class QueueRunner {
  readonly #o: QueueRunnerOptions;
  readonly #log: Logger;
  readonly #inflight = new Set<Promise<void>>();
  readonly #reportingMta: string;
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #again = false;
  #lastHoldSweep = 0;
  #lastCheckpoint = Date.now();
  #running = false;
  #stopping = false;

  constructor(o: QueueRunnerOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: "queue" });
    this.#reportingMta = mtaName(o.config);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopping = false;
    this.kick();
  }

  /** Looks at the queue now (after a `250`, or when an attempt finished). */
  kick(): void {
    if (!this.#running || this.#stopping) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#ticking = this.#tick()
      .catch((err: unknown) => {
        this.#log.error({ err: errorFacts(err) }, "queue tick failed");
        return false;
      })
      .then((leased) => this.#after(leased))
      .finally(() => {
        this.#ticking = null;
      });
  }

  /** Stops leasing, then waits for every attempt in flight to be recorded. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#ticking;
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    this.#running = false;
  }

  #free(): number {
    return this.#o.config.delivery.concurrency - this.#inflight.size;
  }

  #track(work: Promise<void>): void {
    this.#inflight.add(work);
    void work.finally(() => {
      this.#inflight.delete(work);
      this.kick();
    });
  }

  /** Leases what is due; resolves to whether anything was leased. */
  async #tick(): Promise<boolean> {
    const { store, nodeId } = this.#o;
    await this.#expireHeld();
    let leased = false;
    if (this.#free() > 0) {
      const messages = await store.leaseMessages({
        owner: nodeId,
        limit: this.#free(),
        leaseMs: this.#o.messageLeaseMs ?? 5 * 60_000,
      });
      for (const m of messages) this.#track(this.#process(m));
      leased ||= messages.length > 0;
    }
    if (this.#free() > 0 && !this.#stopping) {
      const deliveries = await store.leaseDeliveries({
        owner: nodeId,
        limit: this.#free(),
        leaseMs: this.#o.deliveryLeaseMs ?? 15 * 60_000,
      });
      for (const d of deliveries) this.#track(this.#deliver(d));
      leased ||= deliveries.length > 0;
    }
    if (!leased && this.#inflight.size === 0) await this.#checkpoint();
    return leased;
  }

  /**
   * On an idle queue, at most every checkpointMs: the SQLite store folds its write-ahead log
   * into the database and truncates it, so the frames that held since-cleared bytes go too.
   */
  async #checkpoint(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastCheckpoint < (this.#o.checkpointMs ?? 5 * 60_000)) return;
    this.#lastCheckpoint = now;
    try {
      await this.#o.store.checkpoint();
    } catch (err) {
      this.#log.error({ err: errorFacts(err) }, "cannot checkpoint the store");
    }
  }

  /** A held message keeps its bytes for review until holdRetention, then they are cleared. */
  async #expireHeld(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastHoldSweep < (this.#o.holdSweepMs ?? 60_000)) return;
    this.#lastHoldSweep = now;
    const { config } = this.#o;
    const before = new Date(now - config.delivery.holdRetention * 1000);
    // The hold's notice told the sender they would hear if it fails: now it has.
    const dsnFor = (m: StoredMessage) => {
      try {
        return heldFailureDsn(m, config, "not released before the hold period ended");
      } catch (err) {
        this.#log.error({ queueId: m.id, err: errorFacts(err) }, "cannot build the expiry DSN");
        return undefined;
      }
    };
    try {
      for (const queueId of await this.#o.store.expireHeld(before, 100, dsnFor)) {
        this.#log.info({ queueId, event: "pipeline:hold-expired" }, "held message expired");
      }
    } catch (err) {
      this.#log.error({ err: errorFacts(err) }, "cannot expire held messages");
    }
  }

  async #after(leased: boolean): Promise<void> {
    if (this.#stopping) return;
    const maxIdle = this.#o.maxIdleMs ?? 30_000;
    let delay = maxIdle;
    try {
      const due = await this.#o.store.nextDue();
      if (due) delay = Math.min(maxIdle, Math.max(0, due.getTime() - Date.now()));
    } catch (err) {
      this.#log.error({ err: errorFacts(err) }, "cannot read the next due time");
    }
    if (this.#stopping) return;
    if (this.#again) {
      // Someone kicked while this tick ran; look again once the tick has settled.
      this.#again = false;
      setImmediate(() => this.kick());
      return;
    }
    // With every slot busy, the next finished attempt kicks; no timer needed.
    if (this.#free() <= 0) return;
    // Something due that the lease did not return (held by another node): do not spin.
    if (delay === 0 && !leased) delay = 1000;
    this.#timer = setTimeout(() => this.kick(), Math.max(delay, 10));
    this.#timer.unref();
  }

  async #process(message: StoredMessage): Promise<void> {
    try {
      await this.#o.pipeline.process(message);
    } catch (err) {
      // The lease runs out and the message is processed again; nothing is dropped.
      this.#log.error({ queueId: message.id, err: errorFacts(err) }, "pipeline failed");
    }
  }

  async #deliver(delivery: LeasedDelivery): Promise<void> {
    const { store, deliverer, config } = this.#o;
    let result: AttemptResult;
    try {
      result = await deliverer.attempt(delivery);
    } catch (err) {
      result = {
        kind: "fault",
        category: "internal",
        temporary: true,
        status: "4.3.0",
        reason: `internal error (${errorFacts(err).name})`,
        tls: { used: false, version: null, verified: false, required: delivery.sensitive },
      };
    }

    let decision: Decision;
    try {
      decision = decide({
        delivery,
        result,
        now: new Date(),
        config: config.delivery,
        reportingMta: this.#reportingMta,
        organisation: config.organisation,
      });
      // The attempt's events go into the same transaction as its outcome: the audit trail
      // never says less (or more) than the queue did.
      const { events } = decision;
      if (decision.kind === "defer") {
        const { reason, nextAttemptAt } = decision;
        await store.deferDelivery(delivery.id, { reason, nextAttemptAt, events });
      } else {
        await store.completeDelivery(delivery.id, { ...decision.outcome, events });
      }
    } catch (err) {
      // Not recorded: the lease expires and the copy is tried again (at least once).
      this.#log.error(
        { queueId: delivery.queueId, deliveryId: delivery.id, err: errorFacts(err) },
        "cannot record the delivery attempt",
      );
      return;
    }
    this.#summary(delivery, result, decision);
  }

  /** One line per attempt: ids, next hop, counts, reply code, TLS. Never addresses. */
  #summary(delivery: LeasedDelivery, result: AttemptResult, decision: Decision): void {
    const count = (name: string) => decision.events.filter((e) => e.name === name).length;
    const firstCode = decision.events.map((e) => e.data?.code).find((c) => c !== undefined);
    this.#log.info(
      {
        event: "deliver:attempt",
        queueId: delivery.queueId,
        deliveryId: delivery.id,
        nextHop: delivery.nextHop,
        host: result.kind === "replies" ? result.host : (result.host ?? null),
        route: delivery.route,
        rcptCount: delivery.recipients.filter((r) => r.state === "pending").length,
        sent: count("deliver:sent"),
        bounced: count("deliver:bounced"),
        deferred: count("deliver:deferred"),
        expired: count("deliver:expired"),
        code: firstCode ?? null,
        category: result.kind === "fault" ? result.category : null,
        tls: result.tls.used ? result.tls.version : "none",
        tlsVerified: result.tls.verified,
        attempt: delivery.attempts + 1,
      },
      "delivery attempt",
    );
  }
}

/** Name and code of an error; its message may quote a peer and stays out of the log. */
function errorFacts(err: unknown): { name: string; code: string | null } {
  const e = err as { name?: unknown; code?: unknown } | null;
  return {
    name: typeof e?.name === "string" ? e.name : typeof err,
    code: typeof e?.code === "string" ? e.code : null,
  };
}
