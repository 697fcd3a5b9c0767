import type { PublicKey } from "openpgp";
import type { DiscoveryResult } from "../../certs/discovery/index.js";
import { checkRecipientCertificate } from "../../certs/smime/index.js";
import type { KeyRepository, StoredKey } from "../../certs/types.js";
import type { EncryptMethod } from "../../policy/index.js";
import { describeProbe, type TlsProbeResult } from "./tls-probe.js";

/**
 * The selector of DESIGN.md "Choosing the method per recipient": for one recipient of a
 * sensitive message, walk the configured order and take the first method that applies.
 * Every answer carries the reason for the `secure:route` event, built from key sources,
 * dates, host names and error codes only; never an address or message content.
 */

export type SecureMethod = "smime" | "pgp" | "tls" | "portal";

export type Choice =
  | { method: "smime"; reason: string; certificate: string }
  | { method: "pgp"; reason: string; key: PublicKey }
  | { method: "tls"; reason: string }
  /** No other method can carry the copy: the portal (or, with the portal off, a hold). */
  | { method: "portal"; reason: string };

/** The parts of KeyDiscovery and TlsProber the selector uses (tests may pass fakes). */
export interface PgpLookup {
  discover(address: string): Promise<DiscoveryResult>;
}
export interface TlsLookup {
  probe(domain: string): Promise<TlsProbeResult>;
}

export interface SelectorOptions {
  repository: KeyRepository;
  /** PEM trust anchors for recipient certificates (configured file plus the own CA). */
  trustAnchors: () => Promise<string[]>;
  /** PGP key lookups; null: PGP never applies. */
  discovery: PgpLookup | null;
  /** MX TLS probes (mode mx); null there means TLS is checked only at send time. */
  prober: TlsLookup | null;
  /** delivery.mode: what "tls" means depends on the next hop. */
  mode: "mx" | "smarthost" | "outbox";
  /** The smart host's name, for the reason text (mode smarthost). */
  smartHost?: string | undefined;
  /** Default smime, pgp, tls, portal. */
  order?: readonly SecureMethod[] | undefined;
  /** Longest a PGP lookup may take, in ms. Default 10000. */
  pgpTimeoutMs?: number | undefined;
  /** Clock for certificate validity. Default: now. */
  now?: (() => Date) | undefined;
}

type Attempt = Choice | { method: null; why: string };

const DEFAULT_ORDER: readonly SecureMethod[] = ["smime", "pgp", "tls", "portal"];
const day = (d: Date) => d.toISOString().slice(0, 10);

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1).toLowerCase();
}

/**
 * The methods a policy's `encrypt: {method}` leaves: auto keeps the order, others narrow it
 * to that one method, but only if the admin's secure.order has it; a policy never turns on a
 * method the admin turned off (the copy then goes to the portal).
 */
export function narrowOrder(order: readonly SecureMethod[], method: EncryptMethod): SecureMethod[] {
  if (method === "auto") return [...order];
  return order.includes(method) || method === "portal" ? [method] : [];
}

export class RecipientSelector {
  readonly #o: SelectorOptions;

  constructor(options: SelectorOptions) {
    this.#o = options;
  }

  /** Chooses the method for one recipient; never throws (a failed lookup is a reason). */
  async choose(address: string, method: EncryptMethod = "auto"): Promise<Choice> {
    const order = narrowOrder(this.#o.order ?? DEFAULT_ORDER, method);
    const why: string[] = [];
    for (const candidate of order) {
      if (candidate === "portal") break;
      const attempt = await this.#try(candidate, address);
      if (attempt.method !== null) return attempt;
      why.push(attempt.why);
    }
    const configured = this.#o.order ?? DEFAULT_ORDER;
    const forced =
      method === "auto"
        ? ""
        : configured.includes(method) || method === "portal"
          ? `policy asks for ${method} only; `
          : `policy asks for ${method}, which secure.order leaves out; `;
    const detail = why.length > 0 ? compact(why) : "no other method in the configured order";
    return {
      method: "portal",
      reason: `portal: ${forced}${detail}`,
    };
  }

  async #try(method: Exclude<SecureMethod, "portal">, address: string): Promise<Attempt> {
    try {
      switch (method) {
        case "smime":
          return await this.#smime(address);
        case "pgp":
          return await this.#pgp(address);
        case "tls":
          return await this.#tls(address);
      }
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return { method: null, why: `${method} lookup failed (${String(code ?? "error")})` };
    }
  }

  async #smime(address: string): Promise<Attempt> {
    const certs = await this.#o.repository.keysForAddress(address, ["smime-cert"]);
    if (certs.length === 0) return { method: null, why: "no certificate" };
    const anchors = await this.#o.trustAnchors();
    const now = this.#o.now?.() ?? new Date();
    // The longest-lived usable certificate: the one the recipient most likely still holds.
    const sorted = [...certs].sort((a, b) => time(b) - time(a));
    const refusals: string[] = [];
    for (const key of sorted) {
      const check = await checkRecipientCertificate(key.material, address, {
        trustAnchors: anchors,
        now,
      });
      if (check.ok) {
        const from = key.source === "import" ? "store" : key.source;
        return {
          method: "smime",
          certificate: key.material,
          reason: `smime: certificate from ${from}, expires ${day(check.notAfter)}`,
        };
      }
      // Every certificate's reason, so the trace shows why each one was passed over.
      if (!refusals.includes(check.reason)) refusals.push(check.reason);
    }
    return { method: null, why: refusals.join("; ") };
  }

  async #pgp(address: string): Promise<Attempt> {
    const discovery = this.#o.discovery;
    if (!discovery) return { method: null, why: "no PGP key (lookups off)" };
    const timeoutMs = this.#o.pgpTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    const result = await Promise.race([discovery.discover(address), timeout]).finally(() =>
      clearTimeout(timer),
    );
    if (result === null) return { method: null, why: "pgp key lookup timed out" };
    if (result.kind === "found") return { method: "pgp", key: result.key, reason: result.reason };
    return { method: null, why: result.reason.replace(/^pgp: /, "") };
  }

  async #tls(address: string): Promise<Attempt> {
    switch (this.#o.mode) {
      case "outbox":
        // The outbox stands for the network: no TLS hop there can prove itself, so PHI is not
        // written to it in clear. Keys still apply; the rest goes to the portal.
        return { method: null, why: "outbox has no TLS hop to verify" };
      case "smarthost":
        // The next hop is fixed; the deliverer requires its certificate to verify.
        return {
          method: "tls",
          reason: `tls: smart host ${this.#o.smartHost ?? "(unnamed)"}, verified at send time`,
        };
      case "mx": {
        if (!this.#o.prober) {
          return { method: "tls", reason: "tls: not probed, verified TLS required at send time" };
        }
        const probe = await this.#o.prober.probe(domainOf(address));
        if (probe.verified) return { method: "tls", reason: `tls: ${describeProbe(probe)}` };
        return { method: null, why: describeProbe(probe) };
      }
    }
  }
}

function time(key: StoredKey): number {
  return key.notAfter?.getTime() ?? 0;
}

/**
 * Joins the reasons methods did not apply; "no certificate" and "no usable key" together read
 * "no key" as in the example ("portal: no key, MX offers no STARTTLS").
 */
function compact(why: string[]): string {
  const smime = why.indexOf("no certificate");
  const pgp = why.findIndex((w) => /^no (PGP key|usable key)\b/.test(w));
  if (smime === -1 || pgp === -1) return why.join(", ");
  const detail = /\((.*)\)$/.exec(why[pgp] ?? "")?.[1];
  const rest = why.filter((_, i) => i !== smime && i !== pgp);
  return [detail ? `no key (${detail})` : "no key", ...rest].join(", ");
}
