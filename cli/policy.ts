import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import type { DetectorMatch } from "../policy/detectors/types.js";
import {
  PolicyError,
  SourceLabels,
  formatProblem,
  loadPolicy,
  loadPolicyFile,
  maskValue,
  type Explained,
} from "../policy/index.js";

/**
 * Detectors whose excerpts keep their last characters (as on a statement, "***-**-6789");
 * every other value (names, dates, codes, drugs, lab values) shows no character at all.
 */
const PARTLY_SHOWN = new Set([
  "us-ssn",
  "medicare-mbi",
  "npi",
  "dea",
  "payment-card",
  "aba-routing",
  "health-plan-id",
  "mrn",
  "claim-number",
  "bank-account",
]);
const EXAMPLES = 3;

export function registerPolicyCommands(program: Command): void {
  const policy = program.command("policy").description("check and test PHI policies");
  policy
    .command("check")
    .argument("<file>", "policy file (YAML)")
    .description("validate a policy file; print each error with its line and column, exit 1")
    .action(async (file: string) => {
      try {
        const compiled = await loadPolicyFile(file);
        process.stdout.write(`${file}: ok (${compiled.ruleNames.length} rules)\n`);
      } catch (err) {
        if (!(err instanceof PolicyError)) throw err;
        for (const p of err.problems) process.stderr.write(`${file}: ${formatProblem(p)}\n`);
        process.exitCode = 1;
      }
    });
  policy
    .command("test")
    .argument("<paths...>", ".eml files or folders of them")
    .option("--policy <file>", "policy file (default: the shipped hipaa.yaml)")
    .option("--json", "one JSON object per message")
    .option("--from <address>", "envelope sender (default: the message's From)")
    .option("--to <addresses>", "envelope recipients, comma-separated (default: To and Cc)")
    .description("run a policy over messages and explain each verdict (values masked)")
    .action(async (paths: string[], flags: TestFlags) => {
      let engine;
      try {
        engine = await loadPolicy(flags.policy);
      } catch (err) {
        if (!(err instanceof PolicyError)) throw err;
        for (const p of err.problems) process.stderr.write(`${err.file}: ${formatProblem(p)}\n`);
        process.exitCode = 1;
        return;
      }
      for (const file of await collectEml(paths)) {
        let raw: Buffer;
        try {
          raw = await readFile(file);
        } catch {
          process.stderr.write(`${file}: cannot read the file\n`);
          process.exitCode = 1;
          continue;
        }
        const explained = await engine.explain({ raw, ...envelopeOf(raw, flags) });
        const report = explain(file, explained);
        process.stdout.write(
          flags.json === true ? `${JSON.stringify(report)}\n` : humanReport(report),
        );
      }
    });
}

interface TestFlags {
  policy?: string;
  json?: boolean;
  from?: string;
  to?: string;
}

/** The envelope to test with: the flags, else the addresses in the message's own headers. */
function envelopeOf(raw: Buffer, flags: TestFlags): { mailFrom: string; rcptTo: string[] } {
  const end = raw.indexOf("\r\n\r\n");
  const head = raw.subarray(0, end === -1 ? Math.min(raw.length, 65536) : end).toString("latin1");
  const unfolded = head.replace(/\r?\n[ \t]+/g, " ");
  const field = (name: string): string[] => {
    const lines = unfolded.split(/\r?\n/).filter((l) => l.toLowerCase().startsWith(`${name}:`));
    return lines.flatMap((l) => l.match(/[^\s<>,;:"()]+@[^\s<>,;:"()]+/g) ?? []);
  };
  const mailFrom = flags.from ?? field("from")[0] ?? "";
  const rcptTo =
    flags.to !== undefined
      ? flags.to
          .split(",")
          .map((a) => a.trim())
          .filter((a) => a.length > 0)
      : [...field("to"), ...field("cc")];
  return { mailFrom, rcptTo };
}

async function collectEml(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => undefined);
    if (info === undefined) {
      process.stderr.write(`${p}: not found\n`);
      process.exitCode = 1;
    } else if (info.isDirectory()) {
      const entries = await readdir(p, { recursive: true });
      files.push(
        ...entries
          .filter((e) => e.toLowerCase().endsWith(".eml"))
          .sort()
          .map((e) => path.join(p, e)),
      );
    } else {
      files.push(p);
    }
  }
  return files;
}

interface Report {
  file: string;
  action: string;
  method?: string;
  rules: string[];
  findings: {
    detector: string;
    count: number;
    confidence: string;
    examples: { source: string; excerpt: string }[];
  }[];
  unscannable: { source: string; reason: string }[];
  blockText?: string;
  notifySender?: boolean;
  addHeaders?: { name: string; value: string }[];
}

/**
 * The explanation of one verdict. Every excerpt is masked and every part is named by its
 * place, not its file name (a name can hold PHI); no matched text leaves here.
 */
export function explain(file: string, explained: Explained): Report {
  const { verdict, extraction, matches } = explained;
  const sources = new SourceLabels(extraction.attachments);
  const findings = verdict.findings.map((f) => ({
    ...f,
    examples: examples(
      matches.filter((m) => m.detector === f.detector),
      { explained, sources },
    ),
  }));
  const report: Report = {
    file,
    action: verdict.action,
    rules: verdict.rules,
    findings,
    unscannable: extraction.unscannable.map((u) => ({
      source: sources.label(u.source),
      reason: u.reason,
    })),
  };
  if (verdict.method !== undefined) report.method = verdict.method;
  if (verdict.blockText !== undefined) report.blockText = verdict.blockText;
  if (verdict.notifySender === true) report.notifySender = true;
  if (verdict.addHeaders !== undefined) report.addHeaders = verdict.addHeaders;
  return report;
}

function examples(
  matches: DetectorMatch[],
  { explained, sources }: { explained: Explained; sources: SourceLabels },
): { source: string; excerpt: string }[] {
  const seen = new Set<string>();
  const out: { source: string; excerpt: string }[] = [];
  for (const m of [...matches].sort((a, b) => rank(b) - rank(a))) {
    if (seen.has(m.key) || out.length >= EXAMPLES) continue;
    seen.add(m.key);
    const segment = explained.extraction.segments[m.segment];
    if (segment === undefined) continue;
    const value = segment.text.slice(m.start, m.end);
    out.push({
      source: sources.label(segment.source),
      excerpt: maskValue(value, { keepNone: !PARTLY_SHOWN.has(m.detector) }),
    });
  }
  return out;
}

function rank(m: DetectorMatch): number {
  return m.confidence === "high" ? 2 : m.confidence === "medium" ? 1 : 0;
}

function humanReport(r: Report): string {
  const lines = [`${r.file}: ${r.action}${r.method === undefined ? "" : ` (${r.method})`}`];
  lines.push(`  rules: ${r.rules.length > 0 ? r.rules.join(", ") : "(none fired)"}`);
  for (const f of r.findings) {
    const eg = f.examples.map((e) => `${e.excerpt} in ${e.source}`).join("; ");
    lines.push(`  ${f.detector}: ${f.count} (${f.confidence})${eg === "" ? "" : ` e.g. ${eg}`}`);
  }
  for (const u of r.unscannable) lines.push(`  unscannable: ${u.source} (${u.reason})`);
  if (r.blockText !== undefined) lines.push(`  block text: ${r.blockText}`);
  return `${lines.join("\n")}\n`;
}
