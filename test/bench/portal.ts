import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { benchPages, pageTable, WARMUP_SECONDS, type PageRow } from "./portal-pages.js";
import { benchWrap, overheadLines, WARMUP_RUNS, wrapTable, type WrapRow } from "./portal-wrap.js";

/**
 * `npm run bench:portal`: what the recipient portal costs, each figure next to a reference
 * measured in the same run. Not a test: nothing here passes or fails.
 *
 * Wrap (test/bench/portal-wrap.ts): PortalCore.deliver of a 10 KB and a 5 MB message for one
 * recipient on a real SqliteStore and SqlitePortalStore in a temp folder, one at a time:
 * median, p95 and wraps per second; against AES-256-GCM of the same bytes (node:crypto) and
 * one SQLite insert of that size (WAL, synchronous=FULL, like the store).
 *
 * Pages (test/bench/portal-pages.ts): a gateway started in this process (embedded SQLite,
 * delivery mode outbox, portal enabled) serves the sign-in page, the notice link's landing page,
 * and, signed in, the message page and its body frame to C keep-alive connections from a client
 * process on loopback: requests per second and p50/p99 latency; against /healthz, a small JSON
 * route on the same listener.
 *
 * Environment: BENCH_RUNS (wraps per size, default 40, after 2 not counted), BENCH_SECONDS
 * (counted load per page, default 6), BENCH_ROUNDS (slices each page's seconds are cut into,
 * taken in turn with the other pages, default 3), BENCH_CONCURRENCY (connections, default 10),
 * BENCH_PARTS (default "wrap,pages").
 */

const RUNS = envInt("BENCH_RUNS", 40);
const SECONDS = Number(process.env.BENCH_SECONDS) > 0 ? Number(process.env.BENCH_SECONDS) : 6;
const ROUNDS = envInt("BENCH_ROUNDS", 3);
const C = envInt("BENCH_CONCURRENCY", 10);
const PARTS = new Set((process.env.BENCH_PARTS ?? "wrap,pages").split(",").map((p) => p.trim()));

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

function machine(): string {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  return `${cpus().length} CPUs (${model}), Node ${process.version}`;
}

const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

function report(wrap: WrapRow[], pages: PageRow[], loadAtStart: string): string[] {
  const out = [
    "",
    `machine: ${machine()}, load average ${loadAtStart} at start, ${loadAverage()} at end`,
  ];
  if (wrap.length > 0) {
    out.push(
      "",
      `Wrap for one recipient, ${RUNS} runs per size after ${WARMUP_RUNS} not counted, the ` +
        "operations in turn within each run",
      wrapTable(wrap),
      ...overheadLines(wrap),
    );
  }
  if (pages.length > 0) {
    out.push(
      "",
      `Portal pages on loopback, 10 KB message, ${C} keep-alive connections, ${SECONDS} s per ` +
        `page in ${ROUNDS} slices taken in turn, after ${WARMUP_SECONDS} s not counted`,
      pageTable(pages),
    );
  }
  return out;
}

const loadAtStart = loadAverage();
const wrap = PARTS.has("wrap") ? await benchWrap({ runs: RUNS }) : [];
const pages = PARTS.has("pages")
  ? await benchPages({ seconds: SECONDS, rounds: ROUNDS, concurrency: C })
  : [];
process.stdout.write(`${report(wrap, pages, loadAtStart).join("\n")}\n`);
const settings = { RUNS, SECONDS, ROUNDS, C };
process.stdout.write(`${JSON.stringify({ settings, machine: machine(), wrap, pages })}\n`);
