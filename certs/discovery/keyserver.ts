import type { ParsedAddress } from "./address.js";
import { LookupError } from "./errors.js";
import { httpGet, type HttpOptions } from "./http.js";

export type KeyserverProtocol = "vks" | "hkp";

/**
 * The lookup URL: VKS `/vks/v1/by-email/<address>` (keys.openpgp.org's interface, which
 * only publishes user IDs whose address was confirmed) or HKP's machine-readable
 * `/pks/lookup?op=get&options=mr&search=<address>` (draft-shaw-openpgp-hkp §3).
 */
export function keyserverUrl(base: string, protocol: KeyserverProtocol, address: ParsedAddress) {
  let root: URL;
  try {
    root = new URL(base);
  } catch (err) {
    throw new LookupError("lookup-bad-url", "keyserver URL is not valid", { cause: err });
  }
  const prefix = root.pathname.replace(/\/+$/, "");
  const addr = encodeURIComponent(address.normalised);
  const url = new URL(root.origin);
  if (protocol === "vks") {
    url.pathname = `${prefix}/vks/v1/by-email/${addr}`;
  } else {
    url.pathname = `${prefix}/pks/lookup`;
    url.search = `?op=get&options=mr&search=${addr}`;
  }
  return url;
}

/** Fetches armored keys for an address; null when the keyserver has none. */
export async function fetchKeyserver(
  address: ParsedAddress,
  opts: HttpOptions & { signal: AbortSignal; url: string; protocol: KeyserverProtocol },
): Promise<string | null> {
  const answer = await httpGet(keyserverUrl(opts.url, opts.protocol, address), opts);
  if (answer.status === 404) return null;
  if (answer.status !== 200) {
    throw new LookupError("lookup-http", `keyserver answered HTTP ${answer.status}`);
  }
  const text = answer.body.toString("latin1");
  return text.includes("-----BEGIN PGP PUBLIC KEY BLOCK-----") ? text : null;
}
