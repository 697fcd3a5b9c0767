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

  const input: unknown = doc.toJS();
  const parsed = policySchema.safeParse(input);
  if (!parsed.success) {
    throw new PolicyError("policy-invalid", {
      file,
      problems: zodProblems(parsed.error, { input, locate }),
    });
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
  ctx: { input: unknown; locate: (p: (string | number)[]) => { line?: number; column?: number } },
): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const add = (issue: Issue, base: (string | number)[]): void => {
    const keyPath = [
      ...base,
      ...issue.path.filter((p): p is string | number => typeof p !== "symbol"),
    ];
    if (issue.code === "invalid_union") {
      const branch = bestBranch(issue.errors, valueAt(ctx.input, keyPath));
      if (branch !== undefined) {
        for (const inner of branch) add(inner, keyPath);
        return;
      }
    }
    problems.push({
      path: keyPath.join("."),
      ...ctx.locate(keyPath),
      message: explainIssue(issue, keyPath, valueAt(ctx.input, keyPath)),
    });
  };
  for (const issue of error.issues) add(issue, []);
  return problems;
}

type Issue = z.core.$ZodIssue;

/**
 * The alternative of a union the author meant: the one whose keys the written object has (a
 * branch that asks for a key the object lacks, or for another type altogether, is not it).
 * Undefined when none fits, e.g. for a misspelt condition key.
 */
function bestBranch(branches: Issue[][], value: unknown): Issue[] | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const keys = new Set(Object.keys(value));
  const fitting = branches.filter((issues) =>
    issues.every((i) => {
      const first = i.path[0];
      if (first === undefined) return i.code === "unrecognized_keys";
      return typeof first !== "string" || keys.has(first);
    }),
  );
  fitting.sort((a, b) => a.length - b.length);
  return fitting[0];
}

function valueAt(input: unknown, keyPath: readonly (string | number)[]): unknown {
  let v = input;
  for (const k of keyPath) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

const CONDITION_KEYS =
  "any, all, not, detector, keywords, dictionary, sender, recipient, subjectTag, header, " +
  "attachmentType, unscannable";
const ACTION_KEYS = "encrypt, block, add-header";
const ACTIONS =
  "allow, encrypt, quarantine, notify-sender, {encrypt: …}, {block: …}, {add-header: …}";

/** Says what is wrong in the author's terms: the key, and what it may hold. Never the value. */
function explainIssue(issue: Issue, keyPath: readonly (string | number)[], value: unknown): string {
  const key = [...keyPath].reverse().find((k): k is string => typeof k === "string") ?? "value";
  const inThen = keyPath.includes("then");
  switch (issue.code) {
    case "invalid_union": {
      const known = inThen ? ACTION_KEYS : CONDITION_KEYS;
      const unknown =
        value !== null && typeof value === "object" && !Array.isArray(value)
          ? Object.keys(value).filter((k) => !known.split(", ").includes(k))
          : [];
      const which = unknown.length > 0 ? `unknown key ${unknown.join(", ")}; ` : "";
      return inThen
        ? `${which}not a known action; an action is one of ${ACTIONS}`
        : `${which}not a known condition; a condition has one of the keys ${CONDITION_KEYS}`;
    }
    case "invalid_value":
      return `${key} must be one of ${issue.values.map(String).join(", ")}`;
    case "unrecognized_keys":
      return `unknown key ${issue.keys.join(", ")} here`;
    case "invalid_type":
      return `${key} must be ${issue.expected === "array" ? "a list" : `a ${issue.expected}`}`;
    case "too_small":
      return issue.origin === "array"
        ? `${key} needs at least ${String(issue.minimum)} entr${issue.minimum === 1 ? "y" : "ies"}`
        : issue.origin === "string"
          ? `${key} must not be empty`
          : `${key} must be at least ${String(issue.minimum)}`;
    case "too_big":
      return `${key} must be at most ${String(issue.maximum)}`;
    default:
      return issue.message;
  }
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
