import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import type { HttpOptions } from "../certs/discovery/index.js";
import { loadPolicy, type PolicyEngine } from "../policy/index.js";
import { createHttp } from "./api/index.js";
import { ConfigError, splitHostPort, type Config } from "./config/index.js";
import { ensurePrivateDir } from "./data-dir.js";
import { lockDataDir } from "./data-lock.js";
import { createDeliverer } from "./deliver/index.js";
import { loadKek } from "./keys/kek.js";
import { createLogger, type Logger } from "./log.js";
import { createPipeline } from "./pipeline/index.js";
import { QueueRunner } from "./queue/index.js";
import { CopyBuilder, createSelector } from "./secure/index.js";
import { createMtaSts, createTlsProber, nextHopRoots } from "./secure/tls-probe.js";
import { ensureSecretFile } from "./secrets.js";
import { createIngress, ensureTlsMaterial } from "./smtp/index.js";
import { PortalCore } from "./portal/core.js";
import { openKeyRepository, openPortalStore, openStore, type Store } from "./store/index.js";

/** Wires the parts of DESIGN.md together: store, ingress, pipeline, queue, delivery, HTTP. */

export interface GatewayOptions {
  logger?: Logger | undefined;
  /** Lease owner name; default host name plus a random suffix. */
  nodeId?: string | undefined;
  /**
   * TLS trust and host resolution for WKD and keyserver lookups. Default: Node's roots plus
   * delivery.tls.caFile, and the system resolver (tests point names at loopback).
   */
  keyLookupHttp?: HttpOptions | undefined;
}

export interface Address {
  host: string;
  port: number;
}

export interface Gateway {
  smtp: Address;
  http: Address;
  store: Store;
  config: Config;
  logger: Logger;
  /** The recipient portal's core, or null when portal.enabled is false. */
  portal: PortalCore | null;
  /** Loads the policy again; keeps the old one when the new one does not validate. */
  reloadPolicy(): Promise<{ ok: true; name: string } | { ok: false; error: string }>;
  stop(): Promise<void>;
}

/** The configured policy file, or the shipped default; throws PolicyError naming the line. */
function loadPolicyEngine(config: Config): Promise<PolicyEngine> {
  return loadPolicy(config.policy.file);
}

/**
 * Starts the gateway. With the embedded store the data folder is locked first (DataLockError
 * when another live gateway holds it) and released when the gateway stops.
 */
export async function startGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  ensurePrivateDir(config.dataDir);
  const lock = config.store.kind === "sqlite" ? lockDataDir(config.dataDir) : null;
  try {
    const gw = await startUnlocked(config, options);
    const stop = gw.stop.bind(gw);
    return Object.assign(gw, {
      async stop() {
        try {
          await stop();
        } finally {
          lock?.release();
        }
      },
    });
  } catch (err) {
    lock?.release();
    throw err;
  }
}

async function startUnlocked(config: Config, options: GatewayOptions): Promise<Gateway> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const nodeId = options.nodeId ?? `${hostname()}-${randomBytes(3).toString("hex")}`;

  const loopSecret = config.loopGuard.secret ?? ensureSecretFile(config.dataDir, "loop-secret");
  const dkim = config.dkim
    ? {
        domain: config.dkim.domain,
        selector: config.dkim.selector,
        privateKey: process.env.SEALGATE_DKIM_KEY ?? readDkimKey(config.dkim.privateKeyFile),
      }
    : undefined;

  let policy = await loadPolicyEngine(config);
  const store = await openStore(config);
  const tls = await ensureTlsMaterial(config, logger);
  const keys = await openKeyRepository(config, { log: logger });
  // One MTA-STS cache for the selector's probes and the deliverer's send-time checks.
  const mtaSts = config.delivery.mode === "mx" ? createMtaSts(config) : null;
  const prober = config.delivery.mode === "mx" ? createTlsProber(config, { mtaSts }) : null;
  const selector = createSelector(config, {
    repository: keys,
    prober,
    http: options.keyLookupHttp ?? { ca: nextHopRoots(config) },
  });
  const builder = new CopyBuilder({ repository: keys, secure: config.secure, logger });
  await builder.checkSigningKeys();
  const portalStore = config.portal.enabled ? await openPortalStore(config) : null;
  const portal = portalStore
    ? new PortalCore({
        portal: portalStore,
        queue: store,
        config,
        kek: loadKek(config),
        logger,
        onQueued: () => runner.kick(),
      })
    : null;
  const deliverer = createDeliverer({
    config,
    logger,
    loopSecret,
    dkim,
    mtaSts,
    portal: portal ?? undefined,
  });
  const pipeline = createPipeline({
    store,
    config,
    logger,
    policy: () => policy,
    selector,
    builder,
    portal: portal !== null,
  });
  const runner = new QueueRunner({ store, config, logger, deliverer, pipeline, nodeId });

  const ingress = createIngress({
    config,
    store,
    logger,
    tls,
    loopSecret,
    onQueued: () => runner.kick(),
  });
  const startedAt = new Date();
  const http = createHttp({
    store,
    startedAt,
    tls: config.portal.tls,
    trustProxy: config.portal.trustProxy,
    portal: portal
      ? {
          service: portal,
          logger,
          csrfKey: portal.csrfKey(),
          config: {
            baseUrl: portal.baseUrl(),
            organisation: config.organisation,
            logoFile: config.portal.logoFile,
            maxReplyBytes: config.portal.maxReplyBytes,
          },
        }
      : undefined,
  });

  let smtp: Address;
  try {
    smtp = await ingress.listen();
    const { host, port } = splitHostPort(config.httpListen);
    await http.listen({ host, port });
  } catch (err) {
    await ingress.close().catch(() => undefined);
    prober?.close();
    await portalStore?.close();
    await keys.close();
    await store.close();
    throw err;
  }
  const httpAddress = http.server.address();
  const httpBound =
    typeof httpAddress === "object" && httpAddress
      ? { host: httpAddress.address, port: httpAddress.port }
      : splitHostPort(config.httpListen);
  portal?.listeningOn(httpBound);
  runner.start();
  const sweeper = portal ? startSweeper(portal, config.portal.sweepMinutes, logger) : null;

  return {
    smtp,
    http: httpBound,
    store,
    config,
    logger,
    portal,
    async reloadPolicy() {
      try {
        policy = await loadPolicyEngine(config);
        logger.info({ event: "policy:reloaded", policy: policy.name }, "policy reloaded");
        return { ok: true, name: policy.name };
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        logger.error({ event: "policy:reload-failed" }, "policy reload refused; old policy kept");
        return { ok: false, error };
      }
    },
    async stop() {
      await ingress.close();
      if (sweeper) clearInterval(sweeper);
      await runner.stop();
      await deliverer.close();
      prober?.close();
      await http.close();
      await keys.close();
      await portalStore?.close();
      await store.close();
      logger.flush?.();
    },
  };
}

/** Deletes expired portal bodies and their keys now and every `minutes`. */
function startSweeper(portal: PortalCore, minutes: number, logger: Logger): NodeJS.Timeout {
  const sweep = () =>
    void portal.sweepExpired().catch((err: unknown) => {
      logger.error({ event: "portal:sweep-failed", err: { name: (err as Error).name } }, "sweep");
    });
  sweep();
  const timer = setInterval(sweep, minutes * 60_000);
  timer.unref();
  return timer;
}

function readDkimKey(file: string | undefined): string {
  try {
    return readFileSync(file ?? "", "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ConfigError(
      file ?? "configuration",
      [`dkim.privateKeyFile: cannot read (${reason})`],
      {
        cause: err,
      },
    );
  }
}
