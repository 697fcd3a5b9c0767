import Fastify, { type FastifyInstance } from "fastify";
import type { Store } from "../store/index.js";

/**
 * The HTTP listener: health and queue figures now; the admin API and the portal later.
 * No route returns message content.
 */
export interface HttpOptions {
  store: Store;
  /** Seconds the process has been serving, for /healthz. */
  startedAt: Date;
}

export function createHttp(options: HttpOptions): FastifyInstance {
  const app = Fastify({ logger: false });

  app.addHook("onSend", async (_req, reply) => {
    reply.header("X-Content-Type-Options", "nosniff");
    reply.header("Cache-Control", "no-store");
  });

  app.get("/healthz", async () => {
    const queue = await options.store.stats();
    return {
      status: "ok",
      store: options.store.kind,
      uptimeSeconds: Math.round((Date.now() - options.startedAt.getTime()) / 1000),
      queue,
    };
  });

  return app;
}
