/**
 * Policy benchmark (not a timed test): MB/s of plain text through the detectors and rules of
 * the default policy on one core, messages/s for a typical mix (short body, one PDF, one
 * XLSX), and peak RSS while scanning a 10 MB attachment.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadPolicy } from "../policy/index.js";
import type { Extraction } from "../policy/extract/types.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = process.argv[2] ?? path.resolve(here, "../../shared/corpus");

/** Clinical-looking prose with identifiers sprinkled in, repeated to the wanted size. */
function plainText(bytes: number): string {
  const paragraph = [
    "Thank you for seeing my patient today. She presented with two weeks of exertional chest",
    "tightness; ECG showed atrial fibrillation. Problem list: I48.91, I10, E78.5. Current",
    "medications: lisinopril 20 mg daily, atorvastatin 40 mg nightly. Order no. 6335356288,",
    "invoice 918273645, tracking 1Z831541A8280769956, call (217) 555-0130 with questions.",
    "Quarterly volumes rose 4.2% to 1,204 visits; the committee meets 12/03/2024 at 7:30 AM.",
    "",
  ].join("\n");
  return paragraph.repeat(Math.ceil(bytes / paragraph.length)).slice(0, bytes);
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
  const text = plainText(size);
  engine.explainExtraction(asExtraction(text.slice(0, 200_000)), envelope);
  const rounds = 3;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) engine.explainExtraction(asExtraction(text), envelope);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  lines.push(`plain text: ${((size * rounds) / 1024 / 1024 / seconds).toFixed(1)} MB/s (detectors + rules, one core)`);

  const mix = [
    "25-phi-in-subject-only.eml", // short body
    "44-eob-pdf.eml", // one PDF
    "45-eligibility-xlsx.eml", // one XLSX
  ].map((f) => readFileSync(path.join(corpus, f)));
  for (const raw of mix) await engine.evaluate({ raw, ...envelope });
  const n = 60;
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await engine.evaluate({ raw: mix[i % mix.length] as Buffer, ...envelope });
  const mixSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
  lines.push(`typical mix (short body, PDF, XLSX): ${(n / mixSeconds).toFixed(1)} messages/s (extraction included)`);

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
