/**
 * Adds header fields at the top of a message (RFC 5322 §3.6: order of most fields does not
 * matter; trace fields are prepended the same way). Values are folded by the caller's
 * policy text being short; CR and LF are stripped so a policy value cannot start a new field.
 */
export function addHeaders(raw: Buffer, headers: { name: string; value: string }[]): Buffer {
  const lines = headers
    .filter((h) => /^[\x21-\x39\x3b-\x7e]+$/.test(h.name))
    .map((h) => `${h.name}: ${h.value.replace(/[\r\n]+/g, " ")}\r\n`)
    .join("");
  return Buffer.concat([Buffer.from(lines, "utf8"), raw]);
}
