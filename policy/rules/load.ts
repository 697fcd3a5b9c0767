import { readFile } from "node:fs/promises";
import path from "node:path";
import { LineCounter, parseDocument, type Node as YamlNode } from "yaml";
import type { z } from "zod";
import { BUILTIN_DETECTOR_NAMES } from "../detectors/index.js";
import { unmatchable } from "../detectors/words.js";
import { customDetector } from "./custom.js";
import { PolicyError, type PolicyProblem } from "./errors.js";
import { CompiledPolicy } from "./evaluate.js";
import { policySchema, type Condition, type PolicyFile } from "./schema.js";

/** Reads, validates and compiles a policy file; refuses it with every problem's position. */
export async function loadPolicyFile(file: string): Promise<CompiledPolicy> {
  let source: string;
  try {
    source = await readFile(file, "utf8");
  } catch (err) {
    const message =
      (err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : "cannot read the file";
    throw new PolicyError("policy-unreadable", {
      file,
      problems: [{ path: "", message }],
      cause: err,
    });
  }
  return compilePolicy(source, { file });
}

/** Validates and compiles policy text. `file` names it in errors and, by default, in events. */
export function compilePolicy(source: string, options: { file: string }): CompiledPolicy {
  const file = options.file;
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const at = lines.linePos(e.pos[0]);
      return {
        path: "",
        line: at.line,
        column: at.col,
        message: e.message.split("\n")[0] ?? "YAML error",
      };
    });
    throw new PolicyError("policy-yaml", { file, problems });
  }
  const locate = (keyPath: (string | number)[]): { line?: number; column?: number } => {
    for (let n = keyPath.length; n >= 0; n--) {
      const node = doc.getIn(keyPath.slice(0, n), true) as YamlNode | undefined;
      if (node?.range !== undefined && node.range !== null) {
        const at = lines.linePos(node.range[0]);
        return { line: at.line, column: at.col };
      }
    }
    return {};
  };

  const parsed = policySchema.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new PolicyError("policy-invalid", { file, problems: zodProblems(parsed.error, locate) });
  }
  const policy = parsed.data;
  const problems = checkReferences(policy, locate);
  const detectors = [];
  for (const [name, spec] of Object.entries(policy.detectors)) {
    try {
      detectors.push(customDetector(name, spec));
    } catch (err) {
      const users = rulesUsing(policy, name);
      const used = users.length > 0 ? ` (used by rule ${users.join(", ")})` : "";
      problems.push({
        path: `detectors.${name}.pattern`,
        ...locate(["detectors", name, "pattern"]),
        message: `detector ${name}${used}: ${(err as Error).message}`,
      });
    }
  }
  if (problems.length > 0) {
    const code = problems.some((p) => p.path.endsWith(".pattern"))
      ? "policy-regex"
      : "policy-invalid";
    throw new PolicyError(code, { file, problems });
  }
  return new CompiledPolicy(policy, { name: policy.name ?? path.basename(file), detectors });
}

function zodProblems(
  error: z.ZodError,
  locate: (p: (string | number)[]) => { line?: number; column?: number },
): PolicyProblem[] {
  return error.issues.map((issue) => {
    const keyPath = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    let message = issue.message;
    if (issue.code === "invalid_union") {
      message =
        "not a known condition or action here; see the README's policy section for the forms";
    }
    return { path: keyPath.join("."), ...locate(keyPath), message };
  });
}

function checkReferences(
  policy: PolicyFile,
  locate: (p: (string | number)[]) => { line?: number; column?: number },
): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const seen = new Set<string>();
  policy.rules.forEach((rule, i) => {
    if (seen.has(rule.name)) {
      problems.push({
        path: `rules.${i}.name`,
        ...locate(["rules", i, "name"]),
        message: `rule name ${rule.name} is used twice`,
      });
    }
    seen.add(rule.name);
    walk(rule.when, ["rules", i, "when"], (cond, at) => {
      const problem = checkCondition(policy, cond);
      if (problem !== undefined)
        problems.push({ path: at.join("."), ...locate(at), message: problem });
      if ("keywords" in cond) checkTerms(cond.keywords, [...at, "keywords"], problems, locate);
    });
  });
  for (const [name, terms] of Object.entries(policy.dictionaries)) {
    checkTerms(terms, ["dictionaries", name], problems, locate);
  }
  for (const [name, spec] of Object.entries(policy.detectors)) {
    checkTerms(spec.context, ["detectors", name, "context"], problems, locate);
  }
  for (const name of Object.keys(policy.exclude)) {
    if (!BUILTIN_DETECTOR_NAMES.has(name) && !(name in policy.detectors)) {
      problems.push({
        path: `exclude.${name}`,
        ...locate(["exclude", name]),
        message: `unknown detector ${name}`,
      });
    }
  }
  for (const name of Object.keys(policy.detectors)) {
    if (BUILTIN_DETECTOR_NAMES.has(name) || name === "unscannable") {
      problems.push({
        path: `detectors.${name}`,
        ...locate(["detectors", name]),
        message: `${name} is a built-in detector; give the custom one another name`,
      });
    }
  }
  return problems;
}

/** A keyword, dictionary term or context word that could never match is refused, not dropped. */
function checkTerms(
  terms: readonly string[],
  at: (string | number)[],
  problems: PolicyProblem[],
  locate: (p: (string | number)[]) => { line?: number; column?: number },
): void {
  terms.forEach((term, i) => {
    const why = unmatchable(term);
    if (why === undefined) return;
    const path = [...at, i];
    problems.push({ path: path.join("."), ...locate(path), message: `entry ${i + 1}: ${why}` });
  });
}

function checkCondition(policy: PolicyFile, cond: Condition): string | undefined {
  if ("detector" in cond) {
    const known = BUILTIN_DETECTOR_NAMES.has(cond.detector) || cond.detector in policy.detectors;
    if (!known) return `unknown detector ${cond.detector}`;
  }
  if ("dictionary" in cond && !(cond.dictionary in policy.dictionaries)) {
    return `unknown dictionary ${cond.dictionary}`;
  }
  for (const list of [
    "sender" in cond ? cond.sender : [],
    "recipient" in cond ? cond.recipient : [],
  ]) {
    for (const entry of list) {
      const group = /^group:(.+)$/.exec(entry)?.[1];
      if (group !== undefined && !(group in policy.groups)) return `unknown group ${group}`;
    }
  }
  return undefined;
}

function walk(
  cond: Condition,
  at: (string | number)[],
  fn: (c: Condition, at: (string | number)[]) => void,
): void {
  fn(cond, at);
  if ("any" in cond) cond.any.forEach((c, i) => walk(c, [...at, "any", i], fn));
  if ("all" in cond) cond.all.forEach((c, i) => walk(c, [...at, "all", i], fn));
  if ("not" in cond) walk(cond.not, [...at, "not"], fn);
}

function rulesUsing(policy: PolicyFile, detector: string): string[] {
  return policy.rules
    .filter((rule) => {
      let uses = false;
      walk(rule.when, [], (c) => {
        if ("detector" in c && c.detector === detector) uses = true;
      });
      return uses;
    })
    .map((rule) => rule.name);
}
