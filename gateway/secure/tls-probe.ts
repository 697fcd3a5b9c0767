import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { LRUCache } from "lru-cache";
import { mtaName, type Config } from "../config/index.js";
import { DeliveryError } from "../deliver/errors.js";
import { MxResolver, type NextHop } from "../deliver/mx.js";
import { MtaStsResolver, type StsLookup, type StsMode } from "./mta-sts.js";
import { allowedHops } from "./tls-sts-policy.js";
import { checkHostTls, type HostCheck } from "./tls-smtp.js";

/**
 * Verified TLS as a delivery method: does the recipient domain's mail server prove who it is?
 * Proof is STARTTLS on an MX host, TLS 1.2 or newer, and a certificate that verifies for the
 * MX host name; an MTA-STS policy in enforce mode adds that the MX names themselves come from
 * the domain, and then hosts outside its patterns are not used (RFC 8461 §4.1, §5).
 */

export type TlsProbeResult =
  | {
      verified: true;
      /** The MX host that passed. */
      mx: string;
      tlsVersion: "TLSv1.2" | "TLSv1.3";
      mtaSts: StsMode;
      /** "mta-sts": an enforce policy vouches for the MX name; "certificate": DNS named it. */
      proof: "mta-sts" | "certificate";
    }
  | {
      verified: false;
      /** Host names and error codes, e.g. "no STARTTLS on mx1.example.net". */
      reason: string;
      mtaSts: StsMode;
    };

export interface ProbeOptions {
  resolver: MxResolver;
  /** MX port (delivery.mxPort). */
  port: number;
  heloName: string;
  /** Trusted roots: Node's plus delivery.tls.caFile. */
  ca: string[];
  /** Default TLSv1.2. */
  minVersion?: "TLSv1.2" | "TLSv1.3" | undefined;
  /** Milliseconds per host. Default 10000. */
  timeoutMs?: number | undefined;
  /** MTA-STS lookups; without it no policy is consulted. */
  mtaSts?: MtaStsResolver | null | undefined;
  /** Only an enforce policy counts as proof (delivery.tlsProbe.requireMtaSts). Default false. */
  requireMtaSts?: boolean | undefined;
  /** Most addresses tried before giving up. Default 6. */
  maxAttempts?: number | undefined;
}

type HostFailed = Extract<HostCheck, { ok: false }>;

/** A failure that says something about the host's TLS or SMTP, not about reaching it. */
function isVerdict(check: HostCheck): check is HostFailed {
  return !check.ok && check.failure !== "unreachable";
}

/** Probes a domain once, without caching. Never throws. */
export async function probeDomainTls(domain: string, o: ProbeOptions): Promise<TlsProbeResult> {
  const sts: StsLookup = o.mtaSts
    ? await o.mtaSts.lookup(domain)
    : { kind: "none", reason: "MTA-STS not consulted" };
  const mtaSts: StsMode = sts.kind === "policy" ? sts.policy.mode : "none";
  if (o.requireMtaSts && mtaSts !== "enforce") {
    const why = sts.kind === "policy" ? `is in ${mtaSts} mode` : "is missing";
    return { verified: false, reason: `MTA-STS policy of ${domain} ${why}`, mtaSts };
  }

  let all: NextHop[];
  try {
    all = await o.resolver.resolve(domain);
  } catch (err) {
    const reason =
      err instanceof DeliveryError
        ? `${err.code}: ${err.message}`
        : `MX lookup for ${domain} failed`;
    return { verified: false, reason, mtaSts };
  }
  const { hops, skipped } = allowedHops(all, sts.kind === "policy" ? sts.policy : null);
  if (hops.length === 0) {
    const names = skipped.join(", ");
    return {
      verified: false,
      reason: `no MX of ${domain} matches its MTA-STS policy (${names})`,
      mtaSts,
    };
  }

  const failures: HostFailed[] = [];
  const maxAttempts = o.maxAttempts ?? 6;
  hosts: for (const hop of hops) {
    for (const address of hop.addresses) {
      if (failures.length >= maxAttempts) break hosts;
      const check = await checkHostTls(hop.name, {
        address,
        port: o.port,
        heloName: o.heloName,
        ca: o.ca,
        minVersion: o.minVersion ?? "TLSv1.2",
        timeoutMs: o.timeoutMs ?? 10_000,
      });
      if (check.ok) {
        const proof = mtaSts === "enforce" ? "mta-sts" : "certificate";
        return { verified: true, mx: hop.name, tlsVersion: check.tlsVersion, mtaSts, proof };
      }
      failures.push(check);
      // The host has answered for its TLS; its other addresses would say the same.
      if (isVerdict(check)) continue hosts;
    }
  }
  // The most preferred host that answered explains best; otherwise nobody answered.
  const reason = failures.find(isVerdict)?.reason ?? `no MX reachable for ${domain}`;
  return { verified: false, reason, mtaSts };
}

/**
 * The probe's answer as the reason part of a routing event, e.g. "mx1.example.net, verified
 * (TLSv1.3), MTA-STS enforce" or "no STARTTLS on mx1.example.net". Host names and codes only.
 */
export function describeProbe(result: TlsProbeResult): string {
  if (result.verified) {
    return `${result.mx}, verified (${result.tlsVersion}), MTA-STS ${result.mtaSts}`;
  }
  return result.mtaSts === "none" ? result.reason : `${result.reason}, MTA-STS ${result.mtaSts}`;
}

export interface TlsProberOptions extends ProbeOptions {
  /** Milliseconds a verified answer is kept. Default 3600000. */
  cacheTtlMs?: number | undefined;
  /** Milliseconds a not-verified answer is kept. Default 300000. */
  negativeCacheTtlMs?: number | undefined;
  /** Most domains kept. Default 10000. */
  maxDomains?: number | undefined;
  /** Clock of the cache in milliseconds (tests). Default: performance. */
  clock?: { now(): number } | undefined;
}

/** probeDomainTls with a per-domain cache; concurrent probes of one domain share one run. */
export class TlsProber {
  readonly #options: TlsProberOptions;
  readonly #cache: LRUCache<string, TlsProbeResult>;
  readonly #inFlight = new Map<string, Promise<TlsProbeResult>>();

  constructor(options: TlsProberOptions) {
    this.#options = options;
    this.#cache = new LRUCache<string, TlsProbeResult>({
      max: options.maxDomains ?? 10_000,
      ttlResolution: 0,
      ...(options.clock ? { perf: options.clock } : {}),
    });
  }

  async probe(domain: string): Promise<TlsProbeResult> {
    const key = domain.toLowerCase().replace(/\.$/, "");
    const cached = this.#cache.get(key);
    if (cached) return cached;
    const pending = this.#inFlight.get(key);
    if (pending) return pending;
    const running = probeDomainTls(key, this.#options)
      .then((result) => {
        const ttl = result.verified
          ? (this.#options.cacheTtlMs ?? 3_600_000)
          : (this.#options.negativeCacheTtlMs ?? 300_000);
        this.#cache.set(key, result, { ttl });
        return result;
      })
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, running);
    return running;
  }

  /** Forgets a domain's answer (e.g. after a send-time failure contradicted it). */
  forget(domain: string): void {
    this.#cache.delete(domain.toLowerCase().replace(/\.$/, ""));
  }

  close(): void {
    this.#options.resolver.cancel();
    this.#options.mtaSts?.cancel();
  }
}

/** Trusted roots for next hops: Node's plus delivery.tls.caFile. */
export function nextHopRoots(config: Config): string[] {
  const file = config.delivery.tls.caFile;
  if (!file) return [...rootCertificates];
  try {
    return [...rootCertificates, readFileSync(file, "utf8")];
  } catch (err) {
    throw new DeliveryError("CONFIG", `cannot read delivery.tls.caFile ${file}`, { cause: err });
  }
}

/** The MTA-STS resolver delivery.mtaSts describes, or null when it is switched off. */
export function createMtaSts(config: Config, ca = nextHopRoots(config)): MtaStsResolver | null {
  const d = config.delivery;
  if (!d.mtaSts.enabled) return null;
  return new MtaStsResolver({ dnsServers: d.dnsServers, ca, timeoutMs: d.mtaSts.timeout * 1000 });
}

/**
 * A prober configured from delivery.*: its DNS servers, MX port, roots, minimum TLS version,
 * tlsProbe timeouts and cache lifetimes, and mtaSts. Pass `mtaSts` to share one policy cache
 * with the deliverer; throws DeliveryError CONFIG when caFile cannot be read.
 */
export function createTlsProber(
  config: Config,
  overrides: { mtaSts?: MtaStsResolver | null; clock?: { now(): number } } = {},
): TlsProber {
  const d = config.delivery;
  const ca = nextHopRoots(config);
  return new TlsProber({
    resolver: new MxResolver({ servers: d.dnsServers }),
    port: d.mxPort,
    heloName: mtaName(config),
    ca,
    minVersion: d.tls.minVersion,
    timeoutMs: d.tlsProbe.timeout * 1000,
    mtaSts: overrides.mtaSts === undefined ? createMtaSts(config, ca) : overrides.mtaSts,
    requireMtaSts: d.tlsProbe.requireMtaSts,
    cacheTtlMs: d.tlsProbe.cacheTtl * 1000,
    negativeCacheTtlMs: d.tlsProbe.negativeCacheTtl * 1000,
    clock: overrides.clock,
  });
}
