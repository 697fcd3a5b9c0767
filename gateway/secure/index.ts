import type { EncryptMethod } from "../../policy/index.js";
import type { RouteKind } from "../store/index.js";

/**
 * The selector: which form each recipient's copy takes. In this first form it knows two
 * routes: `clean` (opportunistic TLS) for mail without PHI, and `tls` (verified TLS
 * required, never downgraded) for sensitive mail. S/MIME, PGP and the portal plug in here.
 */

export type Selection =
  | { kind: "route"; route: RouteKind; reason: string }
  /** No method that is available can carry this copy safely: hold it, never send in clear. */
  | { kind: "hold"; reason: string };

export interface SelectInput {
  sensitive: boolean;
  /** The method policy asked for; "auto" lets the selector choose. */
  method: EncryptMethod;
}

export function selectRoute(input: SelectInput): Selection {
  if (!input.sensitive) return { kind: "route", route: "clean", reason: "clean: no PHI found" };
  switch (input.method) {
    case "auto":
    case "tls":
      return {
        kind: "route",
        route: "tls",
        reason: "tls: verified TLS required at send time; no key-based method available yet",
      };
    case "smime":
    case "pgp":
    case "portal":
      return { kind: "hold", reason: `${input.method}: method not available in this version` };
  }
}
