/**
 * The contract between the gateway and the policy engine. The gateway hands over the raw
 * message and envelope; the engine answers with a verdict that names rules and detectors and
 * counts, never the matched text.
 */

export type Confidence = "low" | "medium" | "high";

export interface Finding {
  /** Detector name, e.g. "us-ssn", "unscannable". */
  detector: string;
  /** Unique values found. */
  count: number;
  confidence: Confidence;
}

export type EncryptMethod = "auto" | "portal" | "smime" | "pgp" | "tls";

/** Where a portal passphrase is kept: an environment variable or a file. */
export type PortalPassphraseSource = { env: string } | { file: string };

export type PolicyAction = "allow" | "encrypt" | "block" | "quarantine";

export interface Verdict {
  action: PolicyAction;
  /** Where action is encrypt. */
  method?: EncryptMethod | undefined;
  /** Where action is encrypt: days a portal copy can be read (else portal.expiryDays). */
  portalExpiryDays?: number | undefined;
  /**
   * Where action is encrypt: where the portal reads the copy's passphrase (a variable or file
   * name, never the passphrase itself).
   */
  portalPassphrase?: PortalPassphraseSource | undefined;
  /** Where action is encrypt: show the original subject in notice and inbox (else config). */
  portalShowSubject?: boolean | undefined;
  /** Names of the rules that fired, in evaluation order. */
  rules: string[];
  findings: Finding[];
  /** Text for the sender when blocked (written by the policy author, no PHI). */
  blockText?: string | undefined;
  /** Tell the sender which rules and detectors fired. */
  notifySender?: boolean | undefined;
  /** Headers to add to every outgoing copy. */
  addHeaders?: { name: string; value: string }[] | undefined;
}

export interface PolicyInput {
  /** The message bytes as received. */
  raw: Buffer;
  mailFrom: string;
  rcptTo: string[];
}

export interface PolicyEngine {
  /** Name and version for events ("placeholder", or the policy file's name). */
  readonly name: string;
  /**
   * Evaluates one message. Must not throw for bad input: unreadable parts become findings.
   * A rejection (timeout, internal fault) is treated by the gateway as "cannot decide" and
   * fails closed.
   */
  evaluate(input: PolicyInput): Promise<Verdict>;
}
