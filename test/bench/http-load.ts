import { fork, type ChildProcess } from "node:child_process";
import http from "node:http";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

/**
 * A loopback HTTP load generator for the benchmarks: C loops, each sending one GET after
 * another over a keep-alive agent for a number of seconds, reading every body to its end. It
 * runs in a child process of its own, so that the client's work does not share the event loop
 * of the server it measures (the gateway runs in the benchmark's process). Not a test.
 */

export interface LoadSpec {
  url: string;
  /** Request headers, e.g. a cookie. Default none. */
  headers?: Record<string, string> | undefined;
  seconds: number;
  /** Loops sending at the same time, each on its own kept-alive connection. */
  concurrency: number;
  /** The status a request must answer to count; anything else counts as a failure. */
  status: number;
}

export interface LoadRun {
  /** Requests answered with the expected status. */
  ok: number;
  failures: number;
  /** The first failure seen (status or error name), for the report. */
  firstFailure: string | null;
  /** From the first request to the end of the last one (requests in flight finish). */
  seconds: number;
  /** Milliseconds from sending a request to the end of its body, per counted request. */
  latenciesMs: number[];
}

export interface HttpLoad {
  run(spec: LoadSpec): Promise<LoadRun>;
  close(): Promise<void>;
}

type Answer = { id: number; run: LoadRun } | { id: number; error: string };

/** Starts the client process (this file, through tsx); one run at a time. */
export async function startHttpLoad(): Promise<HttpLoad> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--load-client"], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("error", reject);
    void exited.then(() => reject(new Error("the load client exited before it was ready")));
  });

  let next = 0;
  const waiting = new Map<number, { resolve(r: LoadRun): void; reject(e: Error): void }>();
  child.on("message", (m: Answer) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if ("run" in m) w?.resolve(m.run);
    else w?.reject(new Error(`load client: ${m.error}`));
  });
  void exited.then(() => {
    for (const w of waiting.values()) w.reject(new Error("the load client exited"));
  });

  return {
    run(spec) {
      const id = next++;
      return new Promise<LoadRun>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ id, spec });
      });
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

// ---- the client process -------------------------------------------------------------------

function get(agent: http.Agent, spec: LoadSpec): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get(spec.url, { agent, headers: spec.headers ?? {} }, (res) => {
      res.resume();
      res.once("end", () => resolve(res.statusCode ?? 0));
      res.once("error", (err) => resolve(err.name));
    });
    req.once("error", (err) => resolve((err as NodeJS.ErrnoException).code ?? err.name));
  });
}

/** One agent per concurrency, kept between runs so each run starts on warm connections. */
const agents = new Map<number, http.Agent>();

async function runLoad(spec: LoadSpec): Promise<LoadRun> {
  let agent = agents.get(spec.concurrency);
  if (!agent) {
    agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
    agents.set(spec.concurrency, agent);
  }
  const latenciesMs: number[] = [];
  let failures = 0;
  let firstFailure: string | null = null;
  const started = performance.now();
  const until = started + spec.seconds * 1000;

  const loop = async () => {
    while (performance.now() < until) {
      const sent = performance.now();
      const status = await get(agent, spec);
      if (status === spec.status) {
        latenciesMs.push(performance.now() - sent);
      } else {
        failures++;
        firstFailure ??= String(status);
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  return { ok: latenciesMs.length, failures, firstFailure, seconds, latenciesMs };
}

if (process.argv[2] === "--load-client" && process.send) {
  process.on("message", (m: { id: number; spec: LoadSpec }) => {
    runLoad(m.spec).then(
      (run) => process.send?.({ id: m.id, run }),
      (err: unknown) => process.send?.({ id: m.id, error: String(err) }),
    );
  });
  process.once("SIGTERM", () => process.exit(0));
  process.send({ ready: true });
}
