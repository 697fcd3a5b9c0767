import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import t from "tap";
import { loadPolicy } from "../policy/index.js";
import { evaluateCorpus } from "../scripts/eval-policy.js";

const fixtures = path.resolve(import.meta.dirname, "fixtures/policy");
const corpus = path.resolve(import.meta.dirname, "../../shared/corpus");
const envelope = { mailFrom: "staff@clinic.example.org", rcptTo: ["someone@example.net"] };

t.test("the shipped default policy loads without a file argument", async (t) => {
  const engine = await loadPolicy();
  t.equal(engine.name, "hipaa-default");
});

t.test("each of our labelled messages gets its expected verdict", async (t) => {
  const engine = await loadPolicy();
  const rows = readFileSync(path.join(fixtures, "labels.tsv"), "utf8").trim().split("\n").slice(1);
  t.ok(rows.length >= 10);
  for (const row of rows) {
    const [file = "", expected = ""] = row.split("\t");
    const verdict = await engine.evaluate({
      raw: readFileSync(path.join(fixtures, file)),
      ...envelope,
    });
    t.equal(verdict.action === "allow" ? "allow" : "encrypt", expected, file);
  }
});

t.test("a verdict names detectors and counts but never a matched value", async (t) => {
  const engine = await loadPolicy();
  const raw = readFileSync(path.join(fixtures, "a02-html-base64-referral.eml"));
  const verdict = await engine.evaluate({ raw, ...envelope });
  t.equal(verdict.action, "encrypt");
  t.ok(
    verdict.findings.some((f) => f.detector === "dob" && f.count === 1 && f.confidence === "high"),
  );
  const text = JSON.stringify(verdict);
  for (const value of ["Jane", "Roe", "03/14/1961", "I48.91", "apixaban"]) t.notMatch(text, value);
});

t.test("bytes that are no message get a verdict, not an exception", async (t) => {
  const engine = await loadPolicy();
  const raw = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
  const verdict = await engine.evaluate({ raw, ...envelope });
  t.ok(["allow", "encrypt", "quarantine", "block"].includes(verdict.action));
});

t.test(
  "the default policy meets the aims on the shared labelled corpus",
  { skip: !existsSync(corpus) && "no corpus" },
  async (t) => {
    const engine = await loadPolicy();
    const result = await evaluateCorpus(engine, corpus);
    t.ok(result.recall >= 0.99, `recall ${result.recall}`);
    t.ok(result.precision >= 0.97, `precision ${result.precision}`);
    t.same(result.wrong, []);
  },
);

t.test(
  "PHI only in a DOCX attachment is found and encrypted",
  { skip: !existsSync(corpus) && "no corpus" },
  async (t) => {
    const engine = await loadPolicy();
    const raw = readFileSync(path.join(corpus, "10-docx-discharge-summary.eml"));
    const { verdict, extraction, matches } = await engine.explain({ raw, ...envelope });
    t.equal(verdict.action, "encrypt");
    const docx = extraction.segments.findIndex((s) => s.source.endsWith(".docx"));
    t.ok(docx >= 0, "the DOCX was read");
    t.ok(
      matches.some((m) => m.segment === docx && m.detector === "dob"),
      "its DOB was found there",
    );
  },
);

t.test(
  "a clean invoice full of order numbers is not sensitive",
  { skip: !existsSync(corpus) && "no corpus" },
  async (t) => {
    const engine = await loadPolicy();
    const raw = readFileSync(path.join(corpus, "38-invoice-order-tracking-numbers.eml"));
    const verdict = await engine.evaluate({ raw, ...envelope });
    t.equal(verdict.action, "allow");
    t.notOk(verdict.findings.some((f) => ["us-ssn", "npi", "aba-routing"].includes(f.detector)));
  },
);
