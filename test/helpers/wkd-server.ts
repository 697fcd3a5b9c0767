import { createHash } from "node:crypto";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { issueCert, type TestCa } from "./pki.js";

/** What one path answers. */
export interface Route {
  status?: number;
  body?: Uint8Array | string;
  /** Wait this long before answering (to exercise timeouts). */
  delayMs?: number;
}

/**
 * An HTTPS server on 127.0.0.1 with a certificate from the test CA for the given host names.
 * `routes` maps path (with query) to an answer; anything else is 404. `requests` records the
 * paths asked for and the Host header they came with.
 */
export class HttpsFixture {
  readonly routes = new Map<string, Route>();
  readonly requests: { host: string; path: string }[] = [];
  readonly #server: https.Server;

  private constructor(server: https.Server) {
    this.#server = server;
  }

  static async start(ca: TestCa, names: string[]): Promise<HttpsFixture> {
    const cert = issueCert(ca, { names, extendedKeyUsage: "serverAuth" });
    const server = https.createServer({ cert: cert.certPem, key: cert.keyPem });
    const fixture = new HttpsFixture(server);
    server.on("request", (req, res) => {
      const path = req.url ?? "/";
      fixture.requests.push({ host: req.headers.host ?? "", path });
      const route = fixture.routes.get(path) ?? fixture.routes.get(path.split("?")[0] ?? "");
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(route?.status ?? (route ? 200 : 404), {
          "content-type": "application/octet-stream",
        });
        res.end(route?.body ?? "");
      };
      if (route?.delayMs) setTimeout(answer, route.delayMs).unref();
      else answer();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return fixture;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** A resolveHost that sends the given names to this server and says the rest do not exist. */
  resolver(names: string[]) {
    return async (hostname: string) =>
      names.includes(hostname) ? { address: "127.0.0.1", port: this.port } : null;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** The WKD hash of a local part, computed independently of the code under test. */
function hu(local: string): string {
  const alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";
  const digest = createHash("sha1").update(local.toLowerCase()).digest();
  let bits = "";
  for (const b of digest) bits += b.toString(2).padStart(8, "0");
  return bits
    .match(/.{5}/g)!
    .map((chunk) => alphabet[parseInt(chunk, 2)])
    .join("");
}

/** Publishes a binary key in a Web Key Directory layout, advanced or direct. */
export function publishWkd(
  fixture: HttpsFixture,
  address: string,
  key: Uint8Array,
  opts: { method: "advanced" | "direct"; delayMs?: number; status?: number },
): void {
  const [local = "", domain = ""] = address.split("@");
  const path =
    opts.method === "advanced"
      ? `/.well-known/openpgpkey/${domain}/hu/${hu(local)}`
      : `/.well-known/openpgpkey/hu/${hu(local)}`;
  const { delayMs, status } = opts;
  fixture.routes.set(path, {
    body: key,
    ...(delayMs !== undefined ? { delayMs } : {}),
    ...(status !== undefined ? { status } : {}),
  });
}
