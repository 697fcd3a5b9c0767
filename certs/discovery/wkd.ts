import { createHash } from "node:crypto";
import type { ParsedAddress } from "./address.js";
import { LookupError } from "./errors.js";
import { httpGet, type HttpOptions } from "./http.js";
import { zbase32 } from "./zbase32.js";

/**
 * The two Web Key Directory URLs for an address (draft-koch-openpgp-webkey-service §3.1):
 * the local part, ASCII letters lower-cased, is SHA-1 hashed and z-base-32 encoded; `l=`
 * carries the local part as written.
 */
export function wkdUrls(address: ParsedAddress): { advanced: URL; direct: URL } {
  const lowered = address.local.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const hu = zbase32(createHash("sha1").update(lowered, "utf8").digest());
  const l = `?l=${encodeURIComponent(address.local)}`;
  const { domain } = address;
  return {
    advanced: new URL(`https://openpgpkey.${domain}/.well-known/openpgpkey/${domain}/hu/${hu}${l}`),
    direct: new URL(`https://${domain}/.well-known/openpgpkey/hu/${hu}${l}`),
  };
}

export interface WkdAnswer {
  /** The key block as served (binary), or null when the directory has none. */
  keys: Uint8Array | null;
  method: "advanced" | "direct";
}

/**
 * Asks the advanced method first; only when its host does not exist does the direct method
 * follow, as §3.1 says. A 404 from an existing directory is a definite "no key".
 */
export async function fetchWkd(
  address: ParsedAddress,
  opts: HttpOptions & { signal: AbortSignal },
): Promise<WkdAnswer> {
  const urls = wkdUrls(address);
  try {
    return { keys: await getKeys(urls.advanced, opts), method: "advanced" };
  } catch (err) {
    if (!(err instanceof LookupError) || err.code !== "lookup-no-host") throw err;
  }
  try {
    return { keys: await getKeys(urls.direct, opts), method: "direct" };
  } catch (err) {
    if (err instanceof LookupError && err.code === "lookup-no-host") {
      return { keys: null, method: "direct" };
    }
    throw err;
  }
}

async function getKeys(url: URL, opts: HttpOptions & { signal: AbortSignal }) {
  const answer = await httpGet(url, opts);
  if (answer.status === 404) return null;
  if (answer.status !== 200) {
    throw new LookupError("lookup-http", `directory answered HTTP ${answer.status}`);
  }
  return answer.body.length > 0 ? new Uint8Array(answer.body) : null;
}
