import { Dictionary } from "../detectors/clinical.js";
import { fold } from "../detectors/words.js";
import { countUnique, summarise, BUILTIN_DETECTORS } from "../detectors/index.js";
import type { Detector, DetectorMatch } from "../detectors/types.js";
import type { Extraction } from "../extract/types.js";
import type { EncryptMethod, PolicyAction, PortalPassphraseSource, Verdict } from "../types.js";
import type { Action, Condition, PolicyFile, Rule } from "./schema.js";

/** What the rules look at for one message. */
export interface MessageFacts {
  extraction: Extraction;
  matches: readonly DetectorMatch[];
  mailFrom: string;
  rcptTo: readonly string[];
}

/**
 * The pseudo-rule named in a verdict when the default `allow` met an unscannable part and
 * no rule decided: the message is quarantined instead.
 */
export const UNSCANNABLE_FLOOR = "builtin:unscannable-not-released";

const SEVERITY: Record<PolicyAction, number> = { allow: 0, encrypt: 1, quarantine: 2, block: 3 };

/** A validated policy, ready to evaluate messages. Immutable; safe to share. */
export class CompiledPolicy {
  readonly name: string;
  readonly detectors: readonly Detector[];
  readonly #policy: PolicyFile;
  readonly #rules: readonly Rule[];
  readonly #dictionaries = new Map<string, Dictionary>();
  readonly #keywordSets = new WeakMap<object, Dictionary>();
  readonly #excluded = new Map<string, Set<string>>();

  constructor(policy: PolicyFile, options: { name: string; detectors: readonly Detector[] }) {
    this.name = options.name;
    this.#policy = policy;
    this.detectors = [...BUILTIN_DETECTORS, ...options.detectors];
    // Precedence: higher priority first; equal priority keeps file order (sort is stable).
    this.#rules = [...policy.rules].sort((a, b) => b.priority - a.priority);
    // An entry is reduced the way its detector reduces what it finds, so "Mary Ann Smith" and
    // "03/14/1961" meet the keys "ann mary smith" and "1961-03-14" as whole values.
    for (const [name, values] of Object.entries(policy.exclude)) {
      const detector = this.detectors.find((d) => d.name === name);
      const keyOf = (v: string): string => canonical(detector?.keyOf?.(v) ?? v);
      this.#excluded.set(name, new Set(values.map(keyOf)));
    }
    for (const [name, terms] of Object.entries(policy.dictionaries)) {
      this.#dictionaries.set(name, new Dictionary(terms));
    }
  }

  get ruleNames(): string[] {
    return this.#rules.map((r) => r.name);
  }

  evaluate(input: MessageFacts): Verdict {
    const facts =
      this.#excluded.size === 0
        ? input
        : { ...input, matches: this.#withoutExcluded(input.matches) };
    const fired: Rule[] = [];
    const cache = new Map<Dictionary, number>();
    for (const rule of this.#rules) {
      if (!this.#holds(rule.when, facts, cache)) continue;
      fired.push(rule);
      if (rule.stop) break;
    }
    return this.#verdict(fired, facts);
  }

  #withoutExcluded(matches: readonly DetectorMatch[]): DetectorMatch[] {
    return matches.filter((m) => !(this.#excluded.get(m.detector)?.has(canonical(m.key)) ?? false));
  }

  #verdict(fired: Rule[], facts: MessageFacts): Verdict {
    let action: PolicyAction = this.#policy.default as PolicyAction;
    let decided = false;
    let method: EncryptMethod | undefined;
    let portalExpiryDays: number | undefined;
    let portalPassphrase: PortalPassphraseSource | undefined;
    let portalShowSubject: boolean | undefined;
    let blockText: string | undefined;
    let notifySender = false;
    const addHeaders: { name: string; value: string }[] = [];
    const raiseTo = (a: PolicyAction): void => {
      if (!decided || SEVERITY[a] > SEVERITY[action]) action = a;
      decided = true;
    };
    for (const rule of fired) {
      for (const a of rule.then) {
        const step = describe(a);
        if (step.kind === "notify") notifySender = true;
        else if (step.kind === "header") {
          if (!addHeaders.some((h) => h.name === step.name && h.value === step.value)) {
            addHeaders.push({ name: step.name, value: step.value });
          }
        } else {
          raiseTo(step.kind);
          if (step.kind === "encrypt" && (method === undefined || method === "auto"))
            method = step.method;
          if (step.kind === "encrypt" && step.portalExpiryDays !== undefined) {
            portalExpiryDays = Math.min(portalExpiryDays ?? Infinity, step.portalExpiryDays);
          }
          if (step.kind === "encrypt") portalPassphrase ??= step.passphrase;
          if (step.kind === "encrypt" && step.showSubject !== undefined) {
            portalShowSubject = (portalShowSubject ?? true) && step.showSubject;
          }
          if (step.kind === "block") blockText ??= step.text;
        }
      }
    }
    const findings = summarise(facts.matches);
    if (facts.extraction.unscannable.length > 0) {
      findings.push({
        detector: "unscannable",
        count: facts.extraction.unscannable.length,
        confidence: "high",
      });
    }
    const rules = fired.map((r) => r.name);
    // Fail closed: a part nobody could read is never released by the policy's default alone.
    // Only a rule that fired (e.g. `allow` to internal domains) may let it go; otherwise the
    // message is held for an admin, as a message that cannot be parsed must be.
    if (action === "allow" && !decided && facts.extraction.unscannable.length > 0) {
      action = "quarantine";
      rules.push(UNSCANNABLE_FLOOR);
    }
    const verdict: Verdict = { action, rules, findings };
    if (action === "encrypt") verdict.method = method ?? "auto";
    if (action === "encrypt" && portalExpiryDays !== undefined) {
      verdict.portalExpiryDays = portalExpiryDays;
    }
    if (action === "encrypt" && portalPassphrase) verdict.portalPassphrase = portalPassphrase;
    if (action === "encrypt" && portalShowSubject !== undefined) {
      verdict.portalShowSubject = portalShowSubject;
    }
    if (action === "block") verdict.blockText = blockText ?? "This message was blocked by policy.";
    if (notifySender) verdict.notifySender = true;
    if (addHeaders.length > 0) verdict.addHeaders = addHeaders;
    return verdict;
  }

  #holds(cond: Condition, facts: MessageFacts, cache: Map<Dictionary, number>): boolean {
    if ("any" in cond) return cond.any.some((c) => this.#holds(c, facts, cache));
    if ("all" in cond) return cond.all.every((c) => this.#holds(c, facts, cache));
    if ("not" in cond) return !this.#holds(cond.not, facts, cache);
    if ("detector" in cond) {
      if (cond.detector === "unscannable") return facts.extraction.unscannable.length >= cond.min;
      return countUnique(facts.matches, cond.detector, cond.confidence) >= cond.min;
    }
    if ("keywords" in cond) return this.#count(this.#keywords(cond), facts, cache) >= cond.min;
    if ("dictionary" in cond) {
      const dictionary = this.#dictionaries.get(cond.dictionary);
      return dictionary !== undefined && this.#count(dictionary, facts, cache) >= cond.min;
    }
    if ("sender" in cond) return this.#addressIn(facts.mailFrom, cond.sender);
    if ("recipient" in cond) {
      const hits = facts.rcptTo.filter((r) => this.#addressIn(r, cond.recipient));
      return cond.match === "all"
        ? facts.rcptTo.length > 0 && hits.length === facts.rcptTo.length
        : hits.length > 0;
    }
    if ("subjectTag" in cond) {
      const subject = header(facts.extraction, "subject") ?? "";
      return foldTag(subject).includes(foldTag(cond.subjectTag));
    }
    if ("header" in cond) return headerHolds(facts.extraction, cond.header);
    if ("attachmentType" in cond) {
      return facts.extraction.attachments.some((a) =>
        cond.attachmentType.some((t) => typeMatches(a, t)),
      );
    }
    const reasons = cond.unscannable;
    return facts.extraction.unscannable.some((u) => reasons === true || reasons.includes(u.reason));
  }

  #keywords(cond: { keywords: string[] }): Dictionary {
    let d = this.#keywordSets.get(cond);
    if (d === undefined) {
      d = new Dictionary(cond.keywords);
      this.#keywordSets.set(cond, d);
    }
    return d;
  }

  /** Unique terms of a dictionary found in the message's text, counted once per message. */
  #count(dictionary: Dictionary, facts: MessageFacts, cache: Map<Dictionary, number>): number {
    const cached = cache.get(dictionary);
    if (cached !== undefined) return cached;
    const terms = new Set<string>();
    for (const segment of facts.extraction.segments) {
      dictionary.scan(fold(segment.text), (_s, _e, term) => terms.add(term));
    }
    cache.set(dictionary, terms.size);
    return terms.size;
  }

  #addressIn(address: string, list: readonly string[]): boolean {
    const addr = address.toLowerCase().trim();
    const domain = addr.slice(addr.lastIndexOf("@") + 1);
    return list.some((entry) => {
      const group = /^group:(.+)$/.exec(entry)?.[1];
      if (group !== undefined) return this.#addressIn(addr, this.#policy.groups[group] ?? []);
      const e = entry.toLowerCase().trim().replace(/^@/, "");
      if (e.includes("@")) return e === addr;
      if (e.startsWith("*.")) return domain.endsWith(e.slice(1));
      return domain === e;
    });
  }
}

type Step =
  | { kind: "allow" | "quarantine" | "notify" }
  | {
      kind: "encrypt";
      method: EncryptMethod;
      portalExpiryDays?: number | undefined;
      passphrase?: PortalPassphraseSource | undefined;
      showSubject?: boolean | undefined;
    }
  | { kind: "block"; text: string | undefined }
  | { kind: "header"; name: string; value: string };

function describe(a: Action): Step {
  if (a === "allow" || a === "quarantine") return { kind: a };
  if (a === "notify-sender") return { kind: "notify" };
  if (a === "block") return { kind: "block", text: undefined };
  if (a === "encrypt") return { kind: "encrypt", method: "auto" };
  if ("encrypt" in a && typeof a.encrypt === "string")
    return { kind: "encrypt", method: a.encrypt };
  if ("encrypt" in a) return { kind: "encrypt", ...a.encrypt };
  if ("block" in a) return { kind: "block", text: a.block };
  return { kind: "header", ...a["add-header"] };
}

function header(extraction: Extraction, name: string): string | undefined {
  return extraction.headers.find((h) => h.name.toLowerCase() === name)?.value;
}

function headerHolds(
  extraction: Extraction,
  spec: { name: string; value?: string | undefined; contains?: string | undefined },
): boolean {
  const values = extraction.headers
    .filter((h) => h.name.toLowerCase() === spec.name.toLowerCase())
    .map((h) => h.value.trim().toLowerCase());
  if (spec.value !== undefined) return values.includes(spec.value.trim().toLowerCase());
  if (spec.contains !== undefined)
    return values.some((v) => v.includes(spec.contains?.toLowerCase() ?? ""));
  return values.length > 0;
}

function typeMatches(
  a: { filename: string | null; contentType: string; detectedType: string | null },
  want: string,
): boolean {
  const w = want.toLowerCase();
  if (w.startsWith(".")) return (a.filename ?? "").toLowerCase().endsWith(w);
  const types = [a.contentType, a.detectedType ?? ""];
  if (w.endsWith("/*")) return types.some((t) => t.startsWith(w.slice(0, -1)));
  return types.includes(w);
}

/** A value reduced for whole-value comparison: letters and digits only, upper case. */
function canonical(value: string): string {
  return value.toUpperCase().replace(/[^\p{L}\p{N}]/gu, "");
}

/**
 * A subject tag as staff type it: any case, full-width forms (［secure］ from an IME) and
 * blanks inside the brackets (`[ secure ]`) all count as the tag.
 */
function foldTag(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/\s+/g, " ")
    .replace(/([[({<]) /g, "$1")
    .replace(/ ([\])}>])/g, "$1");
}
