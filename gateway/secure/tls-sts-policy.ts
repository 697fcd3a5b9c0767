/**
 * MTA-STS (RFC 8461) records and policies as data: the `_mta-sts` TXT record, the policy
 * file and its MX patterns. Nothing here touches the network.
 */

export type StsMode = "enforce" | "testing" | "none";

export interface StsPolicy {
  /** The id of the TXT record the policy was fetched under. */
  id: string;
  mode: StsMode;
  /** MX host patterns, lower case: "mx1.example.net" or "*.example.net". */
  mx: string[];
  /** Seconds the policy may be cached (RFC 8461 §3.2: at most 31557600). */
  maxAge: number;
}

export type MtaStsErrorCode =
  | "STS_TXT_INVALID" // _mta-sts TXT is malformed or ambiguous (§3.1)
  | "STS_DNS_FAILED" // the TXT or policy host lookup failed
  | "STS_FETCH_FAILED" // HTTPS failed: connection, certificate, status, media type, size
  | "STS_POLICY_INVALID"; // the policy file does not parse (§3.2)

/** Why an MTA-STS lookup gave no policy. Messages name domains and codes only. */
export class MtaStsError extends Error {
  override readonly name = "MtaStsError";
  readonly code: MtaStsErrorCode;

  constructor(code: MtaStsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

const MAX_AGE_LIMIT = 31_557_600;
const ID = /^[A-Za-z0-9]{1,32}$/;

/**
 * Picks the policy id from the TXT records of `_mta-sts.DOMAIN` (each record's strings
 * already joined). Records not starting with "v=STSv1" are someone else's; none left means
 * the domain has no policy (null). §3.1: more than one, or a broken one, means no usable
 * policy record either, which is reported as an error so the event can say why.
 */
export function parseStsTxt(records: string[], domain: string): string | null {
  const ours = records.filter((r) => /^v=STSv1[ \t]*(;|$)/.test(r));
  if (ours.length === 0) return null;
  if (ours.length > 1) {
    throw new MtaStsError("STS_TXT_INVALID", `${domain} publishes ${ours.length} MTA-STS records`);
  }
  const fields = new Map<string, string>();
  for (const part of (ours[0] ?? "").split(";")) {
    const m = /^\s*([A-Za-z0-9_.-]+)=(.*?)\s*$/.exec(part);
    if (m?.[1] && !fields.has(m[1])) fields.set(m[1], m[2] ?? "");
  }
  const id = fields.get("id");
  if (!id || !ID.test(id)) {
    throw new MtaStsError("STS_TXT_INVALID", `MTA-STS record of ${domain} has no valid id`);
  }
  return id;
}

/**
 * Parses a policy file (§3.2): "key: value" lines, CRLF or LF. The first occurrence of a key
 * wins except for `mx`, which may repeat; unknown keys are ignored for future extensions.
 */
export function parseStsPolicy(text: string, options: { id: string; domain: string }): StsPolicy {
  const fail = (why: string) =>
    new MtaStsError("STS_POLICY_INVALID", `MTA-STS policy of ${options.domain}: ${why}`);
  const fields = new Map<string, string>();
  const mx: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const m = /^([A-Za-z0-9_-]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!m?.[1]) throw fail("a line is not key: value");
    const value = m[2] ?? "";
    if (m[1] === "mx") mx.push(value.toLowerCase().replace(/\.$/, ""));
    else if (!fields.has(m[1])) fields.set(m[1], value);
  }

  if (fields.get("version") !== "STSv1") throw fail("version is not STSv1");
  const mode = fields.get("mode");
  if (mode !== "enforce" && mode !== "testing" && mode !== "none") throw fail("unknown mode");
  const age = fields.get("max_age") ?? "";
  if (!/^\d{1,10}$/.test(age) || Number(age) > MAX_AGE_LIMIT) throw fail("bad max_age");
  if (mode !== "none" && mx.length === 0) throw fail("no mx patterns");
  for (const pattern of mx) {
    if (!/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(pattern)) throw fail("bad mx pattern");
  }
  return { id: options.id, mode, mx, maxAge: Number(age) };
}

/**
 * §4.1: a pattern is a host name, or "*." and a domain where the wildcard stands for exactly
 * one leftmost label ("*.example.com" matches "mx.example.com", not "a.b.example.com" nor
 * "example.com"). Case and a trailing dot do not matter.
 */
export function mxMatches(host: string, pattern: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  const p = pattern.toLowerCase().replace(/\.$/, "");
  if (!p.startsWith("*.")) return h === p;
  const dot = h.indexOf(".");
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}

/** Whether a policy lets mail go to this MX host. A `none` policy restricts nothing. */
export function policyAllowsMx(policy: StsPolicy, host: string): boolean {
  if (policy.mode === "none") return true;
  return policy.mx.some((p) => mxMatches(host, p));
}

/**
 * The MX hosts a copy that needs verified TLS may use: all of them, or under an enforce policy
 * only those matching its patterns (§5). Shared by the probe and by the deliverer at send time.
 */
export function allowedHops<H extends { name: string }>(
  hops: H[],
  policy: StsPolicy | null,
): { hops: H[]; skipped: string[] } {
  if (!policy || policy.mode !== "enforce") return { hops, skipped: [] };
  return {
    hops: hops.filter((h) => policyAllowsMx(policy, h.name)),
    skipped: hops.filter((h) => !policyAllowsMx(policy, h.name)).map((h) => h.name),
  };
}
