/**
 * Evaluates the default policy over the labelled corpus (../shared/corpus, or the folder
 * given as the first argument): message-level precision and recall of "encrypt", and per
 * detector whether it found what the labels say is there. Prints no matched value.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadPolicy, type RulePolicyEngine } from "../policy/index.js";

/** Label kinds and the detectors (or verdict facts) that should find them. */
const KIND_DETECTOR: Record<string, string> = {
  ssn: "us-ssn",
  mbi: "medicare-mbi",
  npi: "npi",
  dea: "dea",
  "member-id": "health-plan-id",
  mrn: "mrn",
  "claim-number": "claim-number",
  icd10: "icd10",
  cpt: "cpt",
  drug: "drug",
  "lab-result": "lab-result",
  name: "patient-name",
  dob: "dob",
  phone: "phone",
  email: "email",
  address: "street-address",
  unscannable: "unscannable",
};

interface Row {
  file: string;
  expected: string;
  kinds: string[];
}

export interface CorpusResult {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  precision: number;
  recall: number;
  wrong: { file: string; expected: string; got: string; rules: string[] }[];
  perDetector: { detector: string; tp: number; fp: number; fn: number }[];
}

export async function evaluateCorpus(engine: RulePolicyEngine, dir: string): Promise<CorpusResult> {
  const rows: Row[] = readFileSync(path.join(dir, "labels.tsv"), "utf8")
    .split("\n")
    .slice(1)
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [file = "", expected = "", kinds = ""] = l.split("\t");
      return {
        file,
        expected,
        kinds: kinds
          .split(",")
          .map((k) => k.trim())
          .filter((k) => k !== "none"),
      };
    });
  const listed = new Set(rows.map((r) => r.file));
  const missing = readdirSync(dir).filter((f) => f.endsWith(".eml") && !listed.has(f));
  if (missing.length > 0) process.stderr.write(`unlabelled files ignored: ${missing.length}\n`);

  const result: CorpusResult = {
    tp: 0,
    fp: 0,
    fn: 0,
    tn: 0,
    precision: 0,
    recall: 0,
    wrong: [],
    perDetector: [],
  };
  const det = new Map<string, { tp: number; fp: number; fn: number }>();
  for (const name of Object.values(KIND_DETECTOR)) det.set(name, { tp: 0, fp: 0, fn: 0 });

  for (const row of rows) {
    const raw = readFileSync(path.join(dir, row.file));
    const { verdict } = await engine.explain({
      raw,
      mailFrom: "sender@example.org",
      rcptTo: ["rcpt@example.net"],
    });
    const got = verdict.action === "allow" ? "allow" : "encrypt";
    const positive = row.expected === "encrypt";
    if (got === "encrypt" && positive) result.tp++;
    else if (got === "encrypt") result.fp++;
    else if (positive) result.fn++;
    else result.tn++;
    if (got !== row.expected)
      result.wrong.push({ file: row.file, expected: row.expected, got, rules: verdict.rules });

    const fired = new Set(verdict.findings.map((f) => f.detector));
    const labelled = new Set(
      row.kinds.map((k) => KIND_DETECTOR[k]).filter((d): d is string => d !== undefined),
    );
    for (const [name, counts] of det) {
      if (fired.has(name) && labelled.has(name)) counts.tp++;
      else if (fired.has(name)) counts.fp++;
      else if (labelled.has(name)) counts.fn++;
      if (process.env["EVAL_VERBOSE"] !== undefined && fired.has(name) !== labelled.has(name)) {
        process.stderr.write(`  ${name} ${fired.has(name) ? "fp" : "fn"} ${row.file}\n`);
      }
    }
  }
  result.precision = result.tp / Math.max(1, result.tp + result.fp);
  result.recall = result.tp / Math.max(1, result.tp + result.fn);
  result.perDetector = [...det].map(([detector, c]) => ({ detector, ...c }));
  return result;
}

function pct(n: number): string {
  return n.toFixed(3);
}

async function main(): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dir = process.argv[2] ?? path.resolve(here, "../../shared/corpus");
  const engine = await loadPolicy();
  const r = await evaluateCorpus(engine, dir);
  const out: string[] = [];
  out.push(`corpus: ${dir}`);
  out.push(
    `messages: ${r.tp + r.fp + r.fn + r.tn}  tp ${r.tp}  fp ${r.fp}  fn ${r.fn}  tn ${r.tn}`,
  );
  out.push(
    `message-level precision ${pct(r.precision)}  recall ${pct(r.recall)}  (aim: >= 0.970, >= 0.990)`,
  );
  for (const w of r.wrong)
    out.push(`  WRONG ${w.file}: expected ${w.expected}, got ${w.got} [${w.rules.join(", ")}]`);
  out.push("per detector (message level, finding at medium or above vs label):");
  out.push(
    `  ${"detector".padEnd(16)} ${"tp".padStart(4)} ${"fp".padStart(4)} ${"fn".padStart(4)} precision recall`,
  );
  for (const d of r.perDetector) {
    const p = d.tp / Math.max(1, d.tp + d.fp);
    const rc = d.tp / Math.max(1, d.tp + d.fn);
    out.push(
      `  ${d.detector.padEnd(16)} ${String(d.tp).padStart(4)} ${String(d.fp).padStart(4)} ${String(d.fn).padStart(4)} ${pct(p).padStart(9)} ${pct(rc).padStart(6)}`,
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

if (
  process.argv[1] !== undefined &&
  fileURLToPath(import.meta.url) === path.resolve(process.argv[1])
) {
  main().catch((err: unknown) => {
    process.stderr.write(`eval-policy: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
