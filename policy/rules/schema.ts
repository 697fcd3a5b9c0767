import { z } from "zod";

/**
 * The policy file, as policy authors write it (YAML). Every key is documented here and in the
 * README's section for policy authors; unknown keys are refused rather than ignored.
 */

const confidence = z.enum(["low", "medium", "high"]);
const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/i, "expected a name of letters, digits, '.', '_' or '-'");

/** A detector condition: at least `min` unique values at `confidence` or above. */
const detectorCondition = z
  .object({
    detector: name,
    /** Unique values needed. Default 1. */
    min: z.number().int().min(1).default(1),
    /** Lowest confidence that counts. Default medium. */
    confidence: confidence.default("medium"),
  })
  .strict();

const keywordsCondition = z
  .object({
    /** Whole words or phrases, case-insensitive. */
    keywords: z.array(z.string().min(1)).min(1),
    min: z.number().int().min(1).default(1),
  })
  .strict();

const dictionaryCondition = z
  .object({ dictionary: name, min: z.number().int().min(1).default(1) })
  .strict();

/** Addresses ("a@b.org"), domains ("b.org", "*.b.org") or groups ("group:clinical"). */
const addressList = z.array(z.string().min(1)).min(1);

const senderCondition = z.object({ sender: addressList }).strict();
const recipientCondition = z
  .object({
    recipient: addressList,
    /** any: one recipient matches (default); all: every recipient matches. */
    match: z.enum(["any", "all"]).default("any"),
  })
  .strict();
const subjectTagCondition = z.object({ subjectTag: z.string().min(1) }).strict();
const headerCondition = z
  .object({
    header: z
      .object({
        name: z.string().min(1),
        /** Exact value (case-insensitive); without value or contains, the header's presence. */
        value: z.string().optional(),
        contains: z.string().optional(),
      })
      .strict(),
  })
  .strict();
const attachmentCondition = z
  .object({
    /** MIME types ("application/pdf", "image/*") or file extensions (".zip"). */
    attachmentType: z.array(z.string().min(1)).min(1),
  })
  .strict();
const unscannableCondition = z
  .object({
    unscannable: z.union([
      z.literal(true),
      z.array(
        z.enum(["encrypted", "password", "corrupt", "over-budget", "timeout", "unsupported"]),
      ),
    ]),
  })
  .strict();

export type Condition =
  | { any: Condition[] }
  | { all: Condition[] }
  | { not: Condition }
  | z.infer<typeof detectorCondition>
  | z.infer<typeof keywordsCondition>
  | z.infer<typeof dictionaryCondition>
  | z.infer<typeof senderCondition>
  | z.infer<typeof recipientCondition>
  | z.infer<typeof subjectTagCondition>
  | z.infer<typeof headerCondition>
  | z.infer<typeof attachmentCondition>
  | z.infer<typeof unscannableCondition>;

export const conditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z.object({ any: z.array(conditionSchema).min(1) }).strict(),
    z.object({ all: z.array(conditionSchema).min(1) }).strict(),
    z.object({ not: conditionSchema }).strict(),
    detectorCondition,
    keywordsCondition,
    dictionaryCondition,
    senderCondition,
    recipientCondition,
    subjectTagCondition,
    headerCondition,
    attachmentCondition,
    unscannableCondition,
  ]),
) as z.ZodType<Condition>;

const method = z.enum(["auto", "portal", "smime", "pgp", "tls"]);

/** Where a portal passphrase is read at wrap time: `{env: NAME}` or `{file: PATH}`. */
export const portalPassphrase = z.union([
  z
    .object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected a variable name") })
    .strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);

/** One action; a rule lists one or more under `then`. */
export const actionSchema = z.union([
  z.literal("allow"),
  z.literal("quarantine"),
  /** Block with the default text for the sender; `{block: "text"}` says why in your words. */
  z.literal("block"),
  z.literal("notify-sender"),
  z.literal("encrypt"),
  z.object({ encrypt: method }).strict(),
  z
    .object({
      encrypt: z
        .object({
          method: method.default("auto"),
          /** Days a portal copy can be read; the shortest of the rules that fired wins. */
          portalExpiryDays: z.number().int().min(1).max(365).optional(),
          /**
           * A passphrase the portal asks before showing the copy, named by where it is kept
           * (an environment variable or a file) so the policy file never holds the secret.
           * The first rule that fired with one wins. Default: none.
           */
          passphrase: portalPassphrase.optional(),
          /** Show the original subject in the notice and inbox. false wins. Default: config. */
          showSubject: z.boolean().optional(),
        })
        .strict(),
    })
    .strict(),
  z.object({ block: z.string().min(1) }).strict(),
  z
    .object({
      "add-header": z
        .object({
          name: z.string().regex(/^[!-9;-~]+$/, "expected a header name"),
          value: z.string().regex(/^[^\r\n]*$/, "expected one line"),
        })
        .strict(),
    })
    .strict(),
]);
export type Action = z.infer<typeof actionSchema>;

export const ruleSchema = z
  .object({
    name,
    description: z.string().optional(),
    /** Higher runs first; rules of equal priority run in file order. Default 0. */
    priority: z.number().int().default(0),
    when: conditionSchema,
    then: z.array(actionSchema).min(1),
    /** When this rule fires, later rules are not evaluated. Default false. */
    stop: z.boolean().default(false),
  })
  .strict();
export type Rule = z.infer<typeof ruleSchema>;

export const customDetectorSchema = z
  .object({
    /** A regular expression (RE2 syntax: no backreferences or lookaround). */
    pattern: z.string().min(1),
    /** Case-insensitive matching. Default false. */
    ignoreCase: z.boolean().default(false),
    /** A named validator applied to the match (or to its group named "value"). */
    validator: z
      .enum(["luhn", "us-ssn", "npi", "dea", "aba-routing", "mbi", "payment-card"])
      .optional(),
    /** Whole words that raise confidence when within `proximity` characters. */
    context: z.array(z.string().min(1)).default([]),
    /** Characters either side in which a context word counts. Default 60. */
    proximity: z.number().int().min(1).max(1000).default(60),
    /** Confidence without context. Default medium; context raises it one step. */
    confidence: confidence.default("medium"),
    /** Drop matches with no context word near. Default false. */
    requireContext: z.boolean().default(false),
  })
  .strict();
export type CustomDetectorSpec = z.infer<typeof customDetectorSchema>;

export const policySchema = z
  .object({
    /** Shown in events and `policy test` output. Default: the file name. */
    name: z.string().min(1).optional(),
    /** Verdict when no rule fires. Default allow. */
    default: z.enum(["allow", "encrypt", "quarantine"]).default("allow"),
    detectors: z.record(name, customDetectorSchema).default({}),
    dictionaries: z.record(name, z.array(z.string().min(1)).min(1)).default({}),
    groups: z.record(name, addressList).default({}),
    /**
     * Values that never count, per detector (your own NPI, a test member ID). Compared as
     * whole values after removing separators and case, never as prefixes.
     */
    exclude: z.record(name, z.array(z.string().min(1)).min(1)).default({}),
    rules: z.array(ruleSchema).min(1),
  })
  .strict();
export type PolicyFile = z.infer<typeof policySchema>;
