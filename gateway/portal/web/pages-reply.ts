import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ReplyAttachment } from "../service.js";
import type { PortalContext } from "./context.js";
import { html } from "./html.js";
import { notice, page } from "./layout.js";
import { parseStoredMessage } from "./message.js";
import { problem, sendPage } from "./pages-auth.js";
import { openFor } from "./pages-mail.js";

/**
 * Reply and reply-all with attachments, posted as multipart/form-data. The CSRF field comes
 * first in the form, so it is checked before any file is read; uploads are held in memory up
 * to maxReplyBytes in total and handed to the service, which sends and keeps the copy.
 */

const DEFAULT_MAX_REPLY = 25 * 1024 * 1024;

class UploadError extends Error {
  readonly code: "csrf" | "too-large";
  constructor(code: "csrf" | "too-large") {
    super(code);
    this.name = "UploadError";
    this.code = code;
  }
}

interface ReplyForm {
  text: string;
  all: boolean;
  attachments: ReplyAttachment[];
}

async function readReplyForm(
  ctx: PortalContext,
  req: FastifyRequest,
  maxBytes: number,
): Promise<ReplyForm> {
  const out: ReplyForm = { text: "", all: false, attachments: [] };
  let checked = false;
  let total = 0;
  for await (const part of req.parts()) {
    if (part.type === "field") {
      const value = typeof part.value === "string" ? part.value : "";
      if (part.fieldname === "_csrf") {
        if (!(await ctx.csrfValid(req, value))) throw new UploadError("csrf");
        checked = true;
      } else if (!checked) {
        throw new UploadError("csrf");
      } else if (part.fieldname === "text") {
        out.text = value;
      } else if (part.fieldname === "all") {
        out.all = value === "1";
      }
      continue;
    }
    if (!checked) throw new UploadError("csrf");
    const content = await part.toBuffer();
    if (part.file.truncated) throw new UploadError("too-large");
    // A file input left empty still sends one part with no name and no bytes.
    if (!part.filename && content.length === 0) continue;
    total += content.length;
    if (total > maxBytes) throw new UploadError("too-large");
    out.attachments.push({
      filename: part.filename || "attachment",
      contentType: part.mimetype || "application/octet-stream",
      content,
    });
  }
  if (!checked) throw new UploadError("csrf");
  return out;
}

export function registerReply(app: FastifyInstance, ctx: PortalContext): void {
  const s = ctx.strings;
  const maxBytes = ctx.config.maxReplyBytes ?? DEFAULT_MAX_REPLY;

  async function replyPage(req: FastifyRequest, all: boolean, error?: string) {
    const id = (req.params as { id: string }).id;
    return { id, all, error };
  }

  app.get("/portal/messages/:id/reply", async (req, reply) => {
    const opened = await openFor(ctx, req, reply, { asPage: true });
    if (opened.kind === "answered") return opened.reply;
    const all = (req.query as { all?: string }).all === "1";
    const { id } = await replyPage(req, all);
    const parsed = await parseStoredMessage(opened.raw, { remoteImages: false });
    const names = all
      ? [parsed.shown.from, parsed.shown.to, parsed.shown.cc].filter(Boolean).join(", ")
      : parsed.shown.from || opened.meta.senderName;
    const csrf = opened.session.csrfToken;
    const body = html` <p><a href="/portal/messages/${id}">${s.backToInbox}</a></p>
      <p>${s.replyTo(names)}</p>
      <form method="post" action="/portal/messages/${id}/reply" enctype="multipart/form-data">
        <input type="hidden" name="_csrf" value="${csrf}" />
        <input type="hidden" name="all" value="${all ? "1" : "0"}" />
        <div class="field">
          <label for="f-text">${s.replyBodyLabel}</label>
          <textarea id="f-text" name="text" rows="10"></textarea>
        </div>
        <div class="field">
          <label for="f-files">${s.replyAttachLabel}</label>
          <p class="hint" id="f-files-hint">${s.replyAttachHint(Math.floor(maxBytes / 1048576))}</p>
          <input id="f-files" name="files" type="file" multiple aria-describedby="f-files-hint" />
        </div>
        <button>${s.replySend}</button>
      </form>`;
    const title = all ? s.replyAllButton : s.replyTitle;
    return sendPage(reply, 200, page(ctx, { title, body, csrf, signedIn: true }));
  });

  app.post("/portal/messages/:id/reply", async (req, reply) => {
    const session = await ctx.session(req);
    if (!session || !req.isMultipart()) {
      return problem(ctx, req, reply, 403, s.forbiddenTitle, s.forbiddenText);
    }
    let f: ReplyForm;
    try {
      f = await readReplyForm(ctx, req, maxBytes);
    } catch (err) {
      if (err instanceof UploadError && err.code === "csrf") {
        return problem(ctx, req, reply, 403, s.forbiddenTitle, s.forbiddenText);
      }
      const tooLarge =
        (err instanceof UploadError && err.code === "too-large") ||
        (err instanceof Error && "code" in err && String(err.code).startsWith("FST_"));
      if (tooLarge) return problem(ctx, req, reply, 413, s.replyTitle, s.replyTooLarge);
      throw err;
    }
    const id = (req.params as { id: string }).id;
    if (!f.text.trim() && f.attachments.length === 0) {
      return problem(ctx, req, reply, 400, s.replyTitle, s.replyEmpty);
    }
    const result = await ctx.service.submitReply({
      portalId: id,
      address: session.address,
      replyAll: f.all,
      session: session.id,
      text: f.text,
      attachments: f.attachments,
    });
    switch (result.kind) {
      case "queued": {
        ctx.logger.info(
          { event: "portal:reply-submitted", portalId: id, queueId: result.queueId },
          "portal reply queued",
        );
        const body = html`${notice("ok", s.replySent)}
          <p><a href="/portal/messages/${result.portalId}">${s.sentByYou}</a></p>
          <p><a href="/portal/inbox">${s.backToInbox}</a></p>`;
        const csrf = session.csrfToken;
        return sendPage(reply, 200, page(ctx, { title: s.replyTitle, body, csrf, signedIn: true }));
      }
      case "expired":
        return problem(ctx, req, reply, 410, s.expiredTitle, s.expiredText);
      case "revoked":
        return problem(ctx, req, reply, 410, s.revokedTitle, s.revokedText);
      case "passphrase-required":
        // The message page asks for the passphrase; nothing was sent.
        return reply.redirect(`/portal/messages/${id}`, 303);
      default:
        return problem(ctx, req, reply, 404, s.notFoundTitle, s.notFoundText);
    }
  });
}
