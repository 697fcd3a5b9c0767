import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { RulePolicyEngine, type ExtractFn } from "./engine.js";
import { loadPolicyFile } from "./rules/load.js";

export type * from "./types.js";
export { RulePolicyEngine, type Explained, type ExtractFn } from "./engine.js";
export {
  PolicyError,
  formatProblem,
  type PolicyProblem,
  type PolicyErrorCode,
} from "./rules/errors.js";
export { compilePolicy, loadPolicyFile } from "./rules/load.js";
export { maskValue } from "./detectors/mask.js";
export { SourceLabels } from "./sources.js";

/** The shipped default policy, found next to this module or, when built, in the package. */
export function defaultPolicyPath(): string {
  const candidates = [
    new URL("./defaults/hipaa.yaml", import.meta.url),
    new URL("../../policy/defaults/hipaa.yaml", import.meta.url),
  ];
  const found = candidates.map((u) => fileURLToPath(u)).find((p) => existsSync(p));
  return found ?? fileURLToPath(candidates[0] as URL);
}

/**
 * Loads and validates a policy file (default: the shipped hipaa.yaml) and returns the engine
 * the gateway calls. Throws PolicyError, with line and column, for a policy that does not
 * validate; a caller reloading on SIGHUP keeps the old engine in that case.
 */
export async function loadPolicy(
  file?: string,
  options: { extract?: ExtractFn } = {},
): Promise<RulePolicyEngine> {
  const policy = await loadPolicyFile(file ?? defaultPolicyPath());
  return new RulePolicyEngine(policy, { extract: options.extract ?? (await defaultExtract()) });
}

async function defaultExtract(): Promise<ExtractFn> {
  const specifier = "./extract/index.js";
  const mod = (await import(specifier)) as { extract: ExtractFn };
  return (raw) => mod.extract(raw);
}
