/**
 * Policy benchmark (not a timed test): MB/s of plain text through the detectors and rules of
 * the default policy on one core, messages/s for a typical mix (short body, one PDF, one
 * XLSX), and peak RSS while scanning a 10 MB attachment.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadPolicy, type RulePolicyEngine } from "../policy/index.js";
import type { Extraction } from "../policy/extract/types.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = process.argv[2] ?? path.resolve(here, "../../shared/corpus");

/** Ordinary business prose with a few identifiers, numbers and clinical words mixed in. */
function plainText(bytes: number): string {
  const paragraph = [
    "Thanks for the update on the Westside refresh. The committee reviewed the quarterly figures",
    "and agreed to move the holiday potluck to the second floor conference room. Catering comes",
    "from the usual vendor with a budget of 4,200 dollars; PO 450019283 is waiting for approval.",
    "Order no. 6335356288 shipped on 11/12/2024, tracking 1Z831541A8280769956. If the exam table",
    "paper arrives short again, call (217) 555-0124 before Friday. The flu shot clinic for staff",
    "runs Nov 12-15 in the cafeteria annex, and the diabetes education class meets on Tuesdays.",
    "",
  ].join("\n");
  return paragraph.repeat(Math.ceil(bytes / paragraph.length)).slice(0, bytes);
}

/** CPU milliseconds of this process (user + system), so that other load on the machine does not count. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Text as dense in PHI as the labelled corpus: its extracted text, repeated. */
async function corpusText(bytes: number): Promise<string | undefined> {
  const { extract } = await import("../policy/extract/index.js");
  let text = "";
  try {
    for (const f of readdirSync(corpus).filter((n) => n.endsWith(".eml"))) {
      const x = await extract(readFileSync(path.join(corpus, f)));
      for (const s of x.segments) if (s.table === undefined) text += `${s.text}\n`;
    }
  } catch {
    return undefined;
  }
  return text.length === 0
    ? undefined
    : text.repeat(Math.ceil(bytes / text.length)).slice(0, bytes);
}

/** How fast this machine runs one trivial regex pass, to read the other figures against. */
function referenceRate(text: string): string {
  const count = (): number => {
    const re = /\w+/g;
    let n = 0;
    while (re.exec(text) !== null) n++;
    return n;
  };
  let words = count();
  const cpu0 = cpuMs();
  for (let i = 0; i < 3; i++) words += count();
  const cpu = (cpuMs() - cpu0) / 1000;
  return `${((text.length * 3) / 1024 / 1024 / cpu).toFixed(1)} MB per CPU second (${words} words)`;
}

function scanRate(engine: RulePolicyEngine, text: string, rounds: number): string {
  const envelope = { mailFrom: "a@example.org", rcptTo: ["b@example.net"] };
  engine.explainExtraction(asExtraction(text.slice(0, 200_000)), envelope);
  const wall0 = process.hrtime.bigint();
  const cpu0 = cpuMs();
  for (let i = 0; i < rounds; i++) engine.explainExtraction(asExtraction(text), envelope);
  const cpu = (cpuMs() - cpu0) / 1000;
  const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
  const mb = (text.length * rounds) / 1024 / 1024;
  return `${(mb / cpu).toFixed(1)} MB per CPU second (${(mb / wall).toFixed(1)} MB/s wall)`;
}

function asExtraction(text: string): Extraction {
  return {
    segments: [{ source: "body", kind: "body", text, original: text }],
    unscannable: [],
    attachments: [],
    headers: [{ name: "Subject", value: "bench" }],
  };
}

async function main(): Promise<void> {
  const engine = await loadPolicy();
  const envelope = { mailFrom: "a@example.org", rcptTo: ["b@example.net"] };
  const lines: string[] = [];

  const size = 8 * 1024 * 1024;
  const prose = plainText(size);
  lines.push(`machine reference: one /\\w+/g pass over the same text, ${referenceRate(prose)}`);
  lines.push(`plain text, default policy: ${scanRate(engine, prose, 3)}`);
  const dense = await corpusText(size);
  if (dense !== undefined) lines.push(`corpus text (PHI-dense): ${scanRate(engine, dense, 2)}`);

  const mix = [
    "25-phi-in-subject-only.eml", // short body
    "44-eob-pdf.eml", // one PDF
    "45-eligibility-xlsx.eml", // one XLSX
  ].map((f) => readFileSync(path.join(corpus, f)));
  for (const raw of mix) await engine.evaluate({ raw, ...envelope });
  const n = 60;
  const t1 = process.hrtime.bigint();
  const c1 = cpuMs();
  for (let i = 0; i < n; i++)
    await engine.evaluate({ raw: mix[i % mix.length] as Buffer, ...envelope });
  const mixSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
  const mixCpu = (cpuMs() - c1) / 1000;
  lines.push(
    `typical mix (short body, PDF, XLSX), extraction included: ${(n / mixCpu).toFixed(1)} messages ` +
      `per CPU second (${(n / mixSeconds).toFixed(1)}/s wall)`,
  );

  const big = plainText(10 * 1024 * 1024);
  const raw = Buffer.from(
    "From: a@example.org\r\nTo: b@example.net\r\nSubject: big\r\nMIME-Version: 1.0\r\n" +
      'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n' +
      '--b\r\nContent-Type: text/plain; name="notes.txt"\r\nContent-Disposition: attachment; filename="notes.txt"\r\n' +
      `Content-Transfer-Encoding: base64\r\n\r\n${Buffer.from(big).toString("base64").replace(/.{76}/g, "$&\r\n")}\r\n--b--\r\n`,
  );
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  const t2 = process.hrtime.bigint();
  const verdict = await engine.evaluate({ raw, ...envelope });
  const bigSeconds = Number(process.hrtime.bigint() - t2) / 1e9;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  lines.push(
    `10 MB text attachment: ${bigSeconds.toFixed(2)} s, verdict ${verdict.action}, ` +
      `peak RSS ${(peak / 1024 / 1024).toFixed(0)} MB`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-policy: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
