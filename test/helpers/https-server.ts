import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";

/**
 * An HTTPS server for tests: 127.0.0.1, port 0, with a given certificate, answering each path
 * from a table that the test may change while it runs (an MTA-STS policy, a WKD key). Every
 * request is recorded as "METHOD host path" so a test can count fetches.
 */

export interface HttpsAnswer {
  /** Default 200. */
  status?: number;
  /** Default text/plain. */
  contentType?: string;
  body?: string | Buffer;
  /** Extra response headers (e.g. Location for a redirect). */
  headers?: Record<string, string>;
}

export interface HttpsServer {
  host: "127.0.0.1";
  port: number;
  /** Answers by "HOST/path" or by "/path" for any host; anything else gets 404. */
  routes: Map<string, HttpsAnswer>;
  /** Requests as "GET mta-sts.example.test /.well-known/mta-sts.txt". */
  requests: string[];
  close(): Promise<void>;
}

export interface HttpsServerOptions {
  tls: { certPem: string; keyPem: string };
  routes?: Record<string, HttpsAnswer>;
}

export async function startHttpsServer(options: HttpsServerOptions): Promise<HttpsServer> {
  const routes = new Map(Object.entries(options.routes ?? {}));
  const requests: string[] = [];

  const server = createServer(
    { cert: options.tls.certPem, key: options.tls.keyPem },
    (req: IncomingMessage, res: ServerResponse) => {
      const host = (req.headers.host ?? "").replace(/:\d+$/, "");
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      requests.push(`${req.method ?? "GET"} ${host} ${path}`);
      const answer = routes.get(`${host}${path}`) ?? routes.get(path);
      if (!answer) {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
        return;
      }
      res.writeHead(answer.status ?? 200, {
        "content-type": answer.contentType ?? "text/plain",
        ...answer.headers,
      });
      res.end(answer.body ?? "");
    },
  );
  server.on("tlsClientError", () => {
    // A client that refuses our certificate is what some tests provoke.
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: "127.0.0.1",
    port,
    routes,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
