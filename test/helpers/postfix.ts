import { execFile, execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { Test } from "tap";
import { mainCf, masterCf, type PostfixOptions } from "./postfix-config.js";
import { requireTools } from "./tools.js";

export type { PostfixOptions } from "./postfix-config.js";

const run = promisify(execFile);

/**
 * A private Postfix instance for one test: its own config, queue and data folders in a temp
 * folder, smtpd on 127.0.0.1 and a free port, mail for `domain` stored in a Maildir under the
 * temp folder. The system's /etc/postfix is only read (postfix-files, dynamicmaps.cf); nothing
 * of it is changed. Postfix's master runs as root and drops to `mail_owner` (postfix), so the
 * test process must be root, as it is in .ci/run.
 */

export class PostfixError extends Error {
  override readonly name = "PostfixError";
  readonly code: "POSTFIX_START" | "POSTFIX_TIMEOUT" | "POSTFIX_COMMAND";

  constructor(code: PostfixError["code"], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Asks the kernel for a port that is free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const running = new Set<PostfixInstance>();

// A test that dies before its teardown must still not leave a master process behind.
process.once("exit", () => {
  for (const pf of running) pf.stopSync();
});

export class PostfixInstance {
  readonly dir: string;
  readonly configDir: string;
  readonly queueDir: string;
  readonly mailDir: string;
  readonly host = "127.0.0.1";
  readonly domain: string;
  #port = 0;

  private constructor(dir: string, domain: string) {
    this.dir = dir;
    this.domain = domain;
    this.configDir = path.join(dir, "etc");
    this.queueDir = path.join(dir, "queue");
    this.mailDir = path.join(dir, "mail", "inbox");
  }

  get port(): number {
    return this.#port;
  }

  /** Writes the config and starts the instance; retries once if the port was taken. */
  static async start(opts: PostfixOptions = {}): Promise<PostfixInstance> {
    const dir = mkdtempSync(path.join(tmpdir(), "sealgate-postfix-"));
    // Postfix daemons run as the postfix user and must traverse into the queue folder.
    chmodSync(dir, 0o755);
    const pf = new PostfixInstance(dir, opts.domain ?? "postfix.test");
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      pf.#port = opts.port ?? (await freePort());
      pf.#writeConfig(opts);
      try {
        await pf.#postfix("check");
        await pf.#postfix("start");
        running.add(pf);
        await pf.#waitListening(10_000);
        return pf;
      } catch (err) {
        lastError = err;
        pf.stopSync();
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw new PostfixError("POSTFIX_START", `postfix did not start: ${String(lastError)}`, {
      cause: lastError,
    });
  }

  #writeConfig(opts: PostfixOptions): void {
    const uid = Number(execFileSync("id", ["-u", "postfix"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postfix"]).toString().trim());
    mkdirSync(this.configDir, { recursive: true });
    // `postfix check` creates the queue's subfolders, but the folder itself must exist.
    mkdirSync(this.queueDir, { recursive: true });
    mkdirSync(path.join(this.dir, "mail"), { recursive: true });
    chownSync(path.join(this.dir, "mail"), uid, gid);

    const main = mainCf(opts, {
      dir: this.dir,
      queueDir: this.queueDir,
      domain: this.domain,
      uid,
      gid,
    });
    writeFileSync(path.join(this.configDir, "main.cf"), main);
    writeFileSync(path.join(this.configDir, "master.cf"), masterCf(this.#port));
  }

  async #postfix(...args: string[]): Promise<string> {
    try {
      const { stdout, stderr } = await run("postfix", ["-c", this.configDir, ...args], {
        timeout: 30_000,
      });
      return stdout + stderr;
    } catch (err) {
      const e = err as { stderr?: string };
      throw new PostfixError("POSTFIX_COMMAND", `postfix ${args.join(" ")}: ${e.stderr ?? ""}`, {
        cause: err,
      });
    }
  }

  async #waitListening(timeoutMs: number): Promise<void> {
    const { connect } = await import("node:net");
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect(this.#port, this.host, () => {
          s.destroy();
          resolve(true);
        });
        s.once("error", () => resolve(false));
      });
      if (ok) return;
      await sleep(100);
    }
    throw new PostfixError("POSTFIX_TIMEOUT", `smtpd not listening on ${this.#port}`);
  }

  /**
   * Rewrites main.cf with new options (same port) and reloads: new smtpd processes use the
   * new settings, e.g. a different certificate or recipient restrictions.
   */
  async reconfigure(opts: PostfixOptions): Promise<void> {
    this.#writeConfig(opts);
    await this.#postfix("reload");
    // Running daemons finish their current client and exit; give the master a moment.
    await sleep(500);
  }

  /** Stops the master but keeps the folder and queue, so `resume` brings it back as it was. */
  async pause(): Promise<void> {
    const pid = this.#masterPid();
    await this.#postfix("stop");
    if (pid) await waitExit(pid, 10_000);
    running.delete(this);
  }

  /**
   * Starts a paused instance again on the same port. `postfix start` has been seen to exit 1
   * with nothing on stderr right after a stop on a loaded machine (the old master's children
   * still going away); it is tried again, and a last failure carries Postfix's own log.
   */
  async resume(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#postfix("start");
        break;
      } catch (err) {
        // It may have started after all (and a second start would only say so).
        if (
          await this.#postfix("status").then(
            () => true,
            () => false,
          )
        )
          break;
        if (attempt >= 4) {
          throw new PostfixError("POSTFIX_COMMAND", `postfix start failed:\n${this.logTail(20)}`, {
            cause: err,
          });
        }
        await sleep(500 * attempt);
      }
    }
    running.add(this);
    await this.#waitListening(10_000);
  }

  /** Hands a message to Postfix the local way: sendmail(1) with this instance's config. */
  async sendmail(raw: Buffer | string, opts: { from: string; to: string[] }): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const child = execFile(
        "sendmail",
        ["-C", this.configDir, "-i", "-f", opts.from, "--", ...opts.to],
        { timeout: 30_000 },
        (err, _out, stderr) =>
          err
            ? reject(new PostfixError("POSTFIX_COMMAND", `sendmail: ${stderr}`, { cause: err }))
            : resolve(),
      );
      child.stdin?.end(raw);
    });
  }

  /** The delivered messages in the Maildir, oldest first, as raw bytes. */
  messages(): Buffer[] {
    const files: string[] = [];
    for (const sub of ["new", "cur"]) {
      const d = path.join(this.mailDir, sub);
      if (!existsSync(d)) continue;
      for (const f of readdirSync(d)) files.push(path.join(d, f));
    }
    // Maildir names start with the delivery time in seconds, then a unique part.
    files.sort();
    return files.map((f) => readFileSync(f));
  }

  /** Waits until the Maildir holds at least `count` messages and returns them. */
  async waitForMessages(count: number, timeoutMs = 20_000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const msgs = this.messages();
      if (msgs.length >= count) return msgs;
      if (Date.now() > deadline) {
        throw new PostfixError(
          "POSTFIX_TIMEOUT",
          `${msgs.length} of ${count} messages arrived; log tail:\n${this.logTail()}`,
        );
      }
      await sleep(100);
    }
  }

  /** Number of messages still in Postfix's queue (active, deferred, incoming, maildrop). */
  queued(): number {
    let n = 0;
    for (const q of ["maildrop", "incoming", "active", "deferred", "hold"]) {
      n += countFiles(path.join(this.queueDir, q));
    }
    return n;
  }

  /** Asks the queue manager to retry deferred mail now (postqueue -f). */
  async flush(): Promise<void> {
    await run("postqueue", ["-c", this.configDir, "-f"], { timeout: 10_000 });
  }

  /** The last lines of this instance's mail log, for failure messages. */
  logTail(lines = 30): string {
    const file = path.join(this.dir, "maillog");
    if (!existsSync(file)) return "(no log)";
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  }

  /** Stops the instance and waits for its master to exit. */
  async stop(opts: { keep?: boolean } = {}): Promise<void> {
    if (running.has(this)) {
      const pid = this.#masterPid();
      await this.#postfix("stop").catch(() => undefined);
      if (pid) await waitExit(pid, 10_000);
      running.delete(this);
    }
    if (!opts.keep) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous stop for process exit: SIGKILL on the master if it lingers. */
  stopSync(): void {
    const pid = this.#masterPid();
    try {
      execFileSync("postfix", ["-c", this.configDir, "stop"], { stdio: "ignore" });
    } catch {
      // Not running, or already stopping: the kill below settles it.
    }
    if (pid) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    running.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  #masterPid(): number | null {
    const file = path.join(this.queueDir, "pid", "master.pid");
    if (!existsSync(file)) return null;
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  }
}

/**
 * Like requireTools, for tests that start Postfix: the tools must be installed and the test
 * must run as root (Postfix's master starts as root and drops to the postfix user). Skips on
 * a developer's machine, fails under SEALGATE_REQUIRE_TOOLS=1.
 */
export function requirePostfix(t: Test, ...otherTools: string[]): boolean {
  if (!requireTools(t, "postfix", "postconf", ...otherTools)) return false;
  if (process.getuid?.() === 0) return true;
  const msg = "needs root to start a private Postfix instance (.ci/run runs as root)";
  if (process.env.SEALGATE_REQUIRE_TOOLS === "1") {
    t.fail(`${msg}; SEALGATE_REQUIRE_TOOLS=1 forbids skipping`);
  } else {
    t.comment(`skipped: ${msg}`);
    t.pass(`skipped: ${msg}`, { skip: msg });
  }
  return false;
}

/** Starts a Postfix instance for this test and stops it when the test ends, pass or fail. */
export async function startPostfix(t: Test, opts: PostfixOptions = {}): Promise<PostfixInstance> {
  const pf = await PostfixInstance.start(opts);
  t.teardown(() => pf.stop());
  return pf;
}

/** Splits a stored message at the first empty line into header block and body. */
export function splitMessage(raw: Buffer): { headers: string; body: Buffer } {
  const text = raw.toString("latin1");
  const m = /\r?\n\r?\n/.exec(text);
  if (!m) return { headers: text, body: Buffer.alloc(0) };
  return {
    headers: text.slice(0, m.index),
    body: raw.subarray(m.index + m[0].length),
  };
}

/** Maildir stores LF line ends; SMTP carries CRLF. Compare bodies in one form. */
export function toLf(buf: Buffer): Buffer {
  return Buffer.from(buf.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
}

function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    n += e.isDirectory() ? countFiles(path.join(dir, e.name)) : 1;
  }
  return n;
}

async function waitExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Exited between the last check and now.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
