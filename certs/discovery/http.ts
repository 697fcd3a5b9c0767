import http from "node:http";
import https from "node:https";
import { LookupError } from "./errors.js";

/** Where to connect for a host name; null when the name does not exist. */
export type ResolveHost = (
  hostname: string,
  port: number,
) => Promise<{ address: string; port: number } | null>;

export interface HttpOptions {
  /** Extra trusted CA certificates (PEM). Default: Node's bundled roots only. */
  ca?: string | string[] | undefined;
  /** Overrides DNS for lookups (tests point names at loopback). Default: the system resolver. */
  resolveHost?: ResolveHost | undefined;
  /** Largest answer accepted. Default 512 KiB. */
  maxBytes?: number;
}

export interface HttpAnswer {
  status: number;
  body: Buffer;
}

const MAX_BYTES = 512 * 1024;

/**
 * One GET, bounded in size and by `signal`. TLS verifies against the URL's host name even
 * when resolveHost sends the connection elsewhere. Redirects are not followed.
 */
export async function httpGet(
  url: URL,
  opts: HttpOptions & { signal: AbortSignal },
): Promise<HttpAnswer> {
  const secure = url.protocol === "https:";
  if (!secure && url.protocol !== "http:") {
    throw new LookupError("lookup-bad-url", `unsupported URL scheme ${url.protocol}`);
  }
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  let target = { address: url.hostname, port };
  if (opts.resolveHost) {
    let resolved;
    try {
      resolved = await untilAborted(opts.resolveHost(url.hostname, port), opts.signal);
    } catch (err) {
      throw classify(err, opts.signal);
    }
    if (resolved === null) throw new LookupError("lookup-no-host", "host name does not resolve");
    target = resolved;
  }
  opts.signal.throwIfAborted?.();
  return new Promise<HttpAnswer>((resolve, reject) => {
    const request = (secure ? https : http).request(
      {
        host: target.address,
        port: target.port,
        path: `${url.pathname}${url.search}`,
        method: "GET",
        headers: { host: url.host, accept: "application/octet-stream, */*" },
        servername: url.hostname,
        ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
        signal: opts.signal,
        agent: false,
      },
      (res) => {
        const max = opts.maxBytes ?? MAX_BYTES;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > max) {
            request.destroy(new LookupError("lookup-too-large", "answer larger than allowed"));
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on("error", (err) => reject(classify(err, opts.signal)));
      },
    );
    request.on("error", (err) => reject(classify(err, opts.signal)));
    request.end();
  });
}

function classify(err: unknown, signal: AbortSignal): LookupError {
  if (err instanceof LookupError) return err;
  if (signal.aborted) return new LookupError("lookup-timeout", "no answer in time", { cause: err });
  const code = (err as { code?: string }).code ?? "";
  if (code === "ENOTFOUND") {
    return new LookupError("lookup-no-host", "host name does not resolve", { cause: err });
  }
  // A name server that did not answer says nothing about the name: not "no such host", or a
  // WKD lookup would fall to the direct method and a stored key would count as withdrawn.
  if (code === "EAI_AGAIN") {
    return new LookupError("lookup-dns", "the name server gave no answer", { cause: err });
  }
  if (code.startsWith("ERR_TLS") || /CERT|SELF_SIGNED|UNABLE_TO/.test(code)) {
    return new LookupError("lookup-tls", "the server's certificate did not verify", { cause: err });
  }
  return new LookupError("lookup-connect", "connection failed", { cause: err });
}

/** Settles with `work`, or rejects as a timeout once `signal` aborts, whichever is first. */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new LookupError("lookup-timeout", "no answer in time"));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new LookupError("lookup-timeout", "no answer in time"));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
