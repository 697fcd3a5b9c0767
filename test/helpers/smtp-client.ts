import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import type { Test } from "tap";
import { configSchema, type Config } from "../../gateway/config/index.js";
import { createLogger } from "../../gateway/log.js";
import { createIngress, ensureTlsMaterial } from "../../gateway/smtp/index.js";
import { SqliteStore, type Store } from "../../gateway/store/index.js";

/** One SMTP reply: the code, and the text of each line without the code. */
export interface Reply {
  code: number;
  lines: string[];
  /** All lines joined with "\n", e.g. for t.match. */
  text: string;
}

export interface RawClientOptions {
  host?: string;
  port: number;
  /** Bind the client side to this local address. */
  localAddress?: string;
  /** Milliseconds a read() waits before it fails. Default 5000. */
  timeoutMs?: number;
}

/**
 * A tiny SMTP client over a raw socket, for tests that must send exact bytes (smuggling
 * vectors, pipelined plaintext before STARTTLS). It never rewrites what it is given.
 */
export class RawSmtpClient {
  #socket: net.Socket;
  #buffer = "";
  #replies: Reply[] = [];
  #waiters: Array<(r: Reply | null) => void> = [];
  #closed = false;
  #timeoutMs: number;
  /** Resolves when the server closed the connection. */
  readonly closed: Promise<void>;
  #onClosed: () => void = () => undefined;

  private constructor(socket: net.Socket, timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.closed = new Promise((resolve) => (this.#onClosed = resolve));
    this.#socket = socket;
    this.#attach(socket);
  }

  static async connect(options: RawClientOptions): Promise<RawSmtpClient> {
    const socket = net.connect({
      host: options.host ?? "127.0.0.1",
      port: options.port,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new RawSmtpClient(socket, options.timeoutMs ?? 5000);
  }

  #attach(socket: net.Socket): void {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.#onData(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      if (socket !== this.#socket) return;
      this.#closed = true;
      for (const w of this.#waiters.splice(0)) w(null);
      this.#onClosed();
    });
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let lines: string[] = [];
    for (;;) {
      const eol = this.#buffer.indexOf("\r\n");
      if (eol < 0) break;
      const line = this.#buffer.slice(0, eol);
      this.#buffer = this.#buffer.slice(eol + 2);
      lines.push(line);
      if (line[3] !== "-") {
        const reply = {
          code: Number(line.slice(0, 3)),
          lines: lines.map((l) => l.slice(4)),
          text: lines.map((l) => l.slice(4)).join("\n"),
        };
        lines = [];
        const waiter = this.#waiters.shift();
        if (waiter) waiter(reply);
        else this.#replies.push(reply);
      }
    }
    // keep a partial multi-line reply for the next chunk
    if (lines.length > 0) this.#buffer = lines.map((l) => `${l}\r\n`).join("") + this.#buffer;
  }

  /** The next reply; fails after the timeout, or if the server closed without one. */
  read(timeoutMs = this.#timeoutMs): Promise<Reply> {
    const ready = this.#replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#closed) return Promise.reject(new Error("connection closed, no reply"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: Reply | null) => {
        clearTimeout(timer);
        if (r) resolve(r);
        else reject(new Error("connection closed, no reply"));
      };
      this.#waiters.push(waiter);
    });
  }

  /** Resolves true if no reply arrives within the time (and none is waiting). */
  async silentFor(ms: number): Promise<boolean> {
    if (this.#replies.length > 0) return false;
    try {
      await this.read(ms);
      return false;
    } catch {
      return true;
    }
  }

  /** Writes the bytes exactly as given; a string is sent as UTF-8. */
  write(bytes: string | Buffer): void {
    this.#socket.write(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes);
  }

  /** Writes one command line (CRLF added) and reads its reply. */
  async command(line: string): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  /**
   * Upgrades the connection after the server's 220 to STARTTLS. Whatever the server still
   * sends in plaintext before the handshake is left unread on purpose.
   */
  async startTls(options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
    const plain = this.#socket;
    plain.removeAllListeners("data");
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false, ...options });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    this.#socket = secure;
    this.#buffer = "";
    this.#attach(secure);
    return secure;
  }

  /** Closes the client side and waits for the socket to go. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#socket.end();
      this.#socket.destroy();
    }
    await this.closed;
  }
}

// ---------------------------------------------------------------------------------------
// A real ingress on 127.0.0.1 port 0 with a real SQLite store in a temp folder.

export interface TestIngressOptions {
  /** Raw config input merged over the test defaults (validated by the real schema). */
  config?: Record<string, unknown>;
  smtp?: Record<string, unknown>;
  loopSecret?: string;
  /** Wrap the real store, e.g. to make enqueue fail. */
  wrapStore?: (store: Store) => Store;
}

export interface TestIngress {
  port: number;
  host: string;
  config: Config;
  store: SqliteStore;
  tls: { key: string; cert: string };
  /** Queue ids passed to onQueued. */
  queued: string[];
  /** Every log record written, parsed. */
  logs: Record<string, unknown>[];
  /** Messages waiting in the store. */
  count(): Promise<number>;
  connect(options?: Partial<RawClientOptions>): Promise<RawSmtpClient>;
}

export async function startTestIngress(
  t: Test,
  options: TestIngressOptions = {},
): Promise<TestIngress> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "sealgate-smtp-"));
  const config = configSchema.parse({
    dataDir,
    ...options.config,
    smtp: { listen: "127.0.0.1:0", hostname: "sealgate.test", ...options.smtp },
  });
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: "debug",
    destination: { write: (line: string) => void logs.push(JSON.parse(line)) },
  });
  const store = new SqliteStore({ dataDir });
  const tlsMaterial = await ensureTlsMaterial(config, logger);
  const queued: string[] = [];
  const ingress = createIngress({
    config,
    store: options.wrapStore ? options.wrapStore(store) : store,
    logger,
    tls: tlsMaterial,
    onQueued: (id) => queued.push(id),
    loopSecret: options.loopSecret,
  });
  const { host, port } = await ingress.listen();
  const clients: RawSmtpClient[] = [];
  t.teardown(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await ingress.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    host,
    port,
    config,
    store,
    tls: tlsMaterial,
    queued,
    logs,
    count: async () => (await store.stats()).received,
    connect: async (o = {}) => {
      const client = await RawSmtpClient.connect({ host, port, ...o });
      clients.push(client);
      return client;
    },
  };
}

/** Sends EHLO and returns its reply. */
export async function ehlo(client: RawSmtpClient, name = "client.test"): Promise<Reply> {
  return client.command(`EHLO ${name}`);
}
