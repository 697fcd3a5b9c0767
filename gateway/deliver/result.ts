import type { Category } from "./classify.js";

/** What TLS gave one attempt. `verified` means the chain and the host name checked out. */
export interface TlsFacts {
  /** The session ran over TLS (STARTTLS succeeded). */
  used: boolean;
  /** Negotiated protocol, e.g. "TLSv1.3", or null in clear text. */
  version: string | null;
  verified: boolean;
  /** This copy was not allowed to leave without verified TLS. */
  required: boolean;
}

export const NO_TLS: TlsFacts = { used: false, version: null, verified: false, required: false };

/** The next hop's answer for one recipient, with its reply text as received. */
export type RecipientReply =
  | { address: string; kind: "accepted"; reply: string }
  | {
      address: string;
      kind: "rejected-permanent" | "rejected-temporary";
      reply: string;
      /** Enhanced status code (RFC 3463), from the reply or derived from its class. */
      status: string;
      category: Category;
    };

/**
 * The outcome of one delivery attempt: either the next hop answered per recipient, or the
 * transaction failed as a whole (DNS, connection, TLS, a content rule) before it could.
 */
export type AttemptResult =
  | {
      kind: "replies";
      /** Host that answered (MX host, smart host, or "outbox"). */
      host: string;
      recipients: RecipientReply[];
      tls: TlsFacts;
      /** The copy went to the portal instead of its route; why (for secure:route events). */
      fallback?: string | undefined;
    }
  | {
      kind: "fault";
      category: Category;
      temporary: boolean;
      status: string;
      /** Why, for the store and the DSN: host names and protocol facts only. */
      reason: string;
      /** Reply code when the fault was an SMTP reply (greeting, MAIL FROM, DATA). */
      code?: number | undefined;
      host?: string | undefined;
      tls: TlsFacts;
    };
