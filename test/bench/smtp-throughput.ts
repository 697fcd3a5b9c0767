import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { hasTool } from "../helpers/tools.js";
import { startChildGateway, writeGatewayConfig } from "../helpers/gateway.js";
import { PostfixInstance } from "../helpers/postfix.js";
import { collect, runLoad, startArrivalSink, type ArrivalSink, type RunFigures } from "./load.js";

/**
 * `npm run bench`: N messages of about 10 KB over C concurrent SMTP sessions through sealgate
 * (its real CLI as a child process, SQLite spool with full sync, smart-host delivery) to a
 * local sink that accepts and discards; then, where Postfix is installed and we are root, the
 * same load through a private Postfix relaying to the same sink. Prints messages per second,
 * the added latency (submission start at the client to end of DATA at the sink), and the
 * ratio. Not a test: nothing here passes or fails.
 *
 * Environment: BENCH_MESSAGES (default 1000), BENCH_CONCURRENCY (10), BENCH_BYTES (10240),
 * BENCH_DEADLINE_S (per run, default 180), BENCH_WARMUP (50).
 */

const N = envInt("BENCH_MESSAGES", 1000);
const C = envInt("BENCH_CONCURRENCY", 10);
const BYTES = envInt("BENCH_BYTES", 10 * 1024);
const DEADLINE_MS = envInt("BENCH_DEADLINE_S", 180) * 1000;
const WARMUP = envInt("BENCH_WARMUP", 50);

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

type Cleanup = () => Promise<unknown> | unknown;
const cleanups: Cleanup[] = [];
const teardown = { teardown: (fn: Cleanup) => void cleanups.push(fn) };

async function measure(
  name: string,
  target: { host: string; port: number },
  sink: ArrivalSink,
): Promise<RunFigures> {
  process.stderr.write(`${name}: warm-up ${WARMUP} messages\n`);
  const warm = await runLoad({
    target,
    runId: `${name}-warm`,
    messages: WARMUP,
    concurrency: Math.min(C, WARMUP),
    messageBytes: BYTES,
    deadlineMs: DEADLINE_MS,
  });
  await collect(warm, sink, DEADLINE_MS);

  process.stderr.write(`${name}: ${N} messages over ${C} sessions\n`);
  const load = await runLoad({
    target,
    runId: name,
    messages: N,
    concurrency: C,
    messageBytes: BYTES,
    deadlineMs: DEADLINE_MS,
  });
  const figures = await collect(load, sink, DEADLINE_MS);
  if (load.refused > 0) process.stderr.write(`${name}: ${load.refused} refused by the server\n`);
  return figures;
}

function row(name: string, f: RunFigures): string {
  return (
    `${name.padEnd(9)} ${String(f.arrived).padStart(5)}/${f.sent} arrived in ` +
    `${f.seconds.toFixed(1)} s  ${f.messagesPerSecond.toFixed(1).padStart(7)} msg/s  ` +
    `p50 ${f.p50Ms.toFixed(1)} ms  p99 ${f.p99Ms.toFixed(1)} ms  ` +
    `(250s at ${f.acceptedPerSecond.toFixed(1)}/s)`
  );
}

function machine(): string {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  return `${cpus().length} CPUs (${model}), Node ${process.version}`;
}

async function main(): Promise<void> {
  const sink = await startArrivalSink();
  cleanups.push(() => sink.close());
  const results: Record<string, RunFigures> = {};

  const files = writeGatewayConfig({
    logLevel: "info",
    delivery: {
      mode: "smarthost",
      smartHost: { host: "127.0.0.1", port: sink.sink.port, requireTls: false },
    },
  });
  const gw = await startChildGateway(teardown, files, { timeoutMs: 60_000 });
  results.sealgate = await measure("sealgate", gw.smtp, sink);
  await gw.kill("SIGTERM");

  const canPostfix = hasTool("postfix") && process.getuid?.() === 0;
  if (canPostfix) {
    const pf = await PostfixInstance.start({
      relayHost: { host: "127.0.0.1", port: sink.sink.port },
      relayTls: "none",
    });
    cleanups.push(() => pf.stop());
    results.postfix = await measure("postfix", { host: pf.host, port: pf.port }, sink);
  }

  const out = [
    "",
    `sealgate SMTP throughput: ${N} messages of ${BYTES} bytes, ${C} concurrent sessions`,
    `machine: ${machine()}`,
    ...Object.entries(results).map(([k, f]) => row(k, f)),
  ];
  if (results.sealgate && results.postfix) {
    const ratio = results.sealgate.messagesPerSecond / results.postfix.messagesPerSecond;
    out.push(`ratio sealgate/postfix throughput: ${ratio.toFixed(2)} (aim: at least 0.50)`);
  } else {
    out.push("postfix: not run (needs the postfix command and root; .ci/run installs it)");
  }
  process.stdout.write(`${out.join("\n")}\n`);
  process.stdout.write(`${JSON.stringify({ N, C, BYTES, machine: machine(), results })}\n`);
}

try {
  await main();
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
