import { TLSSocket, type ConnectionOptions } from "node:tls";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import { classifyReply } from "./classify.js";
import { DeliveryError } from "./errors.js";
import type { PreparedMessage } from "./prepare.js";
import type { AttemptResult, RecipientReply, TlsFacts } from "./result.js";

/** One SMTP transaction: connect, STARTTLS, (AUTH), MAIL, RCPT…, DATA, QUIT. */

export interface TlsSettings {
  /** Trusted roots: Node's plus delivery.tls.caFile. */
  ca: string[];
  minVersion: "TLSv1.2" | "TLSv1.3";
  /** Client certificate and key (the M365 inbound connector matches on its name). */
  cert?: string | undefined;
  key?: string | undefined;
}

export interface TransactionOptions {
  /** Address or name to dial. */
  host: string;
  port: number;
  /** Name the certificate must carry (MX host, smart host name); also sent as SNI. */
  servername: string;
  heloName: string;
  /**
   * required: STARTTLS with a certificate that verifies, or no transaction at all.
   * opportunistic: STARTTLS when offered, any certificate; clear text only when not offered.
   */
  tlsPolicy: "required" | "opportunistic";
  tls: TlsSettings;
  auth?: { user: string; pass: string } | undefined;
  timeoutMs: number;
  envelope: { from: string; to: string[] };
  message: PreparedMessage;
}

/** What a failed connect or send carries, beyond Error. */
interface SmtpError extends Error {
  code?: string;
  response?: string;
  command?: string;
  recipient?: string;
  rejectedErrors?: SmtpError[];
}

/** The parts of SMTPConnection's state we read; nodemailer keeps them unexported. */
interface ConnectionState {
  _supportedExtensions?: string[];
  _envelope?: { accepted?: string[]; rejectedErrors?: SmtpError[] } | false;
  _socket?: unknown;
}

/** An error raised during the transaction, with the TLS facts known when it happened. */
export class TransactionError extends Error {
  override readonly name = "TransactionError";
  readonly code = "SMTP_TRANSACTION";
  readonly tls: TlsFacts;

  constructor(cause: unknown, tls: TlsFacts) {
    super("SMTP transaction failed", { cause });
    this.tls = tls;
  }
}

function tlsFacts(conn: SMTPConnection, required: boolean): TlsFacts {
  const socket = (conn as unknown as ConnectionState)._socket;
  if (!(socket instanceof TLSSocket))
    return { used: false, version: null, verified: false, required };
  return {
    used: true,
    version: socket.getProtocol() ?? null,
    verified: socket.authorized,
    required,
  };
}

function connectionOptions(o: TransactionOptions): SMTPConnection.Options {
  const required = o.tlsPolicy === "required";
  const tls: ConnectionOptions = {
    servername: o.servername,
    ca: o.tls.ca,
    // Opportunistic TLS takes what the peer offers: old TLS beats clear text.
    minVersion: required ? o.tls.minVersion : "TLSv1",
    rejectUnauthorized: required,
  };
  if (o.tls.cert && o.tls.key) Object.assign(tls, { cert: o.tls.cert, key: o.tls.key });
  return {
    host: o.host,
    port: o.port,
    name: o.heloName,
    servername: o.servername,
    secure: false,
    requireTLS: required,
    // Clear text only when STARTTLS is not offered: a refused or failed STARTTLS is a fault.
    opportunisticTLS: false,
    tls,
    connectionTimeout: o.timeoutMs,
    greetingTimeout: o.timeoutMs,
    socketTimeout: Math.max(o.timeoutMs * 4, 60_000),
    logger: false,
  };
}

function connect(conn: SMTPConnection): Promise<void> {
  return new Promise((resolve, reject) => {
    conn.once("error", reject);
    conn.connect((err) => (err ? reject(err) : resolve()));
  });
}

function login(conn: SMTPConnection, auth: { user: string; pass: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    conn.login({ user: auth.user, pass: auth.pass }, (err) => (err ? reject(err) : resolve()));
  });
}

function send(
  conn: SMTPConnection,
  envelope: SMTPConnection.Envelope,
  bytes: Buffer,
): Promise<SMTPConnection.SentMessageInfo> {
  return new Promise((resolve, reject) => {
    conn.send(envelope, bytes, (err, info) => (err || !info ? reject(err) : resolve(info)));
  });
}

function rejected(address: string, reply: string): RecipientReply {
  const c = classifyReply(reply);
  if (c.action === "sent") return { address, kind: "accepted", reply };
  const kind = c.temporary ? "rejected-temporary" : "rejected-permanent";
  return { address, kind, reply, status: c.status, category: c.category };
}

function isAscii(value: string): boolean {
  return /^[\x20-\x7e]*$/.test(value);
}

/** Per-recipient answers of a send that failed after the envelope went out. */
function repliesFromSendError(err: SmtpError, conn: SMTPConnection, to: string[]) {
  const state = (conn as unknown as ConnectionState)._envelope || {};
  const own = new Map<string, string>();
  for (const e of err.rejectedErrors ?? state.rejectedErrors ?? []) {
    if (e.recipient && e.response) own.set(e.recipient, e.response);
  }
  const reply = err.response ?? "";
  return to.map((address) => rejected(address, own.get(address) ?? reply));
}

/**
 * Runs one transaction and returns the next hop's answer per recipient. Throws
 * TransactionError when no recipient got an answer (connection, TLS, greeting, AUTH) and
 * DeliveryError when these bytes cannot go to this hop (8BITMIME, SMTPUTF8).
 */
export async function sendTransaction(o: TransactionOptions): Promise<AttemptResult> {
  const required = o.tlsPolicy === "required";
  const conn = new SMTPConnection(connectionOptions(o));
  conn.on("error", () => {
    // Errors also reach the pending callback; this keeps a late one from being unhandled.
  });
  try {
    try {
      await connect(conn);
    } catch (err) {
      throw new TransactionError(err, tlsFacts(conn, required));
    }
    const tls = tlsFacts(conn, required);
    if (required && (!tls.used || !tls.verified)) {
      // nodemailer refuses this already; checked again because it must never happen.
      throw new DeliveryError("TLS_REQUIRED", `no verified TLS with ${o.servername}`);
    }

    const extensions = (conn as unknown as ConnectionState)._supportedExtensions ?? [];
    if (o.message.eightBit && !extensions.includes("8BITMIME")) {
      throw new DeliveryError("EIGHTBIT_UNSUPPORTED", `${o.servername} does not offer 8BITMIME`);
    }
    const utf8 = ![o.envelope.from, ...o.envelope.to].every(isAscii);
    if (utf8 && !extensions.includes("SMTPUTF8")) {
      throw new DeliveryError("SMTPUTF8_UNSUPPORTED", `${o.servername} does not offer SMTPUTF8`);
    }

    if (o.auth) {
      try {
        await login(conn, o.auth);
      } catch (err) {
        throw new TransactionError(err, tls);
      }
    }

    const envelope: SMTPConnection.Envelope = {
      from: o.envelope.from === "" ? false : o.envelope.from,
      to: o.envelope.to,
      size: o.message.bytes.length,
      use8BitMime: o.message.eightBit,
    };
    let recipients: RecipientReply[];
    try {
      const info = await send(conn, envelope, o.message.bytes);
      const own = new Map<string, string>();
      for (const e of (info.rejectedErrors ?? []) as SmtpError[]) {
        if (e.recipient && e.response) own.set(e.recipient, e.response);
      }
      recipients = o.envelope.to.map((address) =>
        info.accepted.includes(address)
          ? { address, kind: "accepted", reply: info.response }
          : rejected(address, own.get(address) ?? "450 4.0.0 recipient not accepted"),
      );
    } catch (err) {
      const e = err as SmtpError;
      const answered = typeof e.response === "string" && /^[45]\d\d/.test(e.response);
      if (!answered || (e.code !== "EENVELOPE" && e.code !== "EMESSAGE")) {
        throw new TransactionError(err, tls);
      }
      recipients = repliesFromSendError(e, conn, o.envelope.to);
    }
    conn.quit();
    // QUIT is a courtesy; a peer that never answers it must not keep the socket open.
    setTimeout(() => conn.close(), 2000).unref();
    return { kind: "replies", host: o.servername, recipients, tls };
  } catch (err) {
    conn.close();
    throw err;
  }
}
