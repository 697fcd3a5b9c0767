import { readFileSync } from "node:fs";
import Fastify, { type FastifyInstance } from "fastify";
import {
  registerPortal,
  registerSecurityHeaders,
  type PortalWebOptions,
} from "../portal/web/index.js";
import type { Store } from "../store/index.js";

/**
 * The HTTP listener: health and queue figures now; the admin API and the portal later.
 * No route returns message content.
 */
export interface HttpOptions {
  store: Store;
  /** Seconds the process has been serving, for /healthz. */
  startedAt: Date;
  /** The recipient portal's pages. Default: not served. */
  portal?: PortalWebOptions | undefined;
  /** PEM files for HTTPS (portal.tls). Default: plain HTTP. */
  tls?: { certFile: string; keyFile: string } | undefined;
  /** Proxies whose X-Forwarded-For is believed (portal.trustProxy). Default false. */
  trustProxy?: boolean | string[] | undefined;
}

export function createHttp(options: HttpOptions): FastifyInstance {
  const https = options.tls
    ? { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) }
    : null;
  // Behind a reverse proxy the client address would be the proxy's: rate limits would then
  // count every recipient together. trustProxy stays off until a proxy is configured.
  const base = { logger: false, trustProxy: options.trustProxy ?? false };
  const app = (https ? Fastify({ ...base, https }) : Fastify(base)) as FastifyInstance;

  // On the root, before any route: /healthz, 404s and errors carry them as the portal does.
  const httpsBase = options.portal?.config.baseUrl.toLowerCase().startsWith("https:") ?? false;
  registerSecurityHeaders(app, { https: Boolean(https) || httpsBase });

  app.get("/healthz", async () => {
    const queue = await options.store.stats();
    return {
      status: "ok",
      store: options.store.kind,
      uptimeSeconds: Math.round((Date.now() - options.startedAt.getTime()) / 1000),
      queue,
    };
  });

  if (options.portal) registerPortal(app, options.portal);
  return app;
}
