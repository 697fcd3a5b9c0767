import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import cookie from "@fastify/cookie";
import formbody from "@fastify/formbody";
import helmet from "@fastify/helmet";
import multipart from "@fastify/multipart";
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance } from "fastify";
import { PortalContext, type PortalWebOptions } from "./context.js";
import { page, notice, STYLESHEET } from "./layout.js";
import { problem, registerAuthPages, sendPage } from "./pages-auth.js";
import { registerMailPages } from "./pages-mail.js";
import { en } from "./strings.js";

export type { PortalWebConfig, PortalWebOptions } from "./context.js";
export { en as englishStrings, type Strings } from "./strings.js";

/**
 * The recipient portal's pages on the gateway's HTTP listener: `/m/<token>` from the notice,
 * and everything else under `/portal/`. Server-rendered, no scripts; every response carries
 * the security headers below, every form a CSRF token, every sign-in step a rate limit.
 */

const LOGO_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".svg": "image/svg+xml",
};

const DEFAULT_MAX_REPLY = 25 * 1024 * 1024;

/**
 * The pages' Content-Security-Policy: only our stylesheet and images, our own frame (the
 * message body, which sends a stricter policy of its own), forms posting back to us, and no
 * script at all. `frame-ancestors 'self'` keeps other sites from framing the portal.
 */
const PAGE_CSP = {
  defaultSrc: ["'none'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  frameSrc: ["'self'"],
  formAction: ["'self'"],
  baseUri: ["'none'"],
  frameAncestors: ["'self'"],
  scriptSrc: ["'none'"],
  objectSrc: ["'none'"],
  upgradeInsecureRequests: null,
};

/**
 * The security headers of every response of the HTTP listener (pages, assets, /healthz, 404s,
 * errors): registered on the root instance, before any route, so nothing is served without
 * them. A JSON answer is not affected by a page policy; a route that needs a stricter one
 * (the message frame, downloads) sets its own.
 */
export function registerSecurityHeaders(app: FastifyInstance, options: { https: boolean }): void {
  void app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: PAGE_CSP },
    // HSTS only means something over HTTPS; on plain loopback HTTP it would be ignored.
    strictTransportSecurity: options.https ? { maxAge: 31_536_000 } : false,
    referrerPolicy: { policy: "no-referrer" },
    crossOriginEmbedderPolicy: false,
  });
  app.addHook("onSend", async (_req, reply) => {
    reply.header("Cache-Control", "no-store");
    reply.header(
      "Permissions-Policy",
      "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    );
  });
}

async function portalPlugin(app: FastifyInstance, options: PortalWebOptions): Promise<void> {
  const ctx = new PortalContext({ ...options, csrfKey: options.csrfKey ?? randomBytes(32) }, en);
  const s = ctx.strings;
  const maxReply = options.config.maxReplyBytes ?? DEFAULT_MAX_REPLY;

  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  await app.register(multipart, {
    limits: { fileSize: maxReply, files: 20, fields: 10, fieldSize: 1024 * 1024 },
  });
  // Limits only where a route asks (sign-in, codes, passwords), per client address.
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: () => ({ statusCode: 429, tooMany: true }),
  });

  app.setErrorHandler(async (error, req, reply) => {
    const err = error as { statusCode?: number; tooMany?: boolean; code?: unknown; name?: string };
    if (err.statusCode === 429 || err.tooMany) {
      return problem(ctx, req, reply, 429, s.tooManyTitle, s.tooManyText);
    }
    const ref = randomBytes(4).toString("hex");
    const code = err.code;
    ctx.logger.error(
      {
        event: "portal:error",
        ref,
        err: { name: err.name ?? "Error", code: typeof code === "string" ? code : null },
      },
      "portal page failed",
    );
    const status = err.statusCode ?? 500;
    const body = notice("error", s.errorText(ref));
    return sendPage(
      reply,
      status >= 400 && status < 500 ? status : 500,
      page(ctx, { title: s.errorTitle, body }),
    );
  });

  app.get("/portal/assets/style.css", async (_req, reply) =>
    reply.type("text/css; charset=utf-8").header("Cache-Control", "max-age=3600").send(STYLESHEET),
  );
  const logoFile = options.config.logoFile;
  const logo = logoFile ? readFileSync(logoFile) : null;
  app.get("/portal/assets/logo", async (_req, reply) => {
    if (!logo || !logoFile) return reply.code(404).send("");
    const type = LOGO_TYPES[path.extname(logoFile).toLowerCase()] ?? "application/octet-stream";
    return reply.type(type).send(logo);
  });

  // Someone typing the portal's host name finds the sign-in page.
  app.get("/", async (_req, reply) => reply.redirect("/portal", 303));
  registerAuthPages(app, ctx);
  registerMailPages(app, ctx);

  app.get("/portal/*", async (req, reply) =>
    problem(ctx, req, reply, 404, s.notFoundTitle, s.notFoundText),
  );
}

/**
 * Registers the portal on a Fastify instance (the gateway's HTTP listener). It stays in its
 * own encapsulated context, so its parsers and limits do not touch the other routes; the
 * security headers come from the root (registerSecurityHeaders).
 */
export function registerPortal(app: FastifyInstance, options: PortalWebOptions): void {
  void app.register(portalPlugin, options);
}
