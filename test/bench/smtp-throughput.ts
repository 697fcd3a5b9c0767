import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { hasTool } from "../helpers/tools.js";
import { startChildGateway, writeGatewayConfig } from "../helpers/gateway.js";
import { PostfixInstance } from "../helpers/postfix.js";
import { collect, runLoad, startArrivalSink, type ArrivalSink, type RunFigures } from "./load.js";
import { benchSmime } from "./smime.js";
import { benchPgp } from "./pgp.js";
import { cryptoTable, type CryptoRow } from "./crypto-row.js";

/**
 * `npm run bench`: N messages of about 10 KB over C concurrent SMTP sessions through sealgate
 * (its real CLI as a child process, SQLite spool with full sync, smart-host delivery) to a
 * local sink that accepts and discards; then, where Postfix is installed and we are root, the
 * same load through a private Postfix relaying to the same sink. Prints messages per second,
 * the added latency (submission start at the client to end of DATA at the sink), and the
 * ratio. Then the encryption columns: S/MIME (test/bench/smime.ts) and PGP/MIME
 * (test/bench/pgp.ts) messages per second for 10 KB and 2 MB messages to one recipient, against
 * `openssl cms -encrypt` and `gpg --encrypt` on the same messages. Not a test: nothing here
 * passes or fails.
 *
 * Environment: BENCH_MESSAGES (default 1000), BENCH_CONCURRENCY (10), BENCH_BYTES (10240),
 * BENCH_DEADLINE_S (per run, default 180), BENCH_WARMUP (50), BENCH_SECONDS (per encryption
 * cell, default 2), BENCH_PARTS (default "smtp,smime,pgp").
 */

const N = envInt("BENCH_MESSAGES", 1000);
const C = envInt("BENCH_CONCURRENCY", 10);
const BYTES = envInt("BENCH_BYTES", 10 * 1024);
const DEADLINE_MS = envInt("BENCH_DEADLINE_S", 180) * 1000;
const WARMUP = envInt("BENCH_WARMUP", 50);
const CRYPTO_SECONDS =
  Number(process.env.BENCH_SECONDS) > 0 ? Number(process.env.BENCH_SECONDS) : 2;
const PARTS = new Set(
  (process.env.BENCH_PARTS ?? "smtp,smime,pgp").split(",").map((p) => p.trim()),
);

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

async function smtpPart(): Promise<Record<string, RunFigures>> {
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

  if (hasTool("postfix") && process.getuid?.() === 0) {
    const pf = await PostfixInstance.start({
      relayHost: { host: "127.0.0.1", port: sink.sink.port },
      relayTls: "none",
    });
    cleanups.push(() => pf.stop());
    results.postfix = await measure("postfix", { host: pf.host, port: pf.port }, sink);
  }
  return results;
}

function smtpLines(results: Record<string, RunFigures>): string[] {
  const out = [
    `SMTP relay: ${N} messages of ${BYTES} bytes, ${C} concurrent sessions, one recipient`,
    ...Object.entries(results).map(([k, f]) => row(k, f)),
  ];
  if (results.sealgate && results.postfix) {
    const ratio = results.sealgate.messagesPerSecond / results.postfix.messagesPerSecond;
    out.push(`ratio sealgate/postfix throughput: ${ratio.toFixed(2)} (aim: at least 0.50)`);
  } else {
    out.push("postfix: not run (needs the postfix command and root; .ci/run installs it)");
  }
  return out;
}

async function main(): Promise<void> {
  const smtp = PARTS.has("smtp") ? await smtpPart() : {};
  const crypto: CryptoRow[] = [];
  if (PARTS.has("smime")) crypto.push(...(await benchSmime(CRYPTO_SECONDS)));
  if (PARTS.has("pgp")) crypto.push(...(await benchPgp(CRYPTO_SECONDS)));

  const out = [
    "",
    `machine: ${machine()}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  ];
  if (PARTS.has("smtp")) out.push("", ...smtpLines(smtp));
  if (crypto.length > 0) {
    out.push(
      "",
      `Encryption, one recipient, ${CRYPTO_SECONDS} s per cell (sealgate in process; the tool as ` +
        "one process per message; alternating slices)",
      cryptoTable(crypto),
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
  process.stdout.write(`${JSON.stringify({ N, C, BYTES, machine: machine(), smtp, crypto })}\n`);
}

try {
  await main();
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
