import { createCipheriv, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Writable } from "node:stream";
import { loadKek } from "../../gateway/keys/kek.js";
import { createLogger, type Logger } from "../../gateway/log.js";
import { PortalCore } from "../../gateway/portal/core.js";
import { headerFacts } from "../../gateway/portal/mail.js";
import { openSqliteFile } from "../../gateway/store/sqlite-file.js";
import {
  SqlitePortalStore,
  SqliteStore,
  type LeasedDelivery,
  type Store,
} from "../../gateway/store/index.js";
import { writeGatewayConfig } from "../helpers/gateway.js";

/**
 * The portal's wrap, timed: PortalCore.deliver for one recipient (parse the message, seal the
 * body under a fresh data key wrapped by the KEK, store the row, queue the notice, record
 * portal:stored) on a real SqliteStore and SqlitePortalStore in a temp folder, one wrap at a
 * time. Each run also times, on the same bytes, AES-256-GCM with node:crypto and one SQLite
 * insert of a blob that size into a file opened as the store opens its own (WAL,
 * synchronous=FULL): what sealing and storing cost bare. And mailparser's simpleParser on the
 * message, since deliver parses it whole to read its headers. Used by test/bench/portal.ts.
 */

export const SENDER = "dr.ruiz@clinic.test";
export const RECIPIENT = "jordan.q@patient.test";
const PHI = "Patient Jordan Quillfeather, SSN 345-67-8901, DOB 04/12/1961. Potassium 5.9 mmol/L.";

/** Wraps per size that run first and are not counted. */
export const WARMUP_RUNS = 2;

/** The logger the gateway would have at level info, writing nowhere. */
export function benchLogger(): Logger {
  const nowhere = new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });
  return createLogger({ level: "info", destination: nowhere });
}

/** A clinic's message: a short note with PHI and a base64 PDF that fills it to `bytes`. */
export function clinicMessage(bytes: number, id: string): Buffer {
  const head = [
    `From: Dr Ana Ruiz <${SENDER}>`,
    `To: Jordan Q <${RECIPIENT}>`,
    "Subject: Your lab results",
    `Message-ID: <${id}@clinic.test>`,
    "Date: Thu, 03 Dec 2026 12:00:00 +0000",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="b1"',
    "",
    "--b1",
    "Content-Type: text/plain; charset=utf-8",
    "",
    `Dear Jordan, your results are attached. ${PHI}`,
    "--b1",
    'Content-Type: application/pdf; name="results.pdf"',
    'Content-Disposition: attachment; filename="results.pdf"',
    "Content-Transfer-Encoding: base64",
    "",
    "",
  ].join("\r\n");
  const tail = "\r\n--b1--\r\n";
  const room = bytes - head.length - tail.length;
  const octets = Math.floor(((room / 78) * 76 * 3) / 4);
  const b64 = randomBytes(octets)
    .toString("base64")
    .replace(/.{1,76}/g, "$&\r\n")
    .replace(/\r\n$/, "");
  return Buffer.from(head + b64 + tail, "latin1");
}

/** Nearest rank below, as load.ts picks its percentiles; `sorted` ascending. */
export function pick(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

export function formatMs(v: number): string {
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ms`;
}

export interface Timing {
  medianMs: number;
  p95Ms: number;
  /** Operations per second one at a time: runs ÷ the time they took together. */
  perSecond: number;
}

function timing(ms: number[]): Timing {
  const sorted = [...ms].sort((a, b) => a - b);
  const total = ms.reduce((a, b) => a + b, 0);
  return {
    medianMs: pick(sorted, 0.5),
    p95Ms: pick(sorted, 0.95),
    perSecond: ms.length / (total / 1000),
  };
}

/** Runs `work` and, when `into` is given, notes how long it took. */
async function timed(into: number[] | null, work: () => unknown): Promise<void> {
  const start = performance.now();
  await work();
  into?.push(performance.now() - start);
}

export interface WrapRow {
  size: string;
  bytes: number;
  runs: number;
  deliver: Timing;
  aesGcm: Timing;
  sqliteInsert: Timing;
  parse: Timing;
}

/** The delivery the queue runner would hand the core: one pending recipient, route portal. */
async function leased(store: Store, raw: Buffer): Promise<LeasedDelivery> {
  const queueId = await store.enqueue({
    envelope: { mailFrom: SENDER, rcptTo: [RECIPIENT] },
    raw,
    messageId: null,
    connector: "bench",
    clientIp: "127.0.0.1",
    origin: "ingress",
    eightBit: false,
    smtpUtf8: false,
  });
  const record = await store.getMessage(queueId);
  if (!record?.raw) throw new Error(`message ${queueId} is not in the store`);
  const message = { ...record, raw: record.raw };
  const now = new Date();
  return {
    id: 0,
    queueId,
    route: "portal",
    nextHop: "portal",
    sensitive: true,
    state: "pending",
    attempts: 0,
    createdAt: now,
    nextAttemptAt: now,
    recipients: [{ address: RECIPIENT, state: "pending", reply: null }],
    message,
    raw,
  };
}

function aesGcm(raw: Buffer): Buffer {
  const cipher = createCipheriv("aes-256-gcm", randomBytes(32), randomBytes(12));
  return Buffer.concat([cipher.update(raw), cipher.final(), cipher.getAuthTag()]);
}

const SIZES = [
  ["10 KB", 10 * 1024],
  ["5 MB", 5 * 1024 * 1024],
] as const;

export async function benchWrap(options: { runs: number }): Promise<WrapRow[]> {
  const files = writeGatewayConfig({ delivery: { mode: "outbox" } });
  const dataDir = files.config.dataDir;
  const store = new SqliteStore({ dataDir });
  const portal = new SqlitePortalStore({ dataDir });
  const core = new PortalCore({
    portal,
    queue: store,
    config: files.config,
    kek: loadKek(files.config),
    logger: benchLogger(),
  });
  const reference = openSqliteFile(path.join(path.dirname(dataDir), "reference"));
  reference.exec("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  const insert = reference.prepare("INSERT INTO blobs (body) VALUES (?)");

  const rows: WrapRow[] = [];
  try {
    for (const [size, bytes] of SIZES) {
      const raw = clinicMessage(bytes, `wrap-${bytes}`);
      const ms: Record<"deliver" | "aes" | "insert" | "parse", number[]> = {
        deliver: [],
        aes: [],
        insert: [],
        parse: [],
      };
      for (let i = 0; i < WARMUP_RUNS + options.runs; i++) {
        const into = (k: keyof typeof ms) => (i >= WARMUP_RUNS ? ms[k] : null);
        // A fresh queue id each run, so the core takes its first-wrap path, not the retry one.
        const delivery = await leased(store, raw);
        let sealed: Buffer = Buffer.alloc(0);
        await timed(into("deliver"), async () => {
          const result = await core.deliver(delivery);
          if (result.kind !== "replies" || result.recipients[0]?.kind !== "accepted") {
            throw new Error("portal deliver did not accept the recipient");
          }
        });
        await timed(into("aes"), () => (sealed = aesGcm(raw)));
        await timed(into("insert"), () => insert.run(sealed));
        await timed(into("parse"), () => headerFacts(raw, SENDER));
      }
      rows.push({
        size,
        bytes: raw.length,
        runs: options.runs,
        deliver: timing(ms.deliver),
        aesGcm: timing(ms.aes),
        sqliteInsert: timing(ms.insert),
        parse: timing(ms.parse),
      });
      process.stderr.write(`wrap: ${size} done\n`);
    }
  } finally {
    reference.close();
    await portal.close();
    await store.close();
    rmSync(path.dirname(files.file), { recursive: true, force: true });
  }
  return rows;
}

export function wrapTable(rows: WrapRow[]): string {
  const line = (size: string, what: string, t: Timing) =>
    `| ${size} | ${what} | ${formatMs(t.medianMs)} | ${formatMs(t.p95Ms)} | ` +
    `${t.perSecond.toFixed(1)} |`;
  return [
    "| message | operation | median | p95 | per second, one at a time |",
    "|---|---|---|---|---|",
    ...rows.flatMap((r) => [
      line(r.size, "**PortalCore.deliver** (wrap, one recipient)", r.deliver),
      line(r.size, "reference: AES-256-GCM of the bytes (node:crypto)", r.aesGcm),
      line(r.size, "reference: one SQLite insert of that size (WAL, FULL)", r.sqliteInsert),
      line(r.size, "for reading: simpleParser of the message, as deliver does", r.parse),
    ]),
  ].join("\n");
}

/** The overhead in one line per size: deliver's median over the bare seal and store. */
export function overheadLines(rows: WrapRow[]): string[] {
  return rows.map((r) => {
    const bare = r.aesGcm.medianMs + r.sqliteInsert.medianMs;
    return (
      `${r.size} (${r.bytes} bytes): deliver median ${formatMs(r.deliver.medianMs)} = ` +
      `${(r.deliver.medianMs / bare).toFixed(1)} × (AES-GCM + one insert, ${formatMs(bare)})`
    );
  });
}
