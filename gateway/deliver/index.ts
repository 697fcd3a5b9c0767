import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { rootCertificates } from "node:tls";
import type { Config } from "../config/index.js";
import type { Logger } from "../log.js";
import { createStamp } from "../loop-guard.js";
import type { LeasedDelivery } from "../store/types.js";
import { classifyError, describeError } from "./classify.js";
import { signDkim, type DkimKey } from "./dkim.js";
import { DeliveryError } from "./errors.js";
import { MxResolver } from "./mx.js";
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
  const heloName = d.heloName ?? config.smtp.hostname ?? hostname();
  const outboxDir = d.outboxDir ?? path.join(config.dataDir, "outbox");
  const timeoutMs = d.connectTimeout * 1000;
  const resolver = d.mode === "mx" ? new MxResolver({ servers: d.dnsServers }) : null;
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

  /** MX hosts in preference order; a host that cannot be reached passes to the next. */
  async function viaMx(
    delivery: LeasedDelivery,
    message: PreparedMessage,
    to: string[],
    required: boolean,
  ): Promise<AttemptResult> {
    if (!resolver) throw new DeliveryError("CONFIG", "no resolver outside mx mode");
    const hops = await resolver.resolve(delivery.nextHop);
    let last: AttemptResult | null = null;
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
          // RFC 5321 §5.1: try the next host unless the answer was a permanent rejection.
          if (last.kind === "fault" && !last.temporary) return last;
        }
      }
    }
    return last ?? fault(new DeliveryError("DNS_NO_ADDRESS", "no host to try"), NO_TLS);
  }

  return {
    async attempt(delivery) {
      const to = delivery.recipients.filter((r) => r.state === "pending").map((r) => r.address);
      const required = delivery.sensitive || delivery.route === "tls";
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
    },
    async close() {
      resolver?.cancel();
    },
  };
}
