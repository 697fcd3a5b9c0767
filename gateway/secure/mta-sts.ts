import { Resolver } from "node:dns/promises";
import { request } from "node:https";
import { rootCertificates } from "node:tls";
import { LRUCache } from "lru-cache";
import {
  MtaStsError,
  parseStsPolicy,
  parseStsTxt,
  type StsMode,
  type StsPolicy,
} from "./tls-sts-policy.js";

export {
  allowedHops,
  MtaStsError,
  mxMatches,
  policyAllowsMx,
  parseStsPolicy,
  parseStsTxt,
} from "./tls-sts-policy.js";
export type { MtaStsErrorCode, StsMode, StsPolicy } from "./tls-sts-policy.js";

/**
 * MTA-STS discovery (RFC 8461): the `_mta-sts` TXT record, then the policy over HTTPS from
 * `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`, cached by policy id for its max_age.
 */

export type StsLookup =
  | { kind: "policy"; policy: StsPolicy; cached: boolean }
  /** No usable policy: the domain has none, or it could not be fetched (reason says which). */
  | { kind: "none"; reason: string };

export interface MtaStsOptions {
  /** DNS servers (HOST or HOST:PORT) for TXT and the policy host. Default: the system's. */
  dnsServers?: string[] | undefined;
  /** Roots that verify the policy host. Default: Node's (callers add delivery.tls.caFile). */
  ca?: string[] | undefined;
  /** Milliseconds for the TXT lookup and for the HTTPS fetch each. Default 10000. */
  timeoutMs?: number | undefined;
  /** HTTPS port of the policy host. Default 443; tests serve on loopback elsewhere. */
  port?: number | undefined;
  /** Addresses of the policy host. Default: A and AAAA from dnsServers. */
  resolveHost?: ((host: string) => Promise<string[]>) | undefined;
  /** Most domains whose policy is kept. Default 10000. */
  maxPolicies?: number | undefined;
  /**
   * Milliseconds a failed policy fetch is remembered (per domain and id) before it is tried
   * again, so a broken policy host does not stall every delivery by a timeout. Default 300000.
   */
  failureTtlMs?: number | undefined;
  /** Clock of the cache, in milliseconds (tests). Default: performance. */
  clock?: { now(): number } | undefined;
}

/** §3.3: a policy file larger than this is refused. */
const MAX_POLICY_BYTES = 64 * 1024;

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "ERROR";
}

export class MtaStsResolver {
  readonly #resolver: Resolver;
  readonly #ca: string[];
  readonly #timeoutMs: number;
  readonly #port: number;
  readonly #resolveHost: (host: string) => Promise<string[]>;
  readonly #cache: LRUCache<string, StsPolicy>;
  readonly #failures: LRUCache<string, string>;
  readonly #inFlight = new Map<string, Promise<StsLookup>>();

  constructor(options: MtaStsOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#resolver = new Resolver({ timeout: this.#timeoutMs, tries: 2 });
    if (options.dnsServers && options.dnsServers.length > 0) {
      this.#resolver.setServers(options.dnsServers);
    }
    this.#ca = options.ca ?? [...rootCertificates];
    this.#port = options.port ?? 443;
    this.#resolveHost = options.resolveHost ?? ((host) => this.#addresses(host));
    // ttlResolution 0: lru-cache otherwise reuses one clock reading for a millisecond, so an
    // entry could outlive its max_age by that much (and a test clock's jump be missed).
    this.#cache = new LRUCache<string, StsPolicy>({
      max: options.maxPolicies ?? 10_000,
      ttlResolution: 0,
      ...(options.clock ? { perf: options.clock } : {}),
    });
    this.#failures = new LRUCache<string, string>({
      max: options.maxPolicies ?? 10_000,
      ttl: options.failureTtlMs ?? 300_000,
      ttlResolution: 0,
      ...(options.clock ? { perf: options.clock } : {}),
    });
  }

  /**
   * The policy that applies to a domain now. Never throws: a domain whose policy cannot be
   * found or fetched has none (§5.1), unless a cached one is still within its max_age.
   */
  async lookup(domain: string): Promise<StsLookup> {
    const key = domain.toLowerCase().replace(/\.$/, "");
    const pending = this.#inFlight.get(key);
    if (pending) return pending;
    const running = this.#lookup(key).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, running);
    return running;
  }

  /** Shortcut for callers that only need the mode. */
  async mode(domain: string): Promise<StsMode> {
    const found = await this.lookup(domain);
    return found.kind === "policy" ? found.policy.mode : "none";
  }

  cancel(): void {
    this.#resolver.cancel();
  }

  async #lookup(domain: string): Promise<StsLookup> {
    const cached = this.#cache.get(domain);
    let id: string | null;
    try {
      id = parseStsTxt(await this.#txt(domain), domain);
    } catch (err) {
      // §5.1: without a usable record, a policy still within its max_age keeps applying.
      if (cached) return { kind: "policy", policy: cached, cached: true };
      return { kind: "none", reason: err instanceof Error ? err.message : String(err) };
    }
    if (id === null) {
      if (cached) return { kind: "policy", policy: cached, cached: true };
      return { kind: "none", reason: `${domain} publishes no MTA-STS record` };
    }
    if (cached && cached.id === id) return { kind: "policy", policy: cached, cached: true };
    const failed = this.#failures.get(`${domain} ${id}`);
    if (failed !== undefined) {
      if (cached) return { kind: "policy", policy: cached, cached: true };
      return { kind: "none", reason: failed };
    }

    try {
      const text = await this.#fetch(domain);
      const policy = parseStsPolicy(text, { id, domain });
      // max_age 0 means "do not cache"; lru-cache would read a ttl of 0 as "forever".
      if (policy.maxAge > 0) this.#cache.set(domain, policy, { ttl: policy.maxAge * 1000 });
      else this.#cache.delete(domain);
      return { kind: "policy", policy, cached: false };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.#failures.set(`${domain} ${id}`, reason);
      if (cached) return { kind: "policy", policy: cached, cached: true };
      return { kind: "none", reason };
    }
  }

  async #txt(domain: string): Promise<string[]> {
    try {
      const records = await this.#resolver.resolveTxt(`_mta-sts.${domain}`);
      return records.map((chunks) => chunks.join(""));
    } catch (err) {
      const code = codeOf(err);
      if (code === "ENOTFOUND" || code === "ENODATA") return [];
      throw new MtaStsError("STS_DNS_FAILED", `MTA-STS lookup for ${domain} failed (${code})`, {
        cause: err,
      });
    }
  }

  async #addresses(host: string): Promise<string[]> {
    const found = await Promise.allSettled([
      this.#resolver.resolve4(host),
      this.#resolver.resolve6(host),
    ]);
    return found.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
  }

  /** §3.3: HTTPS with a verified certificate, no redirects, 200 only, text/plain, 64 KiB. */
  async #fetch(domain: string): Promise<string> {
    const host = `mta-sts.${domain}`;
    let addresses: string[];
    try {
      addresses = await this.#resolveHost(host);
    } catch (err) {
      throw new MtaStsError("STS_DNS_FAILED", `no address for ${host} (${codeOf(err)})`, {
        cause: err,
      });
    }
    if (addresses.length === 0) {
      throw new MtaStsError("STS_DNS_FAILED", `no address for ${host}`);
    }
    let last: unknown = null;
    for (const address of addresses) {
      try {
        return await this.#get(address, host);
      } catch (err) {
        last = err;
        // A host that answered with something wrong has spoken for the policy.
        if (err instanceof MtaStsError) throw err;
      }
    }
    throw new MtaStsError(
      "STS_FETCH_FAILED",
      `policy fetch from ${host} failed (${codeOf(last)})`,
      {
        cause: last,
      },
    );
  }

  #get(address: string, host: string): Promise<string> {
    const fail = (why: string) => new MtaStsError("STS_FETCH_FAILED", `${host}: ${why}`);
    return new Promise<string>((resolve, reject) => {
      const req = request(
        {
          host: address,
          port: this.#port,
          servername: host,
          path: "/.well-known/mta-sts.txt",
          method: "GET",
          headers: { host, accept: "text/plain" },
          ca: this.#ca,
          minVersion: "TLSv1.2",
          rejectUnauthorized: true,
          agent: false,
          timeout: this.#timeoutMs,
        },
        (res) => {
          const type = String(res.headers["content-type"] ?? "");
          if (res.statusCode !== 200) {
            res.resume();
            return reject(fail(`HTTP ${res.statusCode ?? 0}`));
          }
          if (!/^text\/plain\s*(;|$)/i.test(type)) {
            res.resume();
            return reject(fail("policy is not text/plain"));
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_POLICY_BYTES) {
              req.destroy();
              reject(fail("policy larger than 64 KiB"));
            } else chunks.push(chunk);
          });
          res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
          res.on("error", reject);
        },
      );
      req.on("timeout", () =>
        req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })),
      );
      req.on("error", (err) => {
        const code = codeOf(err);
        // Certificate failures are the policy host's answer, not a host being down.
        if (/CERT|SELF_SIGNED|UNABLE_TO|ALTNAME|ERR_TLS|ERR_SSL/.test(code)) {
          reject(fail(`certificate does not verify (${code})`));
        } else reject(err);
      });
      req.end();
    });
  }
}
