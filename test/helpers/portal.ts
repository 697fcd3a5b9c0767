import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { simpleParser } from "mailparser";
import nodemailer from "nodemailer";
import type { Test } from "tap";
import {
  startTestGateway,
  waitFor,
  waitForEvent,
  type RawConfig,
  type TestGateway,
} from "./gateway.js";
import { issueCert, makeTestCa } from "./pki.js";
import { startSink, type ReceivedMessage, type Sink } from "./sink.js";

/**
 * A gateway whose portal is the only method for recipients without keys: it relays through a
 * smart host (the tenant) that the test runs as an SMTP sink with a certificate from a test
 * CA, and the sink is every mailbox the test reads (notices, codes, replies).
 */

export interface PortalSetup {
  gw: TestGateway;
  /** Every mailbox: the recipient's notices and codes, the sender's replies. */
  mail: Sink;
  /** http://127.0.0.1:<port> */
  base: string;
}

export async function startPortalGateway(t: Test, raw: RawConfig = {}): Promise<PortalSetup> {
  const ca = makeTestCa();
  const cert = issueCert(ca, { names: ["relay.clinic.test"] });
  const mail = await startSink({ tls: { certPem: cert.certPem, keyPem: cert.keyPem } });
  t.teardown(() => mail.close());
  const gw = await startTestGateway(t, {
    organisation: "Riverside Clinic",
    ...raw,
    delivery: {
      mode: "smarthost",
      smartHost: { host: "127.0.0.1", port: mail.port, servername: "relay.clinic.test" },
      tls: { caFile: ca.certFile },
      retrySchedule: [1],
      postmaster: "secure@clinic.test",
    },
    // No verified-TLS route to recipients: keys, or the portal.
    secure: { order: ["smime", "pgp", "portal"] },
  });
  return { gw, mail, base: `http://${gw.http.host}:${gw.http.port}` };
}

/** The first message to this address that matches, once it has arrived. */
export function mailTo(
  sink: Sink,
  address: string,
  match: RegExp,
  opts: { after?: number; timeoutMs?: number } = {},
): Promise<ReceivedMessage> {
  return waitFor(
    `mail to ${address} matching ${match.source}`,
    () =>
      sink.messages
        .slice(opts.after ?? 0)
        .find((m) => m.rcptTo.includes(address) && match.test(m.raw.toString("latin1"))),
    { timeoutMs: opts.timeoutMs ?? 30_000 },
  );
}

/** The portal link in a notice's plain-text part. */
export function linkIn(notice: ReceivedMessage): string {
  const m = /https?:\/\/\S+\/m\/[A-Za-z0-9_-]+/.exec(notice.raw.toString("latin1"));
  if (!m) throw new Error("no portal link in the notice");
  return m[0];
}

/** The one-time code in a code mail. */
export async function codeIn(mail: ReceivedMessage): Promise<string> {
  const parsed = await simpleParser(mail.raw);
  const m = /Your code is (\d{8})/.exec(parsed.text ?? "");
  if (!m?.[1]) throw new Error("no code in the code mail");
  return m[1];
}

/** Writes a file of random bytes (a stand-in PDF) and returns its path and bytes. */
export function binaryFile(name: string, size: number): { file: string; bytes: Buffer } {
  const bytes = Buffer.concat([Buffer.from("%PDF-1.4\n"), randomBytes(size)]);
  const file = path.join(mkdtempSync(path.join(tmpdir(), "sealgate-att-")), name);
  writeFileSync(file, bytes);
  return { file, bytes };
}

export const SENDER = "dr.ruiz@clinic.test";

export interface SentPortalMessage {
  queueId: string;
  portalId: string;
  link: string;
}

/** Sends a [secure] message to one address through the gateway and waits for its notice. */
export async function sendSecure(
  s: PortalSetup,
  to: string,
  o: {
    subject: string;
    html?: string;
    text?: string;
    attachments?: { filename: string; content: Buffer; contentType?: string }[];
  },
): Promise<SentPortalMessage> {
  const before = s.mail.messages.length;
  const transport = nodemailer.createTransport({
    host: s.gw.smtp.host,
    port: s.gw.smtp.port,
    secure: false,
    tls: { rejectUnauthorized: false },
  });
  const info = (await transport.sendMail({
    from: SENDER,
    to,
    subject: `[secure] ${o.subject}`,
    ...(o.html ? { html: o.html } : {}),
    text: o.text ?? "See the message.",
    ...(o.attachments ? { attachments: o.attachments } : {}),
  })) as { response: string };
  transport.close();
  const queueId = /queued as (\S+)/.exec(info.response)?.[1] ?? "";
  const events = await waitForEvent(s.gw.store, queueId, "portal:stored");
  // One recipient per message here, so its one portal:stored event is this address's.
  const stored = events.find((e) => e.name === "portal:stored");
  const notice = await mailTo(s.mail, to, /\/m\//, { after: before });
  return { queueId, portalId: String(stored?.data?.portalId), link: linkIn(notice) };
}

/** A small HTTP client with a cookie jar, reading CSRF tokens out of the forms. */
export class Visitor {
  readonly #base: string;
  #cookies = new Map<string, string>();

  constructor(base: string) {
    this.#base = base;
  }

  async request(url: string, form?: Record<string, string>) {
    const res = await fetch(new URL(url, this.#base), {
      method: form ? "POST" : "GET",
      redirect: "manual",
      headers: {
        cookie: [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; "),
        ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const [k, v] = (pair ?? "").split("=");
      if (k && v !== undefined) this.#cookies.set(k, v);
    }
    const body = Buffer.from(await res.arrayBuffer());
    const text = body.toString("utf8");
    const csrf = /name="_csrf" value="([^"]+)"/.exec(text)?.[1] ?? "";
    return {
      status: res.status,
      text,
      body,
      csrf,
      location: res.headers.get("location"),
      headers: res.headers,
    };
  }

  hasSession(): boolean {
    return Boolean(this.#cookies.get("sg_session"));
  }
}

/** Asks for a code on the notice link's page and reads it from the mailbox. */
export async function codeByLink(s: PortalSetup, v: Visitor, link: string, address: string) {
  const landing = await v.request(link);
  const before = s.mail.messages.length;
  await v.request(`${link}/code`, { _csrf: landing.csrf });
  return codeIn(await mailTo(s.mail, address, /Your code/, { after: before }));
}

/** Signs an address in through its link: the code from the mailbox gives a session. */
export async function signIn(s: PortalSetup, link: string, address: string): Promise<Visitor> {
  const v = new Visitor(s.base);
  const code = await codeByLink(s, v, link, address);
  const page = await v.request(`${link}/code`);
  const verified = await v.request(`${link}/code/verify`, { _csrf: page.csrf, code });
  if (verified.status !== 303) throw new Error(`code refused (${verified.status})`);
  return v;
}

/** After signIn: sets the password on the page the code led to. */
export async function setPassword(v: Visitor, password: string): Promise<void> {
  const form = await v.request("/portal/password");
  const r = await v.request("/portal/password", {
    _csrf: form.csrf,
    password,
    confirm: password,
  });
  if (r.status !== 303) throw new Error(`password refused (${r.status})`);
}
