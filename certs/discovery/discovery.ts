import { LRUCache } from "lru-cache";
import type { PublicKey } from "openpgp";
import { checkPgpKey, readPublicKeys } from "../pgp/index.js";
import type { KeyRejection, KeyRepository, KeySource, StoredKey } from "../types.js";
import { parseAddress, type ParsedAddress } from "./address.js";
import { LookupError } from "./errors.js";
import type { HttpOptions } from "./http.js";
import { fetchKeyserver, type KeyserverProtocol } from "./keyserver.js";
import { fetchWkd } from "./wkd.js";

export interface DiscoveryOptions {
  repository: KeyRepository;
  /** Web Key Directory. Default: enabled, 5 s for both methods together. */
  wkd?: { enabled?: boolean; timeoutMs?: number };
  /**
   * Keyserver. Default: disabled; when enabled, VKS at https://keys.openpgp.org, 5 s.
   * HKP servers publish unverified user IDs; VKS servers confirm each address first.
   */
  keyserver?: { enabled?: boolean; url?: string; protocol?: KeyserverProtocol; timeoutMs?: number };
  /** Remote answers are cached. Default: 10 000 addresses, 6 h found, 30 min not found. */
  cache?: { max?: number; ttlMs?: number; negativeTtlMs?: number };
  /** TLS trust and host resolution for the lookups. Default: system roots and DNS. */
  http?: HttpOptions;
  /** The clock keys are judged by. Default: the system clock. */
  now?: () => Date;
  /** The cache's TTL clock, in milliseconds (tests). Default: performance. */
  cacheClock?: { now(): number };
}

export type DiscoveryResult =
  | {
      kind: "found";
      key: PublicKey;
      stored: StoredKey;
      source: KeySource;
      /** For the route event: "pgp: key from wkd, expires 2027-05-01" (no address). */
      reason: string;
      rejections: KeyRejection[];
    }
  | { kind: "none"; reason: string; rejections: KeyRejection[] };

interface RemoteAnswer {
  found: StoredKey | null;
  /** Sources that answered for certain: no key there, or none usable (revoked, expired ...). */
  disowned: KeySource[];
  /** Per-method outcome, e.g. "wkd: not found", "keyserver: timeout". */
  notes: string[];
  rejections: KeyRejection[];
}

const DEFAULTS = {
  wkdTimeoutMs: 5_000,
  keyserverTimeoutMs: 5_000,
  keyserverUrl: "https://keys.openpgp.org",
  max: 10_000,
  ttlMs: 6 * 3600_000,
  negativeTtlMs: 30 * 60_000,
};

/**
 * Finds a usable OpenPGP key for an address: the local repository first, then WKD, then a
 * keyserver. Remote answers are cached (shorter when negative) and usable discovered keys are
 * stored with their source; a stored discovered key older than the positive cache lifetime is
 * looked up again (see #settleStale). Every step is bounded by its timeout, so a lookup never takes
 * longer than the sum of the enabled methods' timeouts.
 */
export class KeyDiscovery {
  readonly #opts: DiscoveryOptions;
  readonly #cache: LRUCache<string, RemoteAnswer>;
  readonly #inFlight = new Map<string, Promise<RemoteAnswer>>();
  readonly #negativeTtl: number;
  readonly #ttl: number;

  constructor(opts: DiscoveryOptions) {
    this.#opts = opts;
    const ttl = opts.cache?.ttlMs ?? DEFAULTS.ttlMs;
    this.#ttl = ttl;
    this.#negativeTtl = opts.cache?.negativeTtlMs ?? Math.min(DEFAULTS.negativeTtlMs, ttl);
    if (this.#negativeTtl > ttl) {
      throw new RangeError("the negative cache TTL must not exceed the positive one");
    }
    this.#cache = new LRUCache<string, RemoteAnswer>({
      max: opts.cache?.max ?? DEFAULTS.max,
      ttl,
      ttlResolution: 0,
      ...(opts.cacheClock ? { perf: opts.cacheClock } : {}),
    });
  }

  async discover(address: string): Promise<DiscoveryResult> {
    const parsed = parseAddress(address);
    if (parsed === null) {
      return { kind: "none", reason: "pgp: address not valid for key lookup", rejections: [] };
    }
    const rejections: KeyRejection[] = [];

    const local = await this.#opts.repository.keysForAddress(parsed.normalised, ["pgp-public"]);
    const stale = local.filter((k) => this.#stale(k));
    const fresh = local.filter((k) => !stale.includes(k));
    const fromStore = await this.#firstUsable(fresh, parsed.normalised, rejections);
    if (fromStore) return fromStore;

    const remote = await this.#remote(parsed);
    rejections.push(...remote.rejections);
    if (remote.found) {
      const again = await this.#firstUsable([remote.found], parsed.normalised, rejections);
      if (again) return again;
    }
    const kept = await this.#settleStale(parsed.normalised, stale, remote, rejections);
    const fallback = await this.#firstUsable(kept, parsed.normalised, rejections);
    if (fallback) {
      const failed = remote.notes.length > 0 ? ` (${remote.notes.join("; ")})` : "";
      return { ...fallback, reason: `${fallback.reason}, not re-checked${failed}` };
    }
    const why = [...remote.notes, ...rejections.map((r) => r.reason)];
    const reason = `pgp: no usable key${why.length > 0 ? ` (${why.join("; ")})` : ""}`;
    return { kind: "none", reason, rejections };
  }

  /**
   * A key found by WKD or a keyserver is trusted for as long as a positive answer is cached;
   * after that it is looked up again. createdAt is when it was last fetched.
   */
  #stale(key: StoredKey): boolean {
    if (key.source !== "wkd" && key.source !== "keyserver") return false;
    const now = (this.#opts.now?.() ?? new Date()).getTime();
    return now - key.createdAt.getTime() > this.#ttl;
  }

  /**
   * Stale keys after a fresh lookup: one whose source now answers for certain that it has no
   * usable key for the address (not found, revoked, expired) is removed from the store; one
   * whose source could not be asked (timeout, connection, TLS) is kept and still used, so a
   * network fault does not take a working key away.
   */
  async #settleStale(
    address: string,
    stale: StoredKey[],
    remote: RemoteAnswer,
    rejections: KeyRejection[],
  ): Promise<StoredKey[]> {
    const kept: StoredKey[] = [];
    for (const key of stale) {
      if (remote.found?.id === key.id) continue;
      if (!remote.disowned.includes(key.source)) {
        kept.push(key);
        continue;
      }
      // The source speaks for this address only: a key also stored for others keeps those.
      const others = key.addresses.filter((a) => a !== address);
      if (others.length > 0) await this.#opts.repository.putKey({ ...key, addresses: others });
      else await this.#opts.repository.removeKey(key.id);
      rejections.push({
        keyId: key.id,
        reason: `pgp: stored key no longer offered by ${key.source}, removed`,
      });
    }
    return kept;
  }

  /** Forgets cached remote answers (all, or one address's). */
  forget(address?: string): void {
    if (address === undefined) return this.#cache.clear();
    const parsed = parseAddress(address);
    if (parsed) this.#cache.delete(parsed.normalised);
  }

  async #firstUsable(keys: StoredKey[], address: string, rejections: KeyRejection[]) {
    const now = this.#opts.now?.() ?? new Date();
    for (const stored of keys) {
      let parsed: PublicKey[];
      try {
        parsed = await readPublicKeys(stored.material);
      } catch {
        rejections.push({ keyId: stored.id, reason: "pgp: stored key unreadable" });
        continue;
      }
      for (const key of parsed) {
        const verdict = await checkPgpKey(key, address, { now });
        if (!verdict.ok) {
          rejections.push({ keyId: verdict.fingerprint, reason: verdict.reason });
          continue;
        }
        const expires = verdict.expires
          ? `expires ${verdict.expires.toISOString().slice(0, 10)}`
          : "no expiry";
        const from = stored.source === "import" ? "store" : stored.source;
        return {
          kind: "found" as const,
          key,
          stored,
          source: stored.source,
          reason: `pgp: key ${verdict.fingerprint} from ${from}, ${expires}`,
          rejections,
        };
      }
    }
    return null;
  }

  async #remote(address: ParsedAddress): Promise<RemoteAnswer> {
    const cached = this.#cache.get(address.normalised);
    if (cached) return { ...cached, notes: cached.notes.map((n) => `${n} (cached)`) };
    const running = this.#inFlight.get(address.normalised);
    if (running) return running;
    const work = this.#lookUp(address).finally(() => this.#inFlight.delete(address.normalised));
    this.#inFlight.set(address.normalised, work);
    const answer = await work;
    this.#cache.set(address.normalised, answer, answer.found ? {} : { ttl: this.#negativeTtl });
    return answer;
  }

  async #lookUp(address: ParsedAddress): Promise<RemoteAnswer> {
    const answer: RemoteAnswer = { found: null, disowned: [], notes: [], rejections: [] };
    const wkd = this.#opts.wkd;
    if (wkd?.enabled ?? true) {
      const signal = AbortSignal.timeout(wkd?.timeoutMs ?? DEFAULTS.wkdTimeoutMs);
      await this.#try("wkd", answer, address, async () => {
        const got = await fetchWkd(address, { ...this.#opts.http, signal });
        return got.keys;
      });
      if (answer.found) return answer;
    }
    const ks = this.#opts.keyserver;
    if (ks?.enabled ?? false) {
      const signal = AbortSignal.timeout(ks?.timeoutMs ?? DEFAULTS.keyserverTimeoutMs);
      await this.#try("keyserver", answer, address, () =>
        fetchKeyserver(address, {
          ...this.#opts.http,
          signal,
          url: ks?.url ?? DEFAULTS.keyserverUrl,
          protocol: ks?.protocol ?? "vks",
        }),
      );
    }
    return answer;
  }

  /** Runs one method; a usable key is stored, anything else becomes a note. */
  async #try(
    source: "wkd" | "keyserver",
    answer: RemoteAnswer,
    address: ParsedAddress,
    fetch: () => Promise<Uint8Array | string | null>,
  ): Promise<void> {
    let material: Uint8Array | string | null;
    try {
      material = await fetch();
    } catch (err) {
      const code = err instanceof LookupError ? err.code.replace("lookup-", "") : "failed";
      answer.notes.push(`${source}: ${code}`);
      return;
    }
    if (material === null) {
      answer.notes.push(`${source}: not found`);
      answer.disowned.push(source);
      return;
    }
    let keys: PublicKey[];
    try {
      keys = await readPublicKeys(material);
    } catch {
      answer.notes.push(`${source}: unreadable key`);
      return;
    }
    const now = this.#opts.now?.() ?? new Date();
    for (const key of keys) {
      const verdict = await checkPgpKey(key, address.normalised, { now });
      if (!verdict.ok) {
        answer.rejections.push({
          keyId: verdict.fingerprint,
          reason: `${verdict.reason} (${source})`,
        });
        continue;
      }
      answer.found = await this.#store(key, address.normalised, source, verdict.expires);
      return;
    }
    answer.notes.push(`${source}: no usable key`);
    answer.disowned.push(source);
  }

  async #store(key: PublicKey, address: string, source: KeySource, expires: Date | null) {
    const id = key.getFingerprint().toUpperCase();
    const repo = this.#opts.repository;
    const existing = (await repo.listKeys(["pgp-public"])).find((k) => k.id === id);
    const stored: StoredKey = {
      id,
      kind: "pgp-public",
      addresses: [...new Set([...(existing?.addresses ?? []), address])],
      source,
      material: key.armor(),
      notAfter: expires,
      createdAt: this.#opts.now?.() ?? new Date(),
    };
    await repo.putKey(stored);
    return stored;
  }
}
