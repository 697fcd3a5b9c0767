import { readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { simpleParser } from "mailparser";
import nodemailer from "nodemailer";
import { startGateway, type Gateway } from "../../gateway/app.js";
import { waitFor, writeGatewayConfig } from "../helpers/gateway.js";
import { startHttpLoad, type HttpLoad, type LoadRun, type LoadSpec } from "./http-load.js";
import { benchLogger, clinicMessage, formatMs, pick, RECIPIENT, SENDER } from "./portal-wrap.js";

/**
 * The portal's pages under load: a gateway started in this process (embedded SQLite, delivery
 * mode outbox, portal enabled) gets one 10 KB message with PHI over SMTP; the pipeline seals
 * it in the portal and the notice lands in the outbox folder, where the link token is read.
 * Then C loops in a client process of their own (http-load.ts) load the sign-in page, the
 * notice link's landing page and, signed in (a session from PortalCore.createSession as the
 * cookie), the message page and its body frame, with /healthz on the same listener as the
 * reference. Used by test/bench/portal.ts.
 */

/** Seconds of load per page, before the counted slices, not counted. */
export const WARMUP_SECONDS = 1;

export interface PagesOptions {
  /** Seconds of counted load per page. */
  seconds: number;
  /** Slices each page's seconds are cut into, taken in turn with the other pages. */
  rounds: number;
  /** Loops sending at once, each on its own kept-alive connection. */
  concurrency: number;
}

export interface PageRow {
  page: string;
  /** The route as requested, with the token and id left out. */
  path: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  failures: number;
  firstFailure: string | null;
  /** Requests per second over /healthz's, in the same run. */
  ofHealthz: number;
}

interface Target {
  page: string;
  path: string;
  spec: Omit<LoadSpec, "seconds" | "concurrency">;
  /** Text the answer must hold (checked once before the load), so no error page is timed. */
  holds: string;
}

/** Sends the message with PHI, waits for its notice in the outbox and reads the link token. */
async function portalMessage(gw: Gateway): Promise<{ token: string; portalId: string }> {
  const transport = nodemailer.createTransport({
    host: gw.smtp.host,
    port: gw.smtp.port,
    secure: false,
    tls: { rejectUnauthorized: false },
  });
  try {
    await transport.sendMail({
      envelope: { from: SENDER, to: [RECIPIENT] },
      raw: clinicMessage(10 * 1024, "pages"),
    });
  } finally {
    transport.close();
  }

  const outbox = gw.config.delivery.outboxDir ?? path.join(gw.config.dataDir, "outbox");
  const noticeToken = async (): Promise<string | undefined> => {
    let names: string[] = [];
    try {
      names = readdirSync(outbox).filter((f) => f.endsWith(".eml"));
    } catch {
      return undefined;
    }
    for (const name of names) {
      // Parsed, not grepped: quoted-printable may break the link across lines.
      const text = (await simpleParser(readFileSync(path.join(outbox, name)))).text ?? "";
      const token = /\/m\/([A-Za-z0-9_-]{16,200})/.exec(text)?.[1];
      if (token) return token;
    }
    return undefined;
  };
  const token = await waitFor("the notice in the outbox", noticeToken, { timeoutMs: 60_000 });
  const target = await gw.portal?.resolveToken(token);
  if (!target) throw new Error("the notice's token names no portal message");
  return { token, portalId: target.portalId };
}

async function check(base: string, t: Target): Promise<void> {
  const res = await fetch(base + t.spec.url, { headers: t.spec.headers ?? {}, redirect: "manual" });
  const body = await res.text();
  if (res.status !== t.spec.status || !body.includes(t.holds)) {
    throw new Error(`${t.path} answered ${res.status} without "${t.holds}"`);
  }
}

function targets(token: string, portalId: string, cookie: Record<string, string>): Target[] {
  return [
    {
      page: "/healthz (reference)",
      path: "/healthz",
      spec: { url: "/healthz", status: 200 },
      holds: '"ok"',
    },
    {
      page: "sign-in page",
      path: "/portal/sign-in",
      spec: { url: "/portal/sign-in", status: 200 },
      holds: "password",
    },
    {
      page: "notice link landing",
      path: "/m/<token>",
      spec: { url: `/m/${token}`, status: 200 },
      holds: "Dr Ana Ruiz",
    },
    {
      page: "message page, signed in",
      path: "/portal/messages/<id>",
      spec: { url: `/portal/messages/${portalId}`, headers: cookie, status: 200 },
      holds: "results.pdf",
    },
    {
      page: "message body frame, signed in",
      path: "/portal/messages/<id>/body",
      spec: { url: `/portal/messages/${portalId}/body`, headers: cookie, status: 200 },
      holds: "Quillfeather",
    },
  ];
}

function figures(t: Target, slices: LoadRun[]): PageRow {
  const latencies = slices.flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
  const ok = slices.reduce((n, s) => n + s.ok, 0);
  return {
    page: t.page,
    path: t.path,
    requestsPerSecond: ok / slices.reduce((n, s) => n + s.seconds, 0),
    p50Ms: pick(latencies, 0.5),
    p99Ms: pick(latencies, 0.99),
    ok,
    failures: slices.reduce((n, s) => n + s.failures, 0),
    firstFailure: slices.find((s) => s.firstFailure)?.firstFailure ?? null,
    ofHealthz: NaN,
  };
}

async function loadPages(gw: Gateway, load: HttpLoad, o: PagesOptions): Promise<PageRow[]> {
  const core = gw.portal;
  if (!core) throw new Error("the portal is not enabled");
  const { token, portalId } = await portalMessage(gw);
  const session = await core.createSession(RECIPIENT);
  const base = `http://${gw.http.host}:${gw.http.port}`;
  const list = targets(token, portalId, { cookie: `sg_session=${session.sessionId}` });
  for (const t of list) await check(base, t);

  const spec = (t: Target, seconds: number): LoadSpec => ({
    ...t.spec,
    url: base + t.spec.url,
    seconds,
    concurrency: o.concurrency,
  });
  for (const t of list) await load.run(spec(t, WARMUP_SECONDS));
  // Slices in turn, so that load from elsewhere on the machine falls on every page alike.
  const slices = new Map<Target, LoadRun[]>(list.map((t) => [t, []]));
  for (let r = 0; r < o.rounds; r++) {
    for (const t of list) {
      slices.get(t)?.push(await load.run(spec(t, o.seconds / o.rounds)));
      process.stderr.write(`pages: round ${r + 1}/${o.rounds} ${t.path}\n`);
    }
  }

  const rows = list.map((t) => figures(t, slices.get(t) ?? []));
  const healthz = rows[0]?.requestsPerSecond ?? NaN;
  return rows.map((r) => ({ ...r, ofHealthz: r.requestsPerSecond / healthz }));
}

export async function benchPages(options: PagesOptions): Promise<PageRow[]> {
  const files = writeGatewayConfig({
    organisation: "Riverside Clinic",
    delivery: { mode: "outbox" },
  });
  const gw = await startGateway(files.config, { logger: benchLogger(), nodeId: "bench-portal" });
  let load: HttpLoad | null = null;
  try {
    load = await startHttpLoad();
    return await loadPages(gw, load, options);
  } finally {
    await load?.close();
    await gw.stop();
    rmSync(path.dirname(files.file), { recursive: true, force: true });
  }
}

export function pageTable(rows: PageRow[]): string {
  return [
    "| page | route | requests/s | p50 | p99 | of /healthz | failures |",
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.page} | \`GET ${r.path}\` | ${r.requestsPerSecond.toFixed(0)} | ` +
        `${formatMs(r.p50Ms)} | ${formatMs(r.p99Ms)} | ${r.ofHealthz.toFixed(2)} | ` +
        `${r.failures}${r.firstFailure ? ` (first: ${r.firstFailure})` : ""} |`,
    ),
  ].join("\n");
}
