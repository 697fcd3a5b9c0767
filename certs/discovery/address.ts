import { domainToASCII } from "node:url";

export interface ParsedAddress {
  /** The local part as written (WKD's `l=` parameter keeps its case). */
  local: string;
  /** The domain, lower-case ASCII (IDNA). */
  domain: string;
  /** local@domain with the local part's ASCII letters lower-cased: the cache key. */
  normalised: string;
}

/** Splits an address for lookups; null when it is not a plain addr-spec we can look up. */
export function parseAddress(address: string): ParsedAddress | null {
  const trimmed = address.trim();
  const at = trimmed.lastIndexOf("@");
  if (at <= 0 || at === trimmed.length - 1 || trimmed.length > 320) return null;
  const local = trimmed.slice(0, at);
  if (/[\s<>()\\,;:"[\]]/.test(local)) return null;
  const domain = domainToASCII(trimmed.slice(at + 1)).toLowerCase();
  if (domain === "" || !/^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/.test(domain)) return null;
  const lowered = local.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return { local, domain, normalised: `${lowered}@${domain}` };
}
