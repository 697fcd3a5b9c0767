/** S/MIME: recipient certificate checks, encryption, signing and protected headers. */
import { envelope, type ContentEncryption } from "./envelope.js";
import { canonicalCrlf, pkcs7MimeMessage, type HeaderField } from "./mime.js";
import type { KeyWrapper, RsaPadding } from "./recipients.js";
import { signEntity, type SignOptions } from "./sign.js";

export { checkRecipientCertificate, emailAddresses } from "./check.js";
export type { CertificateCheck, CheckOptions } from "./check.js";
export { assertRecipientKeys } from "./envelope.js";
export { findRecipientCertificate, type CertificateChoice } from "./lookup.js";
export type { ContentEncryption } from "./envelope.js";
export { SmimeError, type SmimeErrorCode } from "./errors.js";
export { base64Lines, protectHeaders, type HeaderField } from "./mime.js";
export type { KeyWrapper, RecipientKey, RsaPadding } from "./recipients.js";
export type { SignOptions } from "./sign.js";

export interface EncryptOptions {
  /** PEM certificates; the caller always includes the organisation's or sender's own. */
  recipients: string[];
  /** Default aes-256-cbc; aes-256-gcm writes AuthEnvelopedData (RFC 5083). */
  contentEncryption?: ContentEncryption | undefined;
  /** RSA key transport. Default pkcs1v15; oaep uses SHA-256 and MGF1-SHA-256 (RFC 4055). */
  rsaPadding?: RsaPadding | undefined;
  /** Headers written outside the envelope (protectHeaders gives them). */
  outerHeaders: HeaderField[];
  /** RSA key wrapping; default node:crypto. For hardware keys and tests. */
  keyWrapper?: KeyWrapper | undefined;
}

/**
 * Encrypts a MIME entity (its exact bytes, CRLF) for every recipient and returns the whole
 * RFC 5322 message: outer headers and an application/pkcs7-mime body (RFC 8551 §3.3).
 * Throws SmimeError (smime_empty_recipient_key) rather than return a message a recipient
 * could not open.
 */
export async function encryptSmime(entity: Buffer, o: EncryptOptions): Promise<Buffer> {
  const der = envelope(canonicalCrlf(entity), {
    recipients: o.recipients,
    contentEncryption: o.contentEncryption,
    rsaPadding: o.rsaPadding,
    keyWrapper: o.keyWrapper,
  });
  const smimeType = o.contentEncryption === "aes-256-gcm" ? "authEnveloped-data" : "enveloped-data";
  return pkcs7MimeMessage(der, { smimeType, outer: o.outerHeaders });
}

/** Signs a MIME entity; returns a multipart/signed entity that `openssl cms -verify` accepts. */
export async function signSmime(entity: Buffer, o: SignOptions): Promise<Buffer> {
  return signEntity(entity, o);
}
