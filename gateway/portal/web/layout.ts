import type { PortalContext } from "./context.js";
import { form, html, type Safe } from "./html.js";

/**
 * The page shell and the one stylesheet. No scripts anywhere: every page is a plain document
 * with forms, so it works with scripts off, on a phone, and by keyboard alone (visible focus,
 * a skip link, one <main>, headings in order).
 */

export interface PageOptions {
  title: string;
  body: Safe;
  /** Forms' CSRF token; with `signedIn` the header offers Sign out. */
  csrf?: string | undefined;
  signedIn?: boolean | undefined;
}

export function page(ctx: PortalContext, o: PageOptions): string {
  const s = ctx.strings;
  const logo = ctx.config.logoFile
    ? html`<img class="logo" src="/portal/assets/logo" alt="${ctx.config.organisation}" />`
    : html`<span class="org">${ctx.config.organisation}</span>`;
  const signOut =
    o.signedIn && o.csrf
      ? form("/portal/sign-out", o.csrf, html`<button class="link">${s.signOutButton}</button>`)
      : "";
  const insecure = ctx.secureCookies
    ? ""
    : html`<p class="warning" role="note">${s.plainHttpWarning}</p>`;
  return html`<!doctype html>
    <html lang="${s.lang}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>${o.title} – ${ctx.config.organisation}</title>
        <link rel="stylesheet" href="/portal/assets/style.css" />
      </head>
      <body>
        <a class="skip" href="#main">${s.skipToContent}</a>
        <header class="top">
          <div class="brand">${logo}<span class="product">${s.productName}</span></div>
          ${signOut}
        </header>
        ${insecure}
        <main id="main" tabindex="-1">
          <h1>${o.title}</h1>
          ${o.body}
        </main>
        <footer><p>${s.footer(ctx.config.organisation)}</p></footer>
      </body>
    </html>`.value;
}

/** A short notice inside a page: role=status for news, role=alert for problems. */
export function notice(kind: "info" | "error" | "ok", text: string): Safe {
  const role = kind === "error" ? "alert" : "status";
  return html`<p class="notice ${kind}" role="${role}">${text}</p>`;
}

export const STYLESHEET = `
:root { --ink: #1b1f23; --muted: #555d66; --line: #c9d1d9; --accent: #0b57d0;
  --bg: #ffffff; --soft: #f3f6fa; --bad: #b3261e; --good: #146c2e; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: var(--soft); }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; z-index: 10; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.top { display: flex; justify-content: space-between; align-items: center; gap: 1rem;
  padding: .75rem 1rem; background: var(--bg); border-bottom: 1px solid var(--line); }
.brand { display: flex; align-items: center; gap: .75rem; font-weight: 600; }
.logo { max-height: 40px; max-width: 160px; }
.product { color: var(--muted); font-weight: 400; }
main { max-width: 52rem; margin: 1rem auto; padding: 1rem 1.25rem 2rem; background: var(--bg);
  border: 1px solid var(--line); border-radius: 8px; }
main:focus { outline: none; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: .25rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
footer { max-width: 52rem; margin: 0 auto 2rem; padding: 0 1.25rem; color: var(--muted);
  font-size: .875rem; }
.field { margin: 0 0 1rem; }
label { display: block; font-weight: 600; margin-bottom: .25rem; }
.hint { margin: 0 0 .25rem; color: var(--muted); font-size: .9rem; }
input[type=text], input[type=email], input[type=password], textarea {
  width: 100%; max-width: 32rem; font: inherit; padding: .6rem .7rem; border: 1px solid #8a939c;
  border-radius: 6px; background: #fff; }
textarea { max-width: 100%; min-height: 10rem; }
input[type=file] { font: inherit; max-width: 100%; }
button, .button { display: inline-block; font: inherit; font-weight: 600; padding: .6rem 1.1rem;
  min-height: 44px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent);
  color: #fff; cursor: pointer; text-decoration: none; }
.button.secondary, button.secondary { background: #fff; color: var(--accent); }
button.link { background: none; border: none; color: var(--accent); padding: .25rem;
  text-decoration: underline; font-weight: 400; min-height: 0; }
.actions { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0; }
.actions form { margin: 0; }
.notice { padding: .75rem 1rem; border-radius: 6px; border-left: 4px solid var(--accent);
  background: var(--soft); }
.notice.error { border-color: var(--bad); background: #fdeceb; }
.notice.ok { border-color: var(--good); background: #e9f5ec; }
.warning { margin: 0; padding: .5rem 1rem; background: #fff4ce; text-align: center;
  font-size: .9rem; }
.choices { display: grid; gap: 1rem; grid-template-columns: 1fr; }
@media (min-width: 44rem) { .choices { grid-template-columns: 1fr 1fr; } }
.choice { border: 1px solid var(--line); border-radius: 8px; padding: 1rem; }
.choice h2 { margin-top: 0; }
.inbox { list-style: none; padding: 0; margin: 0; }
.inbox li { border-top: 1px solid var(--line); }
.inbox a { display: block; padding: .75rem .25rem; color: inherit; text-decoration: none; }
.inbox a:hover, .inbox a:focus-visible { background: var(--soft); }
.inbox .who { font-weight: 600; }
.inbox .when, .inbox .tag { color: var(--muted); font-size: .9rem; }
.headers { display: grid; grid-template-columns: max-content 1fr; gap: .25rem .75rem;
  margin: 0 0 1rem; overflow-wrap: anywhere; }
.headers dt { font-weight: 600; color: var(--muted); }
.headers dd { margin: 0; }
.frame { width: 100%; height: 60vh; min-height: 18rem; border: 1px solid var(--line);
  border-radius: 6px; background: #fff; resize: vertical; }
.files { list-style: none; padding: 0; }
.files li { margin: .5rem 0; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
@media (max-width: 30rem) {
  main { margin: 0; border: none; border-radius: 0; padding: 1rem; }
  .headers { grid-template-columns: 1fr; }
  .headers dt { margin-top: .5rem; }
  .actions { flex-direction: column; }
  .actions button, .actions .button { width: 100%; text-align: center; }
}
`;

/** Styles inside the message frame (sent with the frame's HTML; the frame allows only these). */
export const FRAME_STYLE = `body { margin: .75rem; font: 1rem/1.5 system-ui, sans-serif;
  color: #1b1f23; overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; }
pre.plain { white-space: pre-wrap; font: inherit; margin: 0; }
table { max-width: 100%; }`;
