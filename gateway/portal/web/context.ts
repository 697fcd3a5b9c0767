import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../../log.js";
import type { PortalService, SessionInfo } from "../service.js";
import type { Strings } from "./strings.js";

/**
 * What every portal page handler shares: options, the session behind the cookie, CSRF tokens.
 * CSRF uses two synchronizer tokens: the session's own (PortalService issues it with the
 * session) once signed in, and before that an HMAC of a random pre-session cookie under a
 * server key. Both cookies are HttpOnly and SameSite, so another site can neither read nor
 * forge the token a form must carry.
 */

export interface PortalWebConfig {
  /** Public base URL, e.g. https://portal.example.org; https here makes cookies Secure. */
  baseUrl: string;
  /** Organisation name shown on every page. */
  organisation: string;
  /** Logo image file (PNG, JPEG or SVG) shown in the header. Default: none. */
  logoFile?: string | undefined;
  /** Largest reply upload, all files together, in bytes. Default 25 MiB. */
  maxReplyBytes?: number | undefined;
  /** Code, password and reset POSTs allowed per client IP per minute. Default 20. */
  authRateLimit?: number | undefined;
}

export interface PortalWebOptions {
  service: PortalService;
  config: PortalWebConfig;
  logger: Logger;
  /** Key for pre-session CSRF tokens; nodes sharing one portal pass the same. Default random. */
  csrfKey?: Buffer | undefined;
  /** Translation; default English (strings.ts). */
  strings?: Strings | undefined;
}

export const SESSION_COOKIE = "sg_session";
export const PRE_COOKIE = "sg_pre";

export class PortalContext {
  readonly service: PortalService;
  readonly config: PortalWebConfig;
  readonly logger: Logger;
  readonly strings: Strings;
  readonly secureCookies: boolean;
  /** Route options that rate-limit a sign-in step (codes, passwords, passphrases) per client. */
  readonly limited: { config: { rateLimit: { max: number; timeWindow: string } } };
  readonly #csrfKey: Buffer;

  constructor(options: PortalWebOptions, strings: Strings) {
    this.service = options.service;
    this.config = options.config;
    this.logger = options.logger;
    this.strings = options.strings ?? strings;
    this.secureCookies = options.config.baseUrl.toLowerCase().startsWith("https:");
    this.#csrfKey = options.csrfKey ?? randomBytes(32);
    this.limited = {
      config: { rateLimit: { max: options.config.authRateLimit ?? 20, timeWindow: "1 minute" } },
    };
  }

  cookieOptions(maxAgeSeconds?: number) {
    return {
      path: "/",
      httpOnly: true,
      // Lax, not Strict: the notice link is a cross-site top-level GET and should find the
      // session; cross-site POSTs carry no cookie under Lax and need the CSRF token anyway.
      sameSite: "lax" as const,
      secure: this.secureCookies,
      ...(maxAgeSeconds !== undefined ? { maxAge: maxAgeSeconds } : {}),
    };
  }

  /** The signed-in session, or null. Looked up once per request. */
  async session(req: FastifyRequest): Promise<(SessionInfo & { id: string }) | null> {
    const cached = sessionCache.get(req);
    if (cached !== undefined) return cached;
    const id = req.cookies[SESSION_COOKIE];
    const info =
      id && /^[A-Za-z0-9_-]{16,200}$/.test(id) ? await this.service.getSession(id) : null;
    const result = info && id ? { ...info, id } : null;
    sessionCache.set(req, result);
    return result;
  }

  async startSession(reply: FastifyReply, address: string): Promise<void> {
    const s = await this.service.createSession(address);
    const maxAge = Math.max(1, Math.floor((s.expiresAt.getTime() - Date.now()) / 1000));
    reply.setCookie(SESSION_COOKIE, s.sessionId, this.cookieOptions(maxAge));
  }

  #preToken(pre: string): string {
    return createHmac("sha256", this.#csrfKey).update(`csrf:${pre}`).digest("base64url");
  }

  /** The token to put in this page's forms; sets the pre-session cookie when missing. */
  async csrfToken(req: FastifyRequest, reply: FastifyReply): Promise<string> {
    const session = await this.session(req);
    if (session) return session.csrfToken;
    let pre = req.cookies[PRE_COOKIE];
    if (!pre || !/^[A-Za-z0-9_-]{32,64}$/.test(pre)) {
      pre = randomBytes(24).toString("base64url");
      reply.setCookie(PRE_COOKIE, pre, { ...this.cookieOptions(), sameSite: "strict" });
    }
    return this.#preToken(pre);
  }

  /** Whether a POST carries a token that matches its session or its pre-session cookie. */
  async csrfValid(req: FastifyRequest, token: unknown): Promise<boolean> {
    if (typeof token !== "string" || token.length === 0) return false;
    const session = await this.session(req);
    if (session && same(token, session.csrfToken)) return true;
    const pre = req.cookies[PRE_COOKIE];
    return Boolean(pre) && same(token, this.#preToken(pre ?? ""));
  }
}

const sessionCache = new WeakMap<FastifyRequest, (SessionInfo & { id: string }) | null>();

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Form fields from a urlencoded body, as strings only (arrays and objects are refused). */
export function formFields(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (body && typeof body === "object") {
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      if (typeof v === "string") out[k] = v;
    }
  }
  return out;
}
