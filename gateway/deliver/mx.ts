import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import { DeliveryError } from "./errors.js";

/** One host to try, with the name its certificate must carry and the addresses to dial. */
export interface NextHop {
  /** Host name from DNS (MX exchange, or the domain itself when it has no MX). */
  name: string;
  addresses: string[];
}

export interface MxResolverOptions {
  /** HOST or HOST:PORT ([v6]:PORT); empty means the system's servers. */
  servers?: string[] | undefined;
  /** Milliseconds per query before c-ares tries again. Default 5000. */
  timeoutMs?: number | undefined;
}

const NOT_FOUND = new Set(["ENOTFOUND"]);
const NO_DATA = new Set(["ENODATA"]);

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

/**
 * Resolves a recipient domain to the hosts to try, in MX preference order (RFC 5321 §5.1):
 * no MX records means the domain itself is the host (implicit MX); a null MX (RFC 7505)
 * means the domain accepts no mail.
 */
export class MxResolver {
  readonly #resolver: Resolver;

  constructor(options: MxResolverOptions = {}) {
    this.#resolver = new Resolver({ timeout: options.timeoutMs ?? 5000, tries: 2 });
    if (options.servers && options.servers.length > 0) this.#resolver.setServers(options.servers);
  }

  async resolve(domain: string): Promise<NextHop[]> {
    const literal = /^\[(?:IPv6:)?([0-9a-fA-F:.]+)\]$/.exec(domain)?.[1];
    if (literal && isIP(literal)) return [{ name: literal, addresses: [literal] }];

    let records: { exchange: string; priority: number }[];
    try {
      records = await this.#resolver.resolveMx(domain);
    } catch (err) {
      const code = codeOf(err);
      if (NOT_FOUND.has(code)) {
        throw new DeliveryError("DNS_NXDOMAIN", `domain ${domain} does not exist`, { cause: err });
      }
      if (!NO_DATA.has(code)) {
        throw new DeliveryError("DNS_TEMPORARY", `MX lookup for ${domain} failed (${code})`, {
          cause: err,
        });
      }
      records = [];
    }

    if (records.some((r) => r.exchange === "" || r.exchange === ".")) {
      throw new DeliveryError("DNS_NULL_MX", `${domain} publishes a null MX (RFC 7505)`);
    }

    const names =
      records.length === 0
        ? [domain]
        : [...records].sort((a, b) => a.priority - b.priority).map((r) => r.exchange);

    const hops: NextHop[] = [];
    let lastError: unknown = null;
    for (const name of names) {
      try {
        const addresses = await this.#addresses(name);
        if (addresses.length > 0) hops.push({ name, addresses });
      } catch (err) {
        lastError = err;
      }
    }
    if (hops.length === 0) {
      if (lastError instanceof DeliveryError) throw lastError;
      throw new DeliveryError("DNS_NO_ADDRESS", `no address found for the hosts of ${domain}`);
    }
    return hops;
  }

  async #addresses(name: string): Promise<string[]> {
    if (isIP(name)) return [name];
    const lookups = await Promise.allSettled([
      this.#resolver.resolve4(name),
      this.#resolver.resolve6(name),
    ]);
    const found: string[] = [];
    let temporary = false;
    for (const r of lookups) {
      if (r.status === "fulfilled") found.push(...r.value);
      else if (!NOT_FOUND.has(codeOf(r.reason)) && !NO_DATA.has(codeOf(r.reason))) temporary = true;
    }
    if (found.length === 0 && temporary) {
      throw new DeliveryError("DNS_TEMPORARY", `address lookup for ${name} failed`);
    }
    return found;
  }

  cancel(): void {
    this.#resolver.cancel();
  }
}
