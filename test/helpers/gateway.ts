import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Test } from "tap";
import { stringify } from "yaml";
import { startGateway, type Gateway } from "../../gateway/app.js";
import { loadConfig, type Config } from "../../gateway/config/index.js";
import type { EventName } from "../../gateway/events.js";
import { createLogger } from "../../gateway/log.js";
import type { StoredEvent, Store } from "../../gateway/store/index.js";

/** Starts sealgate for tests: in this process, or as a child process running the real CLI. */

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Raw configuration as it would appear in the YAML file (nested plain objects). */
export type RawConfig = Record<string, unknown>;

export interface GatewayFiles {
  /** The YAML file written for this gateway. */
  file: string;
  dataDir: string;
  config: Config;
}

/**
 * Writes a config file into a fresh temp folder. Listeners default to port 0 on loopback,
 * the loop secret is fixed and everything else is the schema's default unless `raw` says.
 */
export function writeGatewayConfig(raw: RawConfig = {}): GatewayFiles {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-gw-"));
  const dataDir = path.join(dir, "data");
  const doc: RawConfig = {
    dataDir,
    httpListen: "127.0.0.1:0",
    logLevel: "info",
    ...raw,
    smtp: { listen: "127.0.0.1:0", ...(raw.smtp as RawConfig | undefined) },
    loopGuard: {
      secret: "test-loop-secret-0123456789",
      ...(raw.loopGuard as RawConfig | undefined),
    },
  };
  const file = path.join(dir, "sealgate.yaml");
  writeFileSync(file, stringify(doc));
  return { file, dataDir, config: loadConfig(file).config };
}

export interface TestGateway extends Gateway {
  files: GatewayFiles;
  /** Log lines written so far (JSON), to show when a test fails. */
  logs(): string;
}

/** Starts sealgate in this process; stopped and its folder removed when the test ends. */
export async function startTestGateway(t: Test, raw: RawConfig = {}): Promise<TestGateway> {
  const files = writeGatewayConfig(raw);
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  const logger = createLogger({ level: files.config.logLevel, destination });
  const gw = await startGateway(files.config, { logger, nodeId: "test-node" });
  // A test may stop the gateway itself (to read the store from the CLI); stop only once.
  let stopping: Promise<void> | null = null;
  const stopOnce = gw.stop.bind(gw);
  const stop = () => (stopping ??= stopOnce());
  t.teardown(async () => {
    await stop();
    rmSync(path.dirname(files.file), { recursive: true, force: true });
  });
  return Object.assign(gw, { files, logs: () => lines.join(""), stop });
}

export interface ChildGateway {
  smtp: { host: string; port: number };
  process: ChildProcess;
  /** Everything the child wrote to stdout (JSON logs) and stderr. */
  output(): string;
  /** Sends a signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

/**
 * Runs `sealgate start --config FILE` as a child process (the CLI through tsx, as a developer
 * would) and resolves once it reports its SMTP address. Killed when the test ends.
 */
export async function startChildGateway(
  t: Pick<Test, "teardown">,
  files: GatewayFiles,
  opts: { timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<ChildGateway> {
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), "--import", "tsx", "cli/entry.ts", "start", "--config", files.file],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } },
  );
  children.add(child);
  let out = "";
  let banner = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
  child.stderr.on("data", (c: Buffer) => {
    out += c.toString("utf8");
    banner += c.toString("utf8");
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => children.delete(child));

  const kill = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  t.teardown(() => kill("SIGKILL"));

  const smtp = await new Promise<{ host: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`gateway did not start:\n${out}`)),
      opts.timeoutMs ?? 30_000,
    );
    const check = () => {
      const m = /^\s*SMTP\s+(\S+):(\d+)/m.exec(banner);
      if (m) {
        clearTimeout(timer);
        resolve({ host: m[1] ?? "127.0.0.1", port: Number(m[2]) });
      }
    };
    child.stderr.on("data", check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`gateway exited before it listened:\n${out}`));
    });
  });
  return { smtp, process: child, output: () => out, kill };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a `sealgate` sub-command through the real CLI entry point. */
export function runCli(args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "cli/entry.ts", ...args],
      { cwd: repoRoot, timeout: opts.timeoutMs ?? 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Polls `probe` until it returns a value other than undefined, or throws after the timeout. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

/** Waits until the message has an event of this name and returns all its events then. */
export function waitForEvent(
  store: Store,
  queueId: string,
  name: EventName,
  opts: { timeoutMs?: number } = {},
): Promise<StoredEvent[]> {
  return waitFor(
    `${name} on ${queueId}`,
    async () => {
      const events = await store.events(queueId);
      return events.some((e) => e.name === name) ? events : undefined;
    },
    opts,
  );
}
