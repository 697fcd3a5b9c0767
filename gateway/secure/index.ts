import type { EncryptMethod } from "../../policy/index.js";
import type { RouteKind } from "../store/index.js";

export {
  CopyBuilder,
  type Copy,
  type CopyDetail,
  type OwnKeyUse,
  type TransformOptions,
} from "./transform.js";
export {
  narrowOrder,
  RecipientSelector,
  type Choice,
  type PgpLookup,
  type SecureMethod,
  type SelectorOptions,
  type TlsLookup,
} from "./select.js";
export { createSelector, SelectorConfigError, type SelectorWiring } from "./select-config.js";

/**
 * The message-level decision: mail without PHI goes out `clean` (opportunistic TLS) and
 * unchanged; sensitive mail is routed per recipient by RecipientSelector (select.ts), which
 * picks S/MIME, PGP/MIME, verified TLS or the portal hold.
 */

export type Selection =
  | { kind: "route"; route: RouteKind; reason: string }
  /** Each recipient's method is chosen by the RecipientSelector. */
  | { kind: "per-recipient"; method: EncryptMethod };

export interface SelectInput {
  sensitive: boolean;
  /** The method policy asked for; "auto" lets the selector choose. */
  method: EncryptMethod;
}

export function selectRoute(input: SelectInput): Selection {
  if (!input.sensitive)
    return { kind: "route", route: "clean", reason: "clean: the policy allows it" };
  return { kind: "per-recipient", method: input.method };
}
