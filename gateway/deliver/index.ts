import { readFileSync } from "node:fs";
import path from "node:path";
import { rootCertificates } from "node:tls";
import { mtaName, type Config } from "../config/index.js";
import type { Logger } from "../log.js";
import { createStamp } from "../loop-guard.js";
import { allowedHops, MtaStsResolver } from "../secure/mta-sts.js";
import type { LeasedDelivery } from "../store/types.js";
import { classifyError, describeError } from "./classify.js";
import { signDkim, type DkimKey } from "./dkim.js";
import { DeliveryError } from "./errors.js";
import { MxResolver, type NextHop } from "./mx.js";
import { writeOutbox } from "./outbox.js";
import { prepareMessage, type PreparedMessage } from "./prepare.js";
import { NO_TLS, type AttemptResult, type TlsFacts } from "./result.js";
import { sendTransaction, TransactionError, type TlsSettings } from "./smtp.js";

export type { Category, Classification } from "./classify.js";
export { classifyError, classifyReply, REPLY_RULES } from "./classify.js";
export { DeliveryError, type DeliveryErrorCode } from "./errors.js";
export type { AttemptResult, RecipientReply, TlsFacts } from "./result.js";

export interface DelivererOptions {
  config: Config;
  logger: Logger;
  /** HMAC secret of the loop-guard stamp. */
  loopSecret: string;
  /** DKIM key; copies are signed when set. Default: not signed. */
  dkim?: DkimKey | undefined;
  /**
   * MTA-STS lookups for tls-route copies in mx mode; pass the selector's to share its cache.
   * null: none. Default: one made from delivery.mtaSts.
   */
  mtaSts?: MtaStsResolver | null | undefined;
  /**
   * The portal as a delivery method: copies routed "portal" are stored there, and a tls copy
   * whose next hop cannot prove itself at send time falls to it. Default: none (such a copy
   * waits and is retried on verified TLS until delivery.maxLifetime, then bounces).
   */
  portal?: PortalMethod | undefined;
}

/** What the deliverer needs of the portal (gateway/portal's PortalCore). */
export interface PortalMethod {
  /** Stores the copy for each pending recipient and queues their notice; throws on failure. */
  deliver(delivery: LeasedDelivery): Promise<AttemptResult>;
}

export interface Deliverer {
  /** Tries one delivery once. Never throws: every failure comes back as a fault. */
  attempt(delivery: LeasedDelivery): Promise<AttemptResult>;
  close(): Promise<void>;
}

function readPem(file: string | undefined, what: string): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new DeliveryError("CONFIG", `cannot read ${what} ${file}`, { cause: err });
  }
}

function fault(err: unknown, tls: TlsFacts, host?: string): AttemptResult {
  const cause = err instanceof TransactionError ? err.cause : err;
  const c = classifyError(cause);
  const response = (cause as { response?: unknown } | null)?.response;
  const code = typeof response === "string" ? Number(/^\d{3}/.exec(response)?.[0]) : NaN;
  return {
    kind: "fault",
    category: c.category,
    temporary: c.temporary,
    status: c.status,
    reason: describeError(cause),
    code: Number.isFinite(code) ? code : undefined,
    host,
    tls: err instanceof TransactionError ? err.tls : tls,
  };
}

/**
 * Delivers leased copies according to delivery.mode: into the outbox folder, to the smart
 * host, or to each recipient domain's MX. Reads its key material once, at creation, so a
 * missing file is reported at start rather than on the first message.
 */
/**
 * The Received field for a copy (RFC 5321 §4.4). No "for" clause: naming a recipient would
 * reveal Bcc recipients to the others. Mail sealgate made itself has no "from" clause.
 */
function receivedField(message: LeasedDelivery["message"], byHost: string): string {
  const date = message.receivedAt.toUTCString().replace(/GMT$/, "+0000");
  const from = message.origin === "ingress" ? `from [${message.clientIp}] ` : "";
  const via = message.smtpUtf8 ? "UTF8SMTP" : "ESMTP";
  return `${from}by ${byHost} (sealgate) with ${via} id ${message.id}; ${date}`;
}

export function createDeliverer(options: DelivererOptions): Deliverer {
  const { config, loopSecret, dkim } = options;
  const d = config.delivery;
  const caPem = readPem(d.tls.caFile, "delivery.tls.caFile");
  const tls: TlsSettings = {
    ca: caPem ? [...rootCertificates, caPem] : [...rootCertificates],
    minVersion: d.tls.minVersion,
    cert: readPem(d.tls.clientCertFile, "delivery.tls.clientCertFile"),
    key: readPem(d.tls.clientKeyFile, "delivery.tls.clientKeyFile"),
  };
  const heloName = mtaName(config);
  const outboxDir = d.outboxDir ?? path.join(config.dataDir, "outbox");
  const timeoutMs = d.connectTimeout * 1000;
  const resolver = d.mode === "mx" ? new MxResolver({ servers: d.dnsServers }) : null;
  const ownMtaSts =
    options.mtaSts === undefined && d.mode === "mx" && d.mtaSts.enabled
      ? new MtaStsResolver({
          dnsServers: d.dnsServers,
          ca: tls.ca,
          timeoutMs: d.mtaSts.timeout * 1000,
        })
      : null;
  const mtaSts = options.mtaSts ?? ownMtaSts;
  if (d.mode === "smarthost" && !d.smartHost) {
    throw new DeliveryError("CONFIG", "delivery.smartHost is required in smarthost mode");
  }

  async function prepare(delivery: LeasedDelivery): Promise<PreparedMessage> {
    const message = delivery.message;
    const route = delivery.sensitive || message.loop?.route === "sensitive" ? "sensitive" : "clean";
    const value = createStamp(
      { secret: loopSecret, maxAge: config.loopGuard.maxAge },
      message.messageId ?? "",
      { hops: message.loop?.hops ?? 0, route },
    );
    const prepared = prepareMessage(delivery.raw, {
      stamp: { header: config.loopGuard.header, value },
      received: receivedField(message, heloName),
    });
    if (!dkim) return prepared;
    return { ...prepared, bytes: await signDkim(prepared.bytes, dkim) };
  }

  async function viaSmartHost(
    delivery: LeasedDelivery,
    message: PreparedMessage,
    to: string[],
    required: boolean,
  ): Promise<AttemptResult> {
    const sh = d.smartHost;
    if (!sh) throw new DeliveryError("CONFIG", "delivery.smartHost is not configured");
    const auth = sh.user ? { user: sh.user, pass: sh.password ?? "" } : undefined;
    return sendTransaction({
      host: sh.host,
      port: sh.port,
      servername: sh.servername ?? sh.host,
      heloName,
      tlsPolicy: required || sh.requireTls ? "required" : "opportunistic",
      tls,
      auth,
      timeoutMs,
      envelope: { from: delivery.message.envelope.mailFrom, to },
      message,
    });
  }

  /**
   * The MX hosts a copy may use, and whether the domain's MTA-STS policy is in enforce mode.
   * Under enforce every copy, clean or not, needs verified TLS and skips hosts outside the
   * policy's patterns (RFC 8461 §5); none left fails the attempt.
   */
  async function mxHops(delivery: LeasedDelivery): Promise<{ hops: NextHop[]; enforced: boolean }> {
    if (!resolver) throw new DeliveryError("CONFIG", "no resolver outside mx mode");
    const all = await resolver.resolve(delivery.nextHop);
    if (!mtaSts) return { hops: all, enforced: false };
    const sts = await mtaSts.lookup(delivery.nextHop);
    const policy = sts.kind === "policy" ? sts.policy : null;
    const { hops, skipped } = allowedHops(all, policy);
    if (hops.length === 0) {
      throw new DeliveryError(
        delivery.route === "tls" ? "TLS_UNVERIFIABLE" : "TLS_REQUIRED",
        `no MX of ${delivery.nextHop} matches its MTA-STS policy (${skipped.join(", ")})`,
      );
    }
    return { hops, enforced: policy?.mode === "enforce" };
  }

  /**
   * MX hosts in preference order; a host that cannot be reached passes to the next. On the
   * tls route a host whose TLS fails passes to the next too, and when none gave verified TLS
   * the copy fails as TLS_UNVERIFIABLE: never sent in clear, left for another method.
   */
  async function viaMx(
    delivery: LeasedDelivery,
    message: PreparedMessage,
    to: string[],
    requiredByCopy: boolean,
  ): Promise<AttemptResult> {
    const { hops, enforced } = await mxHops(delivery);
    const required = requiredByCopy || enforced;
    let last: AttemptResult | null = null;
    let tlsFailure: AttemptResult | null = null;
    for (const hop of hops) {
      for (const address of hop.addresses) {
        try {
          return await sendTransaction({
            host: address,
            port: d.mxPort,
            servername: hop.name,
            heloName,
            tlsPolicy: required ? "required" : "opportunistic",
            tls,
            timeoutMs,
            envelope: { from: delivery.message.envelope.mailFrom, to },
            message,
          });
        } catch (err) {
          if (err instanceof DeliveryError) throw err;
          last = fault(err, { ...NO_TLS, required }, hop.name);
          if (last.kind === "fault" && last.category === "tls") tlsFailure ??= last;
          // RFC 5321 §5.1: try the next host unless the answer was a permanent rejection.
          if (last.kind === "fault" && !last.temporary) return last;
        }
      }
    }
    if (delivery.route === "tls" && tlsFailure?.kind === "fault") {
      const why = `no MX of ${delivery.nextHop} gave verified TLS; ${tlsFailure.host}: `;
      const err = new DeliveryError("TLS_UNVERIFIABLE", why + tlsFailure.reason);
      return fault(err, tlsFailure.tls, tlsFailure.host);
    }
    return last ?? fault(new DeliveryError("DNS_NO_ADDRESS", "no host to try"), NO_TLS);
  }

  async function attempt(delivery: LeasedDelivery): Promise<AttemptResult> {
    const to = delivery.recipients.filter((r) => r.state === "pending").map((r) => r.address);
    // An S/MIME or PGP copy is protected by its own encryption: like any mail it uses TLS
    // when offered (and must under MTA-STS enforce), but a plain MX does not stop it.
    const encrypted = delivery.route === "smime" || delivery.route === "pgp";
    const required = (delivery.sensitive && !encrypted) || delivery.route === "tls";
    const facts: TlsFacts = { ...NO_TLS, required };
    if (to.length === 0)
      return { kind: "replies", host: delivery.nextHop, recipients: [], tls: facts };
    try {
      const message = await prepare(delivery);
      switch (d.mode) {
        case "outbox": {
          await writeOutbox(
            outboxDir,
            { queueId: delivery.queueId, deliveryId: delivery.id },
            message.bytes,
          );
          const reply = "250 2.0.0 written to the outbox";
          return {
            kind: "replies",
            host: "outbox",
            recipients: to.map((address) => ({ address, kind: "accepted" as const, reply })),
            tls: facts,
          };
        }
        case "smarthost":
          return await viaSmartHost(delivery, message, to, required);
        case "mx":
          return await viaMx(delivery, message, to, required);
      }
    } catch (err) {
      return fault(err, facts);
    }
  }

  const portal = options.portal;
  async function intoPortal(delivery: LeasedDelivery, failed?: AttemptResult) {
    if (!portal) return failed ?? fault(new DeliveryError("CONFIG", "the portal is off"), NO_TLS);
    const required = { ...NO_TLS, required: true };
    try {
      const stored = await portal.deliver(delivery);
      if (failed?.kind !== "fault" || stored.kind !== "replies") return stored;
      return { ...stored, fallback: `portal: TLS failed at send time (${failed.reason})` };
    } catch (err) {
      // Not stored: the copy waits and is tried again; it never leaves another way.
      const code = (err as { code?: unknown }).code;
      const reason = `portal could not store the copy (${String(code ?? (err as Error).name)})`;
      return {
        kind: "fault",
        category: "internal",
        temporary: true,
        status: "4.3.0",
        reason,
        tls: required,
      } satisfies AttemptResult;
    }
  }

  return {
    async attempt(delivery) {
      if (delivery.route === "portal") return intoPortal(delivery);
      const result = await attempt(delivery);
      const unverifiable = result.kind === "fault" && result.category === "tls-unverifiable";
      return unverifiable && portal ? intoPortal(delivery, result) : result;
    },
    async close() {
      resolver?.cancel();
      ownMtaSts?.cancel();
    },
  };
}
