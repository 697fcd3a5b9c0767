import { execFile } from "node:child_process";

/** What swaks did: its exit status and the transcript it printed. */
export interface SwaksResult {
  /** 0 when every step was accepted; swaks uses 2x codes for the step that failed. */
  exitCode: number;
  transcript: string;
  /** The text of the server's last reply to the end of DATA, when it got that far. */
  dataReply: string | null;
  /** The queue id sealgate put in its 250 reply ("queued as ID"), when there was one. */
  queueId: string | null;
  /** The DATA portion swaks sent, CRLF line ends, as read back from its transcript. */
  sentData: string | null;
}

export interface SwaksOptions {
  server: { host: string; port: number };
  from: string;
  to: string[];
  /** Extra headers, e.g. { Subject: "hello" }. */
  headers?: Record<string, string>;
  body?: string;
  /** Files to attach (each becomes an application/octet-stream part named after the file). */
  attach?: string[];
  /** The whole DATA portion instead of a composed message. */
  data?: string;
  /** Issue STARTTLS; "required" makes swaks fail when the server does not offer it. */
  tls?: "required" | "optional";
  helo?: string;
  /** Abort after this many milliseconds. Default 30000. */
  timeoutMs?: number;
}

/** Runs the real swaks client. Never throws for an SMTP refusal: read exitCode instead. */
export async function swaks(opts: SwaksOptions): Promise<SwaksResult> {
  const args = [
    "--server",
    opts.server.host,
    "--port",
    String(opts.server.port),
    "--from",
    opts.from,
    "--to",
    opts.to.join(","),
    "--helo",
    opts.helo ?? "client.sealgate.test",
    "--timeout",
    "20",
  ];
  for (const [name, value] of Object.entries(opts.headers ?? {})) {
    args.push("--header", `${name}: ${value}`);
  }
  if (opts.body !== undefined) args.push("--body", opts.body);
  for (const file of opts.attach ?? []) args.push("--attach", `@${file}`);
  if (opts.data !== undefined) args.push("--data", opts.data);
  if (opts.tls === "required") args.push("--tls");
  if (opts.tls === "optional") args.push("--tls-optional");

  return new Promise((resolve) => {
    execFile(
      "swaks",
      args,
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const transcript = stdout + stderr;
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ exitCode: code, transcript, ...parseReplies(transcript) });
      },
    );
  });
}

type Parsed = Pick<SwaksResult, "dataReply" | "queueId" | "sentData">;

function parseReplies(transcript: string): Parsed {
  // swaks marks client lines "->" ("~>" inside TLS), server lines "<-" ("<~"), and failed
  // replies "<**" ("<~*"). DATA lines follow the 354 reply, up to the lone dot.
  const lines = transcript.split(/\r?\n/);
  const none: Parsed = { dataReply: null, queueId: null, sentData: null };
  const dotIdx = lines.findIndex((l) => /^ *[-~]> \.$/.test(l));
  if (dotIdx < 0) return none;
  const startIdx = lines.findIndex((l) => /^ *<[-~]\s+354/.test(l));
  const sentData =
    startIdx >= 0 && startIdx < dotIdx
      ? lines
          .slice(startIdx + 1, dotIdx)
          .map((l) => l.replace(/^ *[-~]> ?/, "").replace(/^\./, "") + "\r\n")
          .join("")
      : null;
  const reply = lines.slice(dotIdx + 1).find((l) => /^ *<[-~*]+\s+\d{3}/.test(l));
  if (!reply) return { ...none, sentData };
  const text = reply.replace(/^ *<[-~*]+\s+/, "");
  const id = /queued as ([A-Za-z0-9._-]+)/i.exec(text);
  return { dataReply: text, queueId: id?.[1] ?? null, sentData };
}
