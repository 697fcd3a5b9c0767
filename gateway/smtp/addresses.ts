import { domainToASCII } from "node:url";
import type { ReplyName } from "./replies.js";

const NON_ASCII = /[\u0080-\u{10FFFF}]/u;

export type AddressDecision =
  { kind: "ok"; address: string } | { kind: "reject"; reply: ReplyName };

/**
 * The address as it must travel on. smtp-server turns an xn-- domain into Unicode; without
 * SMTPUTF8 the envelope has to stay ASCII (RFC 6531 §3.2), so the domain goes back to its
 * A-label form, and a non-ASCII local part, which has no ASCII form, is refused (§3.5).
 */
export function envelopeAddress(address: string, smtpUtf8: boolean): AddressDecision {
  if (smtpUtf8 || !NON_ASCII.test(address)) return { kind: "ok", address };
  const at = address.lastIndexOf("@");
  const local = at < 0 ? address : address.slice(0, at);
  if (NON_ASCII.test(local)) return { kind: "reject", reply: "utf8AddressWithoutSmtpUtf8" };
  const domain = domainToASCII(address.slice(at + 1));
  if (domain === "") return { kind: "reject", reply: "utf8AddressWithoutSmtpUtf8" };
  return { kind: "ok", address: `${local}@${domain}` };
}

/** A domain in its lower-case A-label form, for comparisons; "" if it is not a domain. */
export function asciiDomain(domain: string): string {
  return domainToASCII(domain.trim().replace(/\.$/, "")).toLowerCase();
}
