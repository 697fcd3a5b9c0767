import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { OpenResult, PortalMeta, SessionInfo } from "../service.js";
import type { PortalContext } from "./context.js";
import { formFields } from "./context.js";
import { field, form, html, type Safe } from "./html.js";
import { FRAME_STYLE, notice, page } from "./layout.js";
import { contentDisposition, parseStoredMessage, type ParsedMessage } from "./message.js";
import { problem, sendPage } from "./pages-auth.js";
import { registerReply } from "./pages-reply.js";

/**
 * Reading: the inbox, one message (headers, the body in a sandboxed frame, attachments) and
 * downloads. Every route asks the service with the signed-in address, so an id from another
 * address's message answers "not found" like an unknown one.
 */

const ID = /^[A-Za-z0-9_-]{1,100}$/;

export type Opened =
  | { kind: "ok"; session: SessionInfo & { id: string }; meta: PortalMeta; raw: Buffer }
  | { kind: "answered"; reply: FastifyReply };

export async function openFor(
  ctx: PortalContext,
  req: FastifyRequest,
  reply: FastifyReply,
  options: { asPage: boolean },
): Promise<Opened> {
  const s = ctx.strings;
  const session = await ctx.session(req);
  const id = (req.params as { id?: string }).id ?? "";
  if (!session) {
    if (options.asPage) return { kind: "answered", reply: reply.redirect("/portal/sign-in", 303) };
    return { kind: "answered", reply: reply.code(401).type("text/plain").send("") };
  }
  // A passphrase entered for this message is remembered with the session in the store (see
  // unlock), so the frame and downloads, on any node, open once the page has.
  const result: OpenResult = ID.test(id)
    ? await ctx.service.open(id, session.address, { view: options.asPage, session: session.id })
    : { kind: "not-found" };
  if (result.kind === "ok") return { kind: "ok", session, meta: result.meta, raw: result.raw };

  if (!options.asPage) {
    return { kind: "answered", reply: reply.code(404).type("text/plain").send("") };
  }
  switch (result.kind) {
    case "expired":
      return {
        kind: "answered",
        reply: await problem(ctx, req, reply, 410, s.expiredTitle, s.expiredText),
      };
    case "revoked":
      return {
        kind: "answered",
        reply: await problem(ctx, req, reply, 410, s.revokedTitle, s.revokedText),
      };
    case "passphrase-required":
      return { kind: "answered", reply: passphrasePage(ctx, reply, id, session.csrfToken) };
    default:
      return {
        kind: "answered",
        reply: await problem(ctx, req, reply, 404, s.notFoundTitle, s.notFoundText),
      };
  }
}

/** Asks for a message's passphrase; `error` says why the last one was refused. */
function passphrasePage(
  ctx: PortalContext,
  reply: FastifyReply,
  id: string,
  csrf: string,
  error?: string,
): FastifyReply {
  const s = ctx.strings;
  const body: Safe = html`<p>${s.passphraseIntro}</p>
    ${error ? notice("error", error) : ""}
    ${form(
      `/portal/messages/${id}/passphrase`,
      csrf,
      html`${field({
          name: "passphrase",
          label: s.passphraseLabel,
          type: "password",
          autocomplete: "off",
        })} <button>${s.passphraseButton}</button>`,
    )}`;
  const p = page(ctx, { title: s.passphraseTitle, body, csrf, signedIn: true });
  return sendPage(reply, 401, p);
}

export function registerMailPages(app: FastifyInstance, ctx: PortalContext): void {
  const s = ctx.strings;
  const dateText = s.dateText;

  app.get("/portal/inbox", async (req, reply) => {
    const session = await ctx.session(req);
    if (!session) return reply.redirect("/portal/sign-in", 303);
    const list = await ctx.service.inbox(session.address);
    const items = list.map(
      (m) =>
        html`<li>
          <a href="/portal/messages/${m.portalId}">
            <span class="who"
              >${m.direction === "sent" ? s.sentByYou : m.senderName || m.senderAddress}</span
            >
            <span class="subject">${m.subject || s.noSubject}</span><br />
            <span class="when">${s.inboxDate}: ${dateText(m.sentAt)}</span>
            ${m.status === "active" ? "" : html` <span class="tag">(${m.status === "expired" ? s.expiredTitle : s.revokedTitle})</span>`}
          </a>
        </li>`,
    );
    const body = list.length
      ? html`<ul class="inbox">
          ${items}
        </ul>`
      : html`<p>${s.inboxEmpty}</p>`;
    const p = page(ctx, { title: s.inboxTitle, body, csrf: session.csrfToken, signedIn: true });
    return sendPage(reply, 200, p);
  });

  app.post("/portal/messages/:id/passphrase", ctx.limited, async (req, reply) => {
    const session = await ctx.session(req);
    const f = formFields(req.body);
    if (!session || !(await ctx.csrfValid(req, f._csrf))) {
      return problem(ctx, req, reply, 403, s.forbiddenTitle, s.forbiddenText);
    }
    const id = (req.params as { id: string }).id;
    if (!ID.test(id)) return problem(ctx, req, reply, 404, s.notFoundTitle, s.notFoundText);
    const check = await ctx.service.unlock(id, session.address, session.id, f.passphrase ?? "");
    switch (check.kind) {
      case "ok":
        return reply.redirect(`/portal/messages/${id}`, 303);
      case "wrong":
        ctx.logger.info({ event: "portal:passphrase-refused", portalId: id }, "passphrase refused");
        return passphrasePage(ctx, reply, id, session.csrfToken, s.passphraseWrong);
      case "locked":
        return passphrasePage(
          ctx,
          reply,
          id,
          session.csrfToken,
          s.passphraseLocked(dateText(check.until)),
        );
      default:
        return problem(ctx, req, reply, 404, s.notFoundTitle, s.notFoundText);
    }
  });

  app.get("/portal/messages/:id", async (req, reply) => {
    const opened = await openFor(ctx, req, reply, { asPage: true });
    if (opened.kind === "answered") return opened.reply;
    const { session, meta } = opened;
    const images = (req.query as { images?: string }).images === "1";
    const parsed = await parseStoredMessage(opened.raw, { remoteImages: images });
    return sendPage(reply, 200, messagePage(ctx, meta, parsed, session.csrfToken, images));
  });

  app.get("/portal/messages/:id/body", async (req, reply) => {
    const opened = await openFor(ctx, req, reply, { asPage: false });
    if (opened.kind === "answered") return opened.reply;
    const images = (req.query as { images?: string }).images === "1";
    const parsed = await parseStoredMessage(opened.raw, { remoteImages: images });
    // The frame's own policy: nothing may load except data: images (and https images once the
    // reader asked); no script, no form, no plugin; and a CSP sandbox so the same rules hold
    // if someone opens this URL in a tab of its own instead of the frame.
    reply.header(
      "Content-Security-Policy",
      [
        "default-src 'none'",
        `img-src data:${images ? " https:" : ""}`,
        "style-src 'unsafe-inline'",
        "font-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
        "sandbox allow-popups allow-popups-to-escape-sandbox",
      ].join("; "),
    );
    reply.header("X-Frame-Options", "SAMEORIGIN");
    const doc = `<!doctype html><html><head><meta charset="utf-8">
<meta name="referrer" content="no-referrer"><style>${FRAME_STYLE}</style></head>
<body>${parsed.shown.bodyHtml}</body></html>`;
    return reply.type("text/html; charset=utf-8").send(doc);
  });

  app.get("/portal/messages/:id/attachments/:n", async (req, reply) => {
    const opened = await openFor(ctx, req, reply, { asPage: false });
    if (opened.kind === "answered") return opened.reply;
    const n = Number((req.params as { n: string }).n);
    const parsed = await parseStoredMessage(opened.raw, { remoteImages: false });
    const shown = parsed.shown.attachments.find((a) => a.index === n);
    const part = shown ? parsed.attachment(n) : undefined;
    if (!shown || !part) return reply.code(404).type("text/plain").send("");
    await ctx.service.recordDownload(opened.meta.portalId, opened.session.address, n);
    const type = /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/i.test(shown.contentType)
      ? shown.contentType
      : "application/octet-stream";
    reply.header("Content-Disposition", contentDisposition(shown.filename));
    reply.header("X-Content-Type-Options", "nosniff");
    reply.header("Content-Security-Policy", "default-src 'none'; sandbox");
    return reply.type(type).send(part.content);
  });

  registerReply(app, ctx);
}

function messagePage(
  ctx: PortalContext,
  meta: PortalMeta,
  parsed: ParsedMessage,
  csrf: string,
  images: boolean,
): string {
  const s = ctx.strings;
  const m = parsed.shown;
  const id = meta.portalId;
  const row = (label: string, value: string) =>
    value
      ? html`<dt>${label}</dt>
          <dd>${value}</dd>`
      : "";
  const files = m.attachments.map(
    (a) =>
      html`<li>
        <a href="/portal/messages/${id}/attachments/${a.index}" download>
          ${s.attachmentDownload(a.filename, s.fileSize(a.size))}</a
        >
      </li>`,
  );
  const remote =
    m.hasRemoteImages && !images
      ? html`<p class="muted">
          ${s.remoteImagesBlocked}
          <a href="/portal/messages/${id}?images=1">${s.showRemoteImages}</a>
        </p>`
      : "";
  const replies =
    meta.direction === "received"
      ? html`<div class="actions">
          <a class="button" href="/portal/messages/${id}/reply">${s.replyButton}</a>
          <a class="button secondary" href="/portal/messages/${id}/reply?all=1"
            >${s.replyAllButton}</a
          >
        </div>`
      : "";
  const body = html` <p><a href="/portal/inbox">${s.backToInbox}</a></p>
    <dl class="headers">
      ${row(s.messageFrom, m.from)}${row(s.messageTo, m.to)}${row(s.messageCc, m.cc)}
      ${row(s.messageDate, m.date ? s.dateText(m.date) : "")}
    </dl>
    ${replies} ${remote}
    <iframe
      class="frame"
      title="${s.messageFrameTitle}"
      src="/portal/messages/${id}/body${images ? "?images=1" : ""}"
      sandbox="allow-popups allow-popups-to-escape-sandbox"
      referrerpolicy="no-referrer"
    ></iframe>
    ${
      m.attachments.length
        ? html`<h2>${s.attachmentsHeading}</h2>
            <ul class="files">
              ${files}
            </ul>`
        : ""
    }
    <p class="muted">${s.messageExpires(s.dateText(meta.expiresAt))}</p>`;
  const title = m.subject || meta.subject || s.noSubject;
  return page(ctx, { title, body, csrf, signedIn: true });
}
