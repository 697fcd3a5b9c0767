import ipaddr from "ipaddr.js";
import type { ConnectorConfig } from "../config/index.js";
import { asciiDomain } from "./addresses.js";
import type { ReplyName } from "./replies.js";

/** A connector's configuration that cannot be used; names the connector, never an address. */
export class ConnectorConfigError extends Error {
  override readonly name = "ConnectorConfigError";
  readonly code = "SMTP_CONNECTOR_INVALID";

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
  }
}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Reduces an address to the form ranges are compared in: an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, which a dual-stack listener reports for IPv4 peers) becomes IPv4.
 */
export function normalizeClientIp(value: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const bare = value.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!ipaddr.isValid(bare)) return null;
  return ipaddr.process(bare);
}

/**
 * What is wrong with an ipRanges entry, or null when it is an address or CIDR range. The
 * configuration schema asks this too, so `config check` refuses what start would refuse.
 */
export function rangeProblem(entry: string): string | null {
  const [addrText = "", bitsText] = entry.trim().split("/", 2);
  if (!ipaddr.IPv4.isValidFourPartDecimal(addrText) && !ipaddr.IPv6.isValid(addrText)) {
    return "is not an IP address or CIDR range";
  }
  const max = ipaddr.parse(addrText).kind() === "ipv4" ? 32 : 128;
  if (!/^\d{1,3}$/.test(bitsText ?? String(max)) || Number(bitsText ?? max) > max) {
    return "has an invalid prefix length";
  }
  return null;
}

/**
 * How wide a range is, as a prefix length of its own family after IPv4-mapped ranges are
 * folded to IPv4 (::ffff:0.0.0.0/96 is 0.0.0.0/0), or null when it is not a range.
 */
export function rangeWidth(entry: string): { family: "ipv4" | "ipv6"; bits: number } | null {
  if (rangeProblem(entry)) return null;
  const [addr, bits] = parseRange(entry, "");
  return { family: addr.kind(), bits };
}

function parseRange(entry: string, connector: string): Range {
  const text = entry.trim();
  const problem = rangeProblem(text);
  if (problem) {
    throw new ConnectorConfigError(`connector ${connector}: ipRanges entry "${text}" ${problem}`);
  }
  const [addrText = "", bitsText] = text.split("/", 2);
  let addr: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(addrText);
  let bits = bitsText === undefined ? (addr.kind() === "ipv4" ? 32 : 128) : Number(bitsText);
  // ::ffff:10.0.0.0/104 means the IPv4 range 10.0.0.0/8; clients are compared as IPv4.
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
    bits -= 96;
  }
  return [addr, bits];
}

interface CompiledConnector {
  config: ConnectorConfig;
  ranges: Range[];
}

/** What the client is known by when MAIL FROM arrives. */
export interface MailContext {
  /** Domain of the MAIL FROM address (see senderDomainOf); "" for the null sender. */
  senderDomain: string;
  /** CN and DNS SANs of a client certificate that verified against smtp.clientCaFile. */
  certNames: readonly string[];
}

export type ConnectorDecision =
  { kind: "accept"; connectors: ConnectorConfig[] } | { kind: "reject"; reply: ReplyName };

/**
 * Decides which connectors a session may use. Several connectors may share IP ranges
 * (Microsoft's and Google's are shared by every tenant); each step narrows the candidates,
 * and the message is accepted when at least one connector matches every pin it has.
 */
export class ConnectorTable {
  readonly #connectors: CompiledConnector[];

  constructor(connectors: readonly ConnectorConfig[]) {
    this.#connectors = connectors.map((config) => ({
      config,
      ranges: config.ipRanges.map((r) => parseRange(r, config.name)),
    }));
  }

  /** Whether any connector pins a client certificate, so STARTTLS must ask for one. */
  get wantsClientCert(): boolean {
    return this.#connectors.some((c) => c.config.clientCertSubject !== undefined);
  }

  /** Connectors whose ipRanges hold the client address (step 1, at connect). */
  forClient(clientIp: string): ConnectorConfig[] {
    const ip = normalizeClientIp(clientIp);
    if (!ip) return [];
    return this.#connectors
      .filter((c) => c.ranges.some((r) => r[0].kind() === ip.kind() && ip.match(r)))
      .map((c) => c.config);
  }

  /** Narrows by sender domain and client certificate (step 2, at MAIL FROM). */
  forMail(candidates: readonly ConnectorConfig[], ctx: MailContext): ConnectorDecision {
    const byCert = candidates.filter((c) => certMatches(c, ctx.certNames));
    if (byCert.length === 0) return { kind: "reject", reply: "clientCertRequired" };
    const byDomain = byCert.filter((c) => domainMatches(c, ctx.senderDomain));
    if (byDomain.length === 0) return { kind: "reject", reply: "senderNotAllowed" };
    return { kind: "accept", connectors: byDomain };
  }

  /**
   * Narrows by the Microsoft 365 tenant (step 3, after DATA). Every
   * X-MS-Exchange-CrossTenant-Id the message carries must name the pinned tenant: a second,
   * different one could have been typed by a sender, so it fails closed.
   */
  forTenant(
    candidates: readonly ConnectorConfig[],
    tenantIds: readonly string[],
  ): ConnectorDecision {
    const ids = tenantIds.map((t) => t.trim().toLowerCase());
    const ok = candidates.filter((c) => {
      if (c.m365TenantId === undefined) return true;
      const want = c.m365TenantId.toLowerCase();
      return ids.length > 0 && ids.every((id) => id === want);
    });
    if (ok.length === 0) return { kind: "reject", reply: "tenantNotAllowed" };
    return { kind: "accept", connectors: ok };
  }
}

function certMatches(c: ConnectorConfig, names: readonly string[]): boolean {
  if (c.clientCertSubject === undefined) return true;
  const want = c.clientCertSubject.toLowerCase();
  return names.some((n) => n.toLowerCase() === want);
}

function domainMatches(c: ConnectorConfig, domain: string): boolean {
  if (c.senderDomains === undefined) return true;
  if (domain === "") return false;
  return c.senderDomains.some((d) => asciiDomain(d) === domain);
}

/** The domain of a MAIL FROM path as a lower-case A-label; "" for <> or no domain. */
export function senderDomainOf(address: string): string {
  const at = address.lastIndexOf("@");
  if (at < 0) return "";
  return asciiDomain(address.slice(at + 1));
}
