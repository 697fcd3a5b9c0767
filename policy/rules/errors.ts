/** Why a policy was refused; `problems` lists each with its line and column in the file. */
export interface PolicyProblem {
  /** Dotted path of the key, e.g. "rules.2.when.detector". */
  path: string;
  line?: number | undefined;
  column?: number | undefined;
  message: string;
}

export type PolicyErrorCode =
  "policy-unreadable" | "policy-yaml" | "policy-invalid" | "policy-regex";

export class PolicyError extends Error {
  override readonly name = "PolicyError";
  readonly code: PolicyErrorCode;
  readonly file: string;
  readonly problems: PolicyProblem[];
  /** Line and column of the first problem, when known. */
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(
    code: PolicyErrorCode,
    options: { file: string; problems: PolicyProblem[]; cause?: unknown },
  ) {
    const lines = options.problems.map((p) => `  ${formatProblem(p)}`).join("\n");
    super(`policy ${options.file} refused:\n${lines}`, { cause: options.cause });
    this.code = code;
    this.file = options.file;
    this.problems = options.problems;
    this.line = options.problems[0]?.line;
    this.column = options.problems[0]?.column;
  }
}

export function formatProblem(p: PolicyProblem): string {
  const at = p.line === undefined ? "" : ` (line ${p.line}, column ${p.column ?? 1})`;
  return `${p.path || "(top)"}${at}: ${p.message}`;
}
