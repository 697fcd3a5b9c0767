import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Command } from "commander";
import t from "tap";
import { registerPolicyCommands } from "../cli/policy.js";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..");
const fixtures = path.join(root, "test/fixtures/policy");
const dir = mkdtempSync(path.join(tmpdir(), "sealgate-policy-"));

async function sealgate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ["--import", "tsx", "cli/entry.ts", ...args],
      { cwd: root },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** Runs `sealgate policy …` in this process (fast); one test below goes through the real CLI. */
async function inProcess(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const program = new Command().exitOverride();
  registerPolicyCommands(program);
  let stdout = "";
  let stderr = "";
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => (
    (stdout += chunk),
    true
  )) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => (
    (stderr += chunk),
    true
  )) as typeof process.stderr.write;
  process.exitCode = 0;
  try {
    await program.parseAsync(["node", "sealgate", ...args]);
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, stdout, stderr };
}

t.test(
  "policy check accepts the shipped policy and points at each error's line and column",
  async (t) => {
    const ok = await inProcess(["policy", "check", "policy/defaults/hipaa.yaml"]);
    t.equal(ok.code, 0);
    t.match(ok.stdout, /hipaa\.yaml: ok \(\d+ rules\)/);

    const bad = path.join(dir, "bad.yaml");
    writeFileSync(
      bad,
      "rules:\n  - name: r\n    when:\n      detector: us-snn\n    then: [encrypt]\n",
    );
    const refused = await inProcess(["policy", "check", bad]);
    t.equal(refused.code, 1);
    t.match(
      refused.stderr,
      /bad\.yaml: rules\.0\.when \(line 4, column 7\): unknown detector us-snn/,
    );
  },
);

t.test("policy test --json prints one object per message with masked excerpts only", async (t) => {
  const { code, stdout } = await sealgate(["policy", "test", "--json", fixtures]);
  t.equal(code, 0);
  const reports = stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(reports.length, readdirSync(fixtures).filter((f) => f.endsWith(".eml")).length);
  const qp = reports.find((r) => String(r["file"]).endsWith("a03-qp-ssn-soft-break.eml"));
  t.equal(qp?.["action"], "encrypt");
  t.equal(qp?.["method"], "auto");
  t.same(qp?.["rules"], ["identifiers"]);
  t.match(qp?.["findings"], [
    { detector: "us-ssn", count: 1, confidence: "high", examples: [{ excerpt: "***-**-6268" }] },
  ]);
  for (const r of reports) {
    t.ok(["allow", "encrypt", "block", "quarantine"].includes(String(r["action"])));
    t.ok(Array.isArray(r["rules"]) && Array.isArray(r["findings"]));
  }
  for (const value of [
    "289-95-6268",
    "289956268",
    "706560759",
    "Ada",
    "Quist",
    "02/03/1950",
    "Jane",
    "03/14/1961",
    "I48.91",
    "apixaban",
    "6.4",
  ]) {
    t.notOk(stdout.includes(value), `no ${value} in the output`);
  }
});

t.test("policy test explains a verdict in words and refuses a broken --policy", async (t) => {
  const human = await inProcess([
    "policy",
    "test",
    path.join(fixtures, "a08-subject-only-phi.eml"),
  ]);
  t.match(
    human.stdout,
    /a08-subject-only-phi\.eml: encrypt \(auto\)\n {2}rules: .*patient-identity/,
  );
  t.match(human.stdout, /dob: 1 \(high\) e\.g\. \*\*\/\*\*\/\*\*\*\* in subject/);
  const bad = path.join(dir, "broken.yaml");
  writeFileSync(bad, "rules: [\n");
  const refused = await inProcess(["policy", "test", "--policy", bad, fixtures]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /line \d+/);
});

t.test(
  "policy test takes the envelope from the message's headers unless --from/--to say otherwise",
  async (t) => {
    const policy = path.join(dir, "internal.yaml");
    writeFileSync(
      policy,
      "rules:\n  - {name: partner, priority: 10, when: {recipient: [partner.example.net]}, then: [allow], stop: true}\n" +
        "  - {name: ssn, when: {detector: us-ssn}, then: [encrypt]}\n",
    );
    const message = path.join(fixtures, "a03-qp-ssn-soft-break.eml");
    const own = await inProcess(["policy", "test", "--json", "--policy", policy, message]);
    t.same((JSON.parse(own.stdout) as { rules: string[] }).rules, ["partner"]);
    const other = await inProcess([
      "policy",
      "test",
      "--json",
      "--policy",
      policy,
      "--to",
      "x@example.com",
      message,
    ]);
    t.same((JSON.parse(other.stdout) as { rules: string[] }).rules, ["ssn"]);
  },
);

t.test(
  "policy test names parts by place, never by file name, and reads PHI in a file name",
  async (t) => {
    const message = path.join(fixtures, "bf01-phi-in-file-names.eml");
    const json = await inProcess(["policy", "test", "--json", message]);
    const human = await inProcess(["policy", "test", message]);
    const report = JSON.parse(json.stdout) as {
      findings: { detector: string; examples: { source: string }[] }[];
      unscannable: { source: string; reason: string }[];
    };
    t.same(report.unscannable, [{ source: "attachment#1 (.tif)", reason: "unsupported" }]);
    const sources = report.findings.flatMap((f) => f.examples.map((e) => e.source));
    t.ok(sources.includes("attachment#1 (.tif) file name"), "the SSN in the .tif's name counts");
    t.ok(sources.includes("attachment#2 (.txt)"));
    t.match(human.stdout, /in attachment#2 \(\.txt\)/);
    for (const out of [json.stdout, human.stdout]) {
      for (const value of ["Jane", "Roe", "512-44-1234", "498-33-1276", "03-14-1961", "SSN_"]) {
        t.notOk(out.includes(value), `no ${value} in the output`);
      }
    }
    const onlyName = await inProcess([
      "policy",
      "test",
      "--json",
      path.join(fixtures, "bf02-ssn-only-in-file-name.eml"),
    ]);
    t.match(JSON.parse(onlyName.stdout), { action: "encrypt", findings: [{ detector: "us-ssn" }] });
  },
);
