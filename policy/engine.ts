import { runDetectors } from "./detectors/index.js";
import type { DetectorMatch } from "./detectors/types.js";
import type { Extraction } from "./extract/types.js";
import type { CompiledPolicy } from "./rules/evaluate.js";
import type { PolicyEngine, PolicyInput, Verdict } from "./types.js";

/** Turns raw message bytes into text segments; the extraction module's `extract`. */
export type ExtractFn = (raw: Buffer) => Promise<Extraction>;

/** A verdict with what led to it, for `policy test`; matches stay in memory, never logged. */
export interface Explained {
  verdict: Verdict;
  extraction: Extraction;
  matches: DetectorMatch[];
}

/**
 * The policy step: extract text from every readable part, run the detectors, evaluate the
 * rules. The verdict names rules, detectors and counts; the matched text is dropped here.
 */
export class RulePolicyEngine implements PolicyEngine {
  readonly name: string;
  readonly #policy: CompiledPolicy;
  readonly #extract: ExtractFn;

  constructor(policy: CompiledPolicy, options: { extract: ExtractFn }) {
    this.name = policy.name;
    this.#policy = policy;
    this.#extract = options.extract;
  }

  async evaluate(input: PolicyInput): Promise<Verdict> {
    return (await this.explain(input)).verdict;
  }

  async explain(input: PolicyInput): Promise<Explained> {
    const extraction = await this.#extract(input.raw);
    return this.explainExtraction(extraction, input);
  }

  /** Evaluates text already extracted (tests, benchmarks of the detectors alone). */
  explainExtraction(extraction: Extraction, envelope: Omit<PolicyInput, "raw">): Explained {
    const matches = runDetectors(extraction.segments, this.#policy.detectors);
    const verdict = this.#policy.evaluate({
      extraction,
      matches,
      mailFrom: envelope.mailFrom,
      rcptTo: envelope.rcptTo,
    });
    return { verdict, extraction, matches };
  }
}
