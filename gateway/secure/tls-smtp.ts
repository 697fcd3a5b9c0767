import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";

/**
 * One MX host's TLS, checked the way a delivery with TLS required would see it: greeting,
 * EHLO, STARTTLS offered and accepted (RFC 3207), a handshake at the minimum version whose
 * certificate verifies for the MX host name, EHLO again, QUIT. No MAIL is ever sent.
 */

export type HostFailure =
  | "unreachable" // connection refused, reset, timed out
  | "smtp" // the host does not greet or answer EHLO as an SMTP server should
  | "no-starttls" // STARTTLS is not offered, or refused
  | "protocol" // only TLS older than the minimum is offered
  | "certificate" // the certificate does not verify for the host name
  | "handshake"; // the handshake failed otherwise

export type HostCheck =
  | { ok: true; host: string; address: string; tlsVersion: "TLSv1.2" | "TLSv1.3" }
  | { ok: false; host: string; address: string; failure: HostFailure; reason: string };

export interface HostCheckOptions {
  /** Address to dial. */
  address: string;
  port: number;
  heloName: string;
  /** Trusted roots: Node's plus delivery.tls.caFile. */
  ca: string[];
  minVersion: "TLSv1.2" | "TLSv1.3";
  /** Milliseconds for the whole exchange. */
  timeoutMs: number;
}

const CERT_CODES =
  /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY|DECRYPT)|ALTNAME|HOSTNAME|CHAIN|SIGNATURE_FAILURE/;
const VERSION_CODES = /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS|VERSION_TOO_LOW/;

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "ERROR";
}

/** A TLS error as a failure kind and a reason naming the host and the error code. */
function describeTlsError(err: unknown, host: string): { failure: HostFailure; reason: string } {
  const code = codeOf(err);
  if (CERT_CODES.test(code)) {
    return { failure: "certificate", reason: `certificate does not verify for ${host}: ${code}` };
  }
  if (VERSION_CODES.test(code)) {
    return { failure: "protocol", reason: `${host} offers only TLS older than 1.2: ${code}` };
  }
  return { failure: "handshake", reason: `TLS handshake with ${host} failed: ${code}` };
}

/** Reads SMTP replies (RFC 5321 §4.2: "NNN-" continues, "NNN " ends) from a socket. */
class ReplyReader {
  #buffer = "";
  #lines: string[] = [];
  #waiting: ((reply: { code: number; lines: string[] }) => void) | null = null;
  readonly #onData = (chunk: Buffer) => this.#push(chunk.toString("latin1"));

  constructor(readonly socket: Socket) {
    socket.on("data", this.#onData);
  }

  next(): Promise<{ code: number; lines: string[] }> {
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.#push("");
    });
  }

  detach(): void {
    this.socket.off("data", this.#onData);
  }

  #push(text: string): void {
    this.#buffer += text;
    if (this.#buffer.length > 64 * 1024) this.socket.destroy();
    let end: number;
    while (this.#waiting && (end = this.#buffer.indexOf("\n")) >= 0) {
      const line = this.#buffer.slice(0, end).replace(/\r$/, "");
      this.#buffer = this.#buffer.slice(end + 1);
      this.#lines.push(line);
      if (!/^\d{3}-/.test(line)) {
        const lines = this.#lines.splice(0);
        const resolve = this.#waiting;
        this.#waiting = null;
        resolve({ code: Number(/^(\d{3})/.exec(line)?.[1] ?? 0), lines });
      }
    }
  }
}

class Failed extends Error {
  constructor(
    readonly failure: HostFailure,
    readonly reason: string,
  ) {
    super(reason);
  }
}

function opened(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
}

function secured(socket: TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
}

/** Checks one address of one MX host. Never throws. */
export async function checkHostTls(host: string, o: HostCheckOptions): Promise<HostCheck> {
  const plain = tcpConnect({ host: o.address, port: o.port });
  let secure: TLSSocket | null = null;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    plain.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" }));
    secure?.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" }));
  }, o.timeoutMs);
  // Errors surface through the awaited steps; these keep late ones from being unhandled.
  plain.on("error", () => {});
  const closed = new Promise<never>((_, reject) => {
    plain.once("close", () => {
      const why = timedOut ? `${host} timed out` : `${host} closed the connection`;
      reject(new Failed("unreachable", why));
    });
  });
  closed.catch(() => {});
  const step = <T>(p: Promise<T>) => Promise.race([p, closed]);

  try {
    try {
      await opened(plain);
    } catch (err) {
      throw new Failed("unreachable", `${host} is not reachable: ${codeOf(err)}`);
    }
    const reader = new ReplyReader(plain);
    const greeting = await step(reader.next());
    if (greeting.code !== 220) throw new Failed("smtp", `${host} greets with ${greeting.code}`);
    plain.write(`EHLO ${o.heloName}\r\n`);
    const ehlo = await step(reader.next());
    if (ehlo.code !== 250) throw new Failed("smtp", `${host} answers EHLO with ${ehlo.code}`);
    const offered = ehlo.lines.slice(1).some((l) => /^250[ -]STARTTLS\s*$/i.test(l));
    if (!offered) throw new Failed("no-starttls", `no STARTTLS on ${host}`);
    plain.write("STARTTLS\r\n");
    const ready = await step(reader.next());
    if (ready.code !== 220) {
      throw new Failed("no-starttls", `${host} refuses STARTTLS with ${ready.code}`);
    }
    // Anything the server sent after its 220 stays behind in the plain reader: text from
    // before the handshake must not pass for protected replies (STARTTLS injection).
    reader.detach();

    secure = tlsConnect({
      socket: plain,
      servername: host,
      ca: o.ca,
      minVersion: o.minVersion,
      rejectUnauthorized: true,
    });
    secure.on("error", () => {});
    try {
      await secured(secure);
    } catch (err) {
      if (timedOut) throw new Failed("unreachable", `${host} timed out in the TLS handshake`);
      const { failure, reason } = describeTlsError(err, host);
      throw new Failed(failure, reason);
    }
    const version = secure.getProtocol();
    if (version !== "TLSv1.2" && version !== "TLSv1.3") {
      throw new Failed("protocol", `${host} negotiated ${version ?? "no TLS version"}`);
    }

    // RFC 3207 §4.2: the session starts over after the handshake; a polite EHLO and QUIT,
    // one at a time since PIPELINING was not negotiated, each waited for at most a second.
    const after = new ReplyReader(secure);
    const brief = () => new Promise<void>((r) => setTimeout(r, 1000).unref());
    secure.write(`EHLO ${o.heloName}\r\n`);
    await Promise.race([after.next(), brief()]);
    secure.write("QUIT\r\n");
    await Promise.race([after.next(), brief()]);
    return { ok: true, host, address: o.address, tlsVersion: version };
  } catch (err) {
    if (err instanceof Failed) {
      return { ok: false, host, address: o.address, failure: err.failure, reason: err.reason };
    }
    const reason = `${host}: ${codeOf(err)}`;
    return { ok: false, host, address: o.address, failure: "unreachable", reason };
  } finally {
    clearTimeout(timer);
    secure?.destroy();
    plain.destroy();
  }
}
