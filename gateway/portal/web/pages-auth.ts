import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { CodeCheck, CodeSend, PasswordCheck, TokenTarget } from "../service.js";
import { formFields, type PortalContext } from "./context.js";
import { field, form, html, type Safe } from "./html.js";
import { notice, page } from "./layout.js";

/**
 * Proving the address: the notice link's landing page, one-time codes, passwords, reset and
 * sign-out. Every answer about codes and passwords is the same whether the address has an
 * account, no account or a locked one, so these pages cannot be used to learn addresses.
 */

const TOKEN = /^[A-Za-z0-9_-]{16,200}$/;
const MIN_PASSWORD = 12;

export function sendPage(reply: FastifyReply, status: number, htmlText: string): FastifyReply {
  return reply.code(status).type("text/html; charset=utf-8").send(htmlText);
}

/** A page that only says what went wrong (expired, revoked, not found, refused). */
export async function problem(
  ctx: PortalContext,
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  title: string,
  text: string,
): Promise<FastifyReply> {
  const session = await ctx.session(req).catch(() => null);
  const csrf = session ? session.csrfToken : undefined;
  const back = session ? html`<p><a href="/portal/inbox">${ctx.strings.backToInbox}</a></p>` : "";
  const body = html`${notice("error", text)}${back}`;
  return sendPage(reply, status, page(ctx, { title, body, csrf, signedIn: Boolean(session) }));
}

/** Only paths inside the portal may be a "then" target, so no open redirect. */
export function safeThen(then: string | undefined): string {
  return then && /^\/portal\/messages\/[A-Za-z0-9_-]{1,100}$/.test(then) ? then : "/portal/inbox";
}

export function registerAuthPages(app: FastifyInstance, ctx: PortalContext): void {
  const s = ctx.strings;
  const limited = ctx.limited;

  async function target(req: FastifyRequest): Promise<TokenTarget | null> {
    const token = (req.params as { token?: string }).token ?? "";
    return TOKEN.test(token) ? ctx.service.resolveToken(token) : null;
  }

  async function csrfOk(req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    if (await ctx.csrfValid(req, formFields(req.body)._csrf)) return true;
    await problem(ctx, req, reply, 403, s.forbiddenTitle, s.forbiddenText);
    return false;
  }

  const notFound = (req: FastifyRequest, reply: FastifyReply) =>
    problem(ctx, req, reply, 404, s.notFoundTitle, s.notFoundText);

  async function landing(
    req: FastifyRequest,
    reply: FastifyReply,
    t: TokenTarget,
    error?: string,
  ): Promise<FastifyReply> {
    const token = (req.params as { token: string }).token;
    const csrf = await ctx.csrfToken(req, reply);
    const summary = (await ctx.service.inbox(t.address)).find((m) => m.portalId === t.portalId);
    // A withdrawn or expired message says so to whoever holds its link, and shows nothing.
    if (summary?.status === "revoked") {
      return problem(ctx, req, reply, 410, s.revokedTitle, s.revokedText);
    }
    if (summary?.status === "expired") {
      return problem(ctx, req, reply, 410, s.expiredTitle, s.expiredText);
    }
    const sender = summary?.senderName || summary?.senderAddress || ctx.config.organisation;
    const body = html` <p>${s.landingIntro(sender, ctx.config.organisation)}</p>
      <p>${s.landingWhy}</p>
      ${error ? notice("error", error) : ""}
      <div class="choices">
        <section class="choice" aria-labelledby="first">
          <h2 id="first">${s.landingFirstTime}</h2>
          <p>${s.landingCodeHelp}</p>
          ${form(`/m/${token}/code`, csrf, html`<button>${s.sendCodeButton}</button>`)}
        </section>
        <section class="choice" aria-labelledby="have">
          <h2 id="have">${s.landingHavePassword}</h2>
          ${form(
            `/m/${token}/sign-in`,
            csrf,
            html`${field({
                name: "password",
                label: s.passwordLabel,
                type: "password",
                autocomplete: "current-password",
              })}<button>${s.signInButton}</button>`,
          )}
        </section>
      </div>`;
    return sendPage(reply, error ? 400 : 200, page(ctx, { title: s.landingTitle, body }));
  }

  function codeForm(
    action: string,
    csrf: string,
    o: { error?: string | undefined; hidden?: Safe; intro?: string } = {},
  ): Safe {
    const { error, hidden } = o;
    return html` <p>${o.intro ?? s.codeSent}</p>
      <p class="muted">${s.codeCheckSpam}</p>
      ${error ? notice("error", error) : ""}
      ${form(
        action,
        csrf,
        html`${hidden ?? ""}${field({
            name: "code",
            label: s.codeLabel,
            autocomplete: "one-time-code",
            inputmode: "numeric",
          })}<button>${s.codeButton}</button>`,
      )}`;
  }

  app.get("/m/:token", async (req, reply) => {
    const t = await target(req);
    if (!t) return notFound(req, reply);
    const session = await ctx.session(req);
    if (session && session.address === t.address) {
      return reply.redirect(`/portal/messages/${t.portalId}`, 303);
    }
    return landing(req, reply, t);
  });

  /** Why no code was sent, for a visitor who already knows the address has mail here. */
  function unsent(sent: CodeSend): string | null {
    if (sent.kind === "locked") return s.codeLocked(s.dateText(sent.until));
    if (sent.kind === "throttled") return s.codeThrottled;
    return null;
  }

  app.post("/m/:token/code", limited, async (req, reply) => {
    if (!(await csrfOk(req, reply))) return reply;
    const t = await target(req);
    if (!t) return notFound(req, reply);
    const token = (req.params as { token: string }).token;
    const status = await ctx.service.accountStatus(t.address);
    const sent = await ctx.service.sendCode(t.address, status === "new" ? "register" : "reset");
    // The link already tells its holder that the address has mail here, so the page may say
    // plainly why no code came instead of claiming one was mailed.
    const why = unsent(sent);
    if (why === null) return reply.redirect(`/m/${token}/code`, 303);
    const csrf = await ctx.csrfToken(req, reply);
    const body = codeForm(`/m/${token}/code/verify`, csrf, { intro: why });
    return sendPage(reply, 429, page(ctx, { title: s.codeTitle, body }));
  });

  app.get("/m/:token/code", async (req, reply) => {
    const t = await target(req);
    if (!t) return notFound(req, reply);
    const token = (req.params as { token: string }).token;
    const csrf = await ctx.csrfToken(req, reply);
    const body = html`${codeForm(`/m/${token}/code/verify`, csrf)}
    ${form(`/m/${token}/code`, csrf, html`<button class="link">${s.codeResend}</button>`)}`;
    return sendPage(reply, 200, page(ctx, { title: s.codeTitle, body }));
  });

  async function afterCode(
    reply: FastifyReply,
    address: string,
    check: CodeCheck,
    then: string,
  ): Promise<boolean> {
    if (check.kind !== "ok") return false;
    await ctx.startSession(reply, address);
    // Not `return reply.redirect(…)`: a reply is a thenable, so awaiting it from an async
    // function yields undefined and the caller would answer a second time.
    reply.redirect(`/portal/password?then=${encodeURIComponent(then)}`, 303);
    return true;
  }

  app.post("/m/:token/code/verify", limited, async (req, reply) => {
    if (!(await csrfOk(req, reply))) return reply;
    const t = await target(req);
    if (!t) return notFound(req, reply);
    const code = (formFields(req.body).code ?? "").replace(/\s+/g, "");
    const check = await ctx.service.verifyCode(t.address, code);
    if (await afterCode(reply, t.address, check, `/portal/messages/${t.portalId}`)) return reply;
    ctx.logger.info({ event: "portal:code-refused", portalId: t.portalId }, "code refused");
    const token = (req.params as { token: string }).token;
    const csrf = await ctx.csrfToken(req, reply);
    const error = check.kind === "locked" ? s.codeLocked(s.dateText(check.until)) : s.codeWrong;
    const body = codeForm(`/m/${token}/code/verify`, csrf, { error });
    return sendPage(reply, 400, page(ctx, { title: s.codeTitle, body }));
  });

  app.post("/m/:token/sign-in", limited, async (req, reply) => {
    if (!(await csrfOk(req, reply))) return reply;
    const t = await target(req);
    if (!t) return notFound(req, reply);
    const check = await ctx.service.verifyPassword(t.address, formFields(req.body).password ?? "");
    if (check.kind === "ok") {
      await ctx.startSession(reply, t.address);
      return reply.redirect(`/portal/messages/${t.portalId}`, 303);
    }
    return landing(req, reply, t, s.signInFailed);
  });

  async function passwordPage(
    req: FastifyRequest,
    reply: FastifyReply,
    then: string,
    error?: string,
  ): Promise<FastifyReply> {
    const session = await ctx.session(req);
    if (!session) return problem(ctx, req, reply, 401, s.signInNeededTitle, s.signInNeededText);
    const hidden = html`<input type="hidden" name="then" value="${then}" />`;
    const body = html`<p>${s.setPasswordIntro}</p>
      ${error ? notice("error", error) : ""}
      ${form(
        "/portal/password",
        session.csrfToken,
        html`${hidden}
          <input
            type="text"
            name="username"
            autocomplete="username"
            value="${session.address}"
            hidden
            readonly
          />
          ${field({
            name: "password",
            label: s.newPasswordLabel,
            type: "password",
            autocomplete: "new-password",
            hint: s.newPasswordHint,
          })}
          ${field({
            name: "confirm",
            label: s.confirmPasswordLabel,
            type: "password",
            autocomplete: "new-password",
          })}
          <button>${s.setPasswordButton}</button>`,
      )}`;
    const title = s.setPasswordTitle;
    const html_ = page(ctx, { title, body, csrf: session.csrfToken, signedIn: true });
    return sendPage(reply, error ? 400 : 200, html_);
  }

  app.get("/portal/password", async (req, reply) => {
    return passwordPage(req, reply, safeThen((req.query as { then?: string }).then));
  });

  app.post("/portal/password", limited, async (req, reply) => {
    if (!(await csrfOk(req, reply))) return reply;
    const session = await ctx.session(req);
    if (!session) return problem(ctx, req, reply, 401, s.signInNeededTitle, s.signInNeededText);
    const f = formFields(req.body);
    const then = safeThen(f.then);
    const password = f.password ?? "";
    if ([...password].length < MIN_PASSWORD) {
      return passwordPage(req, reply, then, s.passwordTooShort);
    }
    if (password !== f.confirm) return passwordPage(req, reply, then, s.passwordsDiffer);
    try {
      await ctx.service.setPassword(session.address, password, { keepSession: session.id });
    } catch (err) {
      ctx.logger.warn({ event: "portal:password-refused", err: errCode(err) }, "password refused");
      return problem(ctx, req, reply, 403, s.forbiddenTitle, s.forbiddenText);
    }
    return reply.redirect(then, 303);
  });

  registerSignIn(app, ctx, { limited, csrfOk, codeForm, afterCode });
}

function errCode(err: unknown): string {
  return err && typeof err === "object" && "code" in err ? String(err.code) : "error";
}

interface SignInHelpers {
  limited: object;
  csrfOk(req: FastifyRequest, reply: FastifyReply): Promise<boolean>;
  codeForm(
    action: string,
    csrf: string,
    o?: { error?: string | undefined; hidden?: Safe; intro?: string },
  ): Safe;
  afterCode(reply: FastifyReply, address: string, check: CodeCheck, then: string): Promise<boolean>;
}

/** Sign-in by address and password, reset by code, and sign-out: no link token needed. */
function registerSignIn(app: FastifyInstance, ctx: PortalContext, h: SignInHelpers): void {
  const s = ctx.strings;

  async function signInPage(req: FastifyRequest, reply: FastifyReply, error?: string) {
    const csrf = await ctx.csrfToken(req, reply);
    const body = html`${error ? notice("error", error) : ""}
    ${form(
      "/portal/sign-in",
      csrf,
      html`${field({ name: "address", label: s.emailLabel, type: "email", autocomplete: "email" })}
        ${field({
          name: "password",
          label: s.passwordLabel,
          type: "password",
          autocomplete: "current-password",
        })}
        <div class="actions">
          <button>${s.signInButton}</button> <a href="/portal/reset">${s.forgotPassword}</a>
        </div>`,
    )}`;
    return sendPage(reply, error ? 400 : 200, page(ctx, { title: s.signInTitle, body }));
  }

  app.get("/portal", async (req, reply) =>
    reply.redirect((await ctx.session(req)) ? "/portal/inbox" : "/portal/sign-in", 303),
  );
  app.get("/portal/sign-in", async (req, reply) => signInPage(req, reply));

  app.post("/portal/sign-in", h.limited, async (req, reply) => {
    if (!(await h.csrfOk(req, reply))) return reply;
    const f = formFields(req.body);
    const address = normalise(f.address);
    const check: PasswordCheck = address
      ? await ctx.service.verifyPassword(address, f.password ?? "")
      : { kind: "no-account" };
    if (check.kind !== "ok") return signInPage(req, reply, s.signInFailed);
    await ctx.startSession(reply, address);
    return reply.redirect("/portal/inbox", 303);
  });

  app.get("/portal/reset", async (req, reply) => {
    const csrf = await ctx.csrfToken(req, reply);
    const body = html`<p>${s.resetIntro}</p>
      ${form(
        "/portal/reset",
        csrf,
        html`${field({ name: "address", label: s.emailLabel, type: "email", autocomplete: "email" })}
          <button>${s.resetButton}</button>`,
      )}`;
    return sendPage(reply, 200, page(ctx, { title: s.resetTitle, body }));
  });

  function resetCodePage(req: FastifyRequest, reply: FastifyReply, address: string, csrf: string) {
    const hidden = html`<input type="hidden" name="address" value="${address}" />`;
    return (error?: string) => {
      const body = h.codeForm("/portal/reset/verify", csrf, {
        error,
        hidden,
        intro: s.codeSentIfKnown,
      });
      return sendPage(reply, error ? 400 : 200, page(ctx, { title: s.codeTitle, body }));
    };
  }

  app.post("/portal/reset", h.limited, async (req, reply) => {
    if (!(await h.csrfOk(req, reply))) return reply;
    const address = normalise(formFields(req.body).address);
    // The same page, at the same speed, whether or not the address has mail here, is locked
    // or was sent codes lately: the mail is written after the answer, so neither the words
    // nor the time taken tell anything about the address.
    if (address) {
      const sending = ctx.service.sendCode(address, "reset");
      sending.catch((err: unknown) =>
        ctx.logger.error({ event: "portal:code-failed", err: errCode(err) }, "code not sent"),
      );
    }
    return resetCodePage(req, reply, address, await ctx.csrfToken(req, reply))();
  });

  app.post("/portal/reset/verify", h.limited, async (req, reply) => {
    if (!(await h.csrfOk(req, reply))) return reply;
    const f = formFields(req.body);
    const address = normalise(f.address);
    const code = (f.code ?? "").replace(/\s+/g, "");
    const check: CodeCheck = address
      ? await ctx.service.verifyCode(address, code)
      : { kind: "wrong", remaining: 0 };
    if (await h.afterCode(reply, address, check, "/portal/inbox")) return reply;
    return resetCodePage(req, reply, address, await ctx.csrfToken(req, reply))(s.codeWrong);
  });

  app.post("/portal/sign-out", async (req, reply) => {
    if (!(await h.csrfOk(req, reply))) return reply;
    const session = await ctx.session(req);
    if (session) await ctx.service.endSession(session.id);
    reply.clearCookie("sg_session", { path: "/" });
    const body = html`${notice("ok", s.signedOut)}
      <p><a href="/portal/sign-in">${s.signInButton}</a></p>`;
    return sendPage(reply, 200, page(ctx, { title: s.signedOut, body }));
  });
}

function normalise(address: string | undefined): string {
  const a = (address ?? "").trim().toLowerCase();
  return a.length <= 320 && /^[^\s@]+@[^\s@]+$/.test(a) ? a : "";
}
