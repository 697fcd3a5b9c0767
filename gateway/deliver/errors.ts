/**
 * Stable codes for failures raised inside gateway/deliver. classify.ts turns each into an
 * action; the message names hosts and reasons, never addresses or content.
 */
export type DeliveryErrorCode =
  | "DNS_NXDOMAIN" // the recipient domain does not exist
  | "DNS_NULL_MX" // the domain publishes a null MX (RFC 7505): it accepts no mail
  | "DNS_TEMPORARY" // the resolver failed or timed out
  | "DNS_NO_ADDRESS" // no MX host (or the domain itself) has an A/AAAA address
  | "TLS_REQUIRED" // the copy needs verified TLS and the next hop could not give it
  | "TLS_UNVERIFIABLE" // a tls-route copy: no allowed MX host passed the verified-TLS checks
  | "EIGHTBIT_UNSUPPORTED" // 8-bit content, next hop lacks 8BITMIME (RFC 6152)
  | "SMTPUTF8_UNSUPPORTED" // internationalised envelope, next hop lacks SMTPUTF8 (RFC 6531)
  | "LINE_TOO_LONG" // a line over 998 octets that cannot be folded (RFC 5322 §2.1.1)
  | "DKIM_FAILED" // the configured key could not sign
  | "OUTBOX_WRITE" // the outbox folder could not be written
  | "CONFIG"; // delivery configuration cannot be used (missing smart host, unreadable file)

export class DeliveryError extends Error {
  override readonly name = "DeliveryError";
  readonly code: DeliveryErrorCode;

  constructor(code: DeliveryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
