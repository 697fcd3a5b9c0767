import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import { startSink, type Sink } from "../helpers/sink.js";

/**
 * The load side of the benchmark: a message factory, C concurrent SMTP sessions that each
 * send their share of N messages one after another, and a sink that notes when each message
 * arrives. Every message carries an X-Bench-Id so an arrival is matched to its submission.
 */

const WORDS = (
  "patient chart review follow visit clinic schedule morning report result summary " +
  "discharge note team referral plan weekly update staff meeting agenda room floor"
).split(" ");

/** A plain-text message of about `bytes` octets, with nothing a PHI detector would flag. */
export function makeMessage(id: string, bytes: number): Buffer {
  const head = [
    "From: Bench Sender <bench@tenant.test>",
    "To: Bench Recipient <rcpt@remote.test>",
    `Subject: throughput run ${id}`,
    `Message-ID: <${id}@bench.sealgate.test>`,
    "Date: Thu, 03 Dec 2026 12:00:00 +0000",
    `X-Bench-Id: ${id}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=us-ascii",
    "",
    "",
  ].join("\r\n");
  const lines: string[] = [];
  let size = head.length;
  let i = 0;
  while (size < bytes) {
    const words: string[] = [];
    while (words.join(" ").length < 70) words.push(WORDS[(i++ * 7) % WORDS.length] ?? "x");
    const line = words.join(" ");
    lines.push(line);
    size += line.length + 2;
  }
  return Buffer.from(head + lines.join("\r\n") + "\r\n", "latin1");
}

/** A sink that accepts and discards (keeps only the arrival time per X-Bench-Id). */
export interface ArrivalSink {
  sink: Sink;
  /** X-Bench-Id → performance.now() at the end of DATA. */
  arrivals: Map<string, number>;
  close(): Promise<void>;
}

export async function startArrivalSink(): Promise<ArrivalSink> {
  const arrivals = new Map<string, number>();
  const sink = await startSink({
    dataReply: () => {
      // Called at the end of DATA, before the sink stores the message: take the time now,
      // read the id once the message is stored, then drop the stored bytes.
      const at = performance.now();
      queueMicrotask(() => {
        const msg = sink.messages.pop();
        if (!msg) return;
        const head = msg.raw.subarray(0, 2048).toString("latin1");
        const id = /^X-Bench-Id: (\S+)/m.exec(head)?.[1];
        if (id) arrivals.set(id, at);
      });
      return undefined;
    },
  });
  return { sink, arrivals, close: () => sink.close() };
}

export interface LoadOptions {
  target: { host: string; port: number };
  /** Prefix for the X-Bench-Id of this run. */
  runId: string;
  messages: number;
  concurrency: number;
  messageBytes: number;
  /** Give up on the run after this many milliseconds. */
  deadlineMs: number;
}

export interface LoadResult {
  /** performance.now() at submission start, per X-Bench-Id. */
  submitted: Map<string, number>;
  accepted: number;
  refused: number;
  startedAt: number;
  /** When the last client got its last 250. */
  submitEndedAt: number;
}

function connect(target: { host: string; port: number }): Promise<SMTPConnection> {
  const conn = new SMTPConnection({
    host: target.host,
    port: target.port,
    ignoreTLS: true,
    name: "bench.sealgate.test",
    connectionTimeout: 10_000,
    socketTimeout: 60_000,
  });
  return new Promise((resolve, reject) => {
    conn.once("error", reject);
    conn.connect((err) => (err ? reject(err) : resolve(conn)));
  });
}

function send(conn: SMTPConnection, raw: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    conn.send({ from: "bench@tenant.test", to: ["rcpt@remote.test"] }, raw, (err) =>
      err ? reject(err) : resolve(),
    );
  });
}

/** Sends `messages` messages over `concurrency` sessions; each session sends in sequence. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const submitted = new Map<string, number>();
  let next = 0;
  let accepted = 0;
  let refused = 0;
  const startedAt = performance.now();
  const deadline = startedAt + o.deadlineMs;
  const salt = randomBytes(3).toString("hex");

  const session = async () => {
    let conn = await connect(o.target);
    try {
      while (next < o.messages && performance.now() < deadline) {
        const id = `${o.runId}-${salt}-${next++}`;
        const raw = makeMessage(id, o.messageBytes);
        submitted.set(id, performance.now());
        try {
          await send(conn, raw);
          accepted++;
        } catch {
          refused++;
          submitted.delete(id);
          conn.close();
          conn = await connect(o.target);
        }
      }
    } finally {
      conn.quit();
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, session));
  return { submitted, accepted, refused, startedAt, submitEndedAt: performance.now() };
}

export interface RunFigures {
  sent: number;
  arrived: number;
  seconds: number;
  messagesPerSecond: number;
  /** Rate at which the server answered 250 (ingress alone). */
  acceptedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Waits for the sink to see every accepted message (or the deadline), then computes figures. */
export async function collect(
  load: LoadResult,
  sink: ArrivalSink,
  deadlineMs: number,
): Promise<RunFigures> {
  const until = performance.now() + deadlineMs;
  const ids = [...load.submitted.keys()];
  while (ids.some((id) => !sink.arrivals.has(id)) && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const latencies: number[] = [];
  let last = load.startedAt;
  for (const id of ids) {
    const at = sink.arrivals.get(id);
    const from = load.submitted.get(id);
    if (at === undefined || from === undefined) continue;
    latencies.push(at - from);
    last = Math.max(last, at);
  }
  latencies.sort((a, b) => a - b);
  const pick = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const seconds = (last - load.startedAt) / 1000;
  return {
    sent: load.accepted,
    arrived: latencies.length,
    seconds,
    messagesPerSecond: latencies.length / seconds,
    acceptedPerSecond: load.accepted / ((load.submitEndedAt - load.startedAt) / 1000),
    p50Ms: pick(0.5),
    p99Ms: pick(0.99),
  };
}
