import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { SMTPServer, type SMTPServerSession } from "smtp-server";

/**
 * A recipient MTA for tests: an smtp-server on 127.0.0.1, port 0, that offers STARTTLS with
 * a given certificate (or not at all), answers RCPT and DATA from a script, and records every
 * envelope with the exact bytes it received.
 */

export interface SinkOptions {
  /** Certificate for STARTTLS. Without it the sink does not offer STARTTLS. */
  tls?: { certPem: string; keyPem: string } | undefined;
  /** Ask the client for a certificate; its subject CN is recorded, not verified. */
  requestClientCert?: boolean;
  /** Leave 8BITMIME out of the EHLO answer. */
  no8BitMime?: boolean;
  /** Leave SMTPUTF8 out of the EHLO answer. */
  noSmtpUtf8?: boolean;
  /** Require SMTP AUTH (PLAIN or LOGIN) with these credentials before MAIL. */
  auth?: { user: string; pass: string } | undefined;
  /**
   * Reply to RCPT TO for an address on its n-th attempt (1-based), e.g. "451 4.7.1 later".
   * undefined accepts it.
   */
  rcptReply?: (address: string, attempt: number) => string | undefined;
  /** Reply to the final dot of the n-th message (1-based); undefined accepts it. */
  dataReply?: (attempt: number) => string | undefined;
  /** Wait this long before answering the final dot (a slow next hop). Default 0. */
  dataDelayMs?: number;
}

export interface ReceivedMessage {
  mailFrom: string;
  rcptTo: string[];
  /** The message bytes as received, dot-unstuffed. */
  raw: Buffer;
  /** BODY= parameter of MAIL FROM: "7bit" or "8bitmime". */
  bodyType: string;
  secure: boolean;
  /** TLS protocol of the session, e.g. "TLSv1.3". */
  tlsProtocol: string | null;
  /** Subject CN of the certificate the client presented, if any. */
  clientCertSubject: string | null;
  /** User that authenticated, if any. */
  user: string | null;
}

export interface Sink {
  host: "127.0.0.1";
  port: number;
  messages: ReceivedMessage[];
  /** RCPT TO attempts per address. */
  rcptAttempts: Map<string, number>;
  /** Sessions that connected, including those that failed before a message. */
  connections: number;
  /** Resolves once `count` messages have arrived. */
  waitForMessages(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function replyError(reply: string): Error & { responseCode: number } {
  const m = /^(\d{3})\s+(.*)$/.exec(reply);
  const err = new Error(m?.[2] ?? reply) as Error & { responseCode: number };
  err.responseCode = Number(m?.[1] ?? 550);
  return err;
}

interface SessionFacts {
  tlsProtocol: string | null;
  clientCertSubject: string | null;
}

export async function startSink(options: SinkOptions = {}): Promise<Sink> {
  const messages: ReceivedMessage[] = [];
  const rcptAttempts = new Map<string, number>();
  const facts = new Map<string, SessionFacts>();
  const waiters: (() => void)[] = [];
  let dataAttempts = 0;
  let connections = 0;

  const server = new SMTPServer({
    name: "sink.test",
    secure: false,
    ...(options.tls ? { key: options.tls.keyPem, cert: options.tls.certPem } : {}),
    disabledCommands: options.tls ? (options.auth ? [] : ["AUTH"]) : ["STARTTLS", "AUTH"],
    authOptional: !options.auth,
    allowInsecureAuth: false,
    hide8BITMIME: options.no8BitMime ?? false,
    hideSMTPUTF8: options.noSmtpUtf8 ?? false,
    hideENHANCEDSTATUSCODES: true,
    requestCert: options.requestClientCert ?? false,
    rejectUnauthorized: false,
    logger: false,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onSecure(socket, session, callback) {
      const tlsSocket = socket as TLSSocket;
      const cert = tlsSocket.getPeerCertificate();
      const cn = cert && typeof cert.subject?.CN === "string" ? cert.subject.CN : null;
      facts.set(session.id, { tlsProtocol: tlsSocket.getProtocol(), clientCertSubject: cn });
      callback();
    },
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user) {
        if (auth.password === options.auth.pass) return callback(null, { user: auth.username });
      }
      return callback(replyError("535 Authentication failed"));
    },
    onRcptTo(address, _session, callback) {
      const n = (rcptAttempts.get(address.address) ?? 0) + 1;
      rcptAttempts.set(address.address, n);
      const reply = options.rcptReply?.(address.address, n);
      if (reply && !reply.startsWith("2")) return callback(replyError(reply));
      callback();
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", async () => {
        if (options.dataDelayMs) await new Promise((r) => setTimeout(r, options.dataDelayMs));
        dataAttempts++;
        const reply = options.dataReply?.(dataAttempts);
        if (reply && !reply.startsWith("2")) return callback(replyError(reply));
        const f = facts.get(session.id);
        messages.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          bodyType: String((session.envelope as { bodyType?: string }).bodyType ?? "7bit"),
          secure: session.secure,
          tlsProtocol: f?.tlsProtocol ?? null,
          clientCertSubject: f?.clientCertSubject ?? null,
          user: typeof session.user === "string" ? session.user : null,
        });
        for (const w of waiters.splice(0)) w();
        callback(null, `queued as M${messages.length}`);
      });
    },
  });
  server.on("error", () => {
    // A client that drops mid-handshake is part of what these tests provoke.
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.server.address() as AddressInfo).port;

  return {
    host: "127.0.0.1",
    port,
    messages,
    rcptAttempts,
    get connections() {
      return connections;
    },
    async waitForMessages(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`sink: ${messages.length}/${count} messages`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100).unref();
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
