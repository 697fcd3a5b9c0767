/**
 * Whether a message is an S/MIME enveloped (RFC 8551 §3.3) or PGP/MIME encrypted (RFC 3156
 * §4) message, judged by its top-level Content-Type only. Used for copies sealgate encrypted
 * that come back through the tenant: they are protected already and must not be wrapped again.
 */
export function isEncryptedMessage(raw: Buffer): boolean {
  const head = raw.subarray(0, Math.min(raw.length, 64 * 1024)).toString("latin1");
  const end = head.search(/\r?\n\r?\n/);
  const unfolded = (end === -1 ? head : head.slice(0, end)).replace(/\r?\n[ \t]+/g, " ");
  const type = /^content-type:[ \t]*(.*)$/im.exec(unfolded)?.[1]?.toLowerCase() ?? "";
  if (/^application\/(x-)?pkcs7-mime\b/.test(type)) {
    return /smime-type="?(auth)?enveloped-data/.test(type);
  }
  return /^multipart\/encrypted\b/.test(type) && /application\/pgp-encrypted/.test(type);
}
