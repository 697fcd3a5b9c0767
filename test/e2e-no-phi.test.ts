import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import nodemailer from "nodemailer";
import t from "tap";
import { SQLITE_FILE } from "../gateway/store/sqlite-file.js";
import { startTestGateway, waitForEvent } from "./helpers/gateway.js";

/**
 * DESIGN.md's promise: PHI never reaches a log line or an event. A message full of PHI goes
 * through the whole gateway at the most verbose log level, and neither its subject, its body
 * values nor its addresses appear in what the gateway logged or recorded (every column of
 * every event row). Once delivered, its text is not left in clear in the store's files either.
 */

const SUBJECT = "[secure] Labs for Jordan Quillfeather";
const SSN = "345-67-8901";
const MRN = "MRN 88412907";
const SENDER = "dr.ruiz@clinic.example.org";
const RECIPIENT = "quillfeather.j@patient.example.net";

t.test("a message full of PHI leaves no trace of its content in logs or events", async (t) => {
  const gw = await startTestGateway(t, { logLevel: "trace" });
  const transport = nodemailer.createTransport({
    host: gw.smtp.host,
    port: gw.smtp.port,
    secure: false,
    tls: { rejectUnauthorized: false },
  });
  t.teardown(() => transport.close());
  const info = (await transport.sendMail({
    from: SENDER,
    to: RECIPIENT,
    subject: SUBJECT,
    text: `Patient Jordan Quillfeather, SSN ${SSN}, ${MRN}, DOB 04/12/1961. Potassium 5.9 mmol/L.`,
    attachments: [{ filename: "labs.csv", content: `name,ssn\nJordan Quillfeather,${SSN}\n` }],
  })) as { response: string };
  const queueId = /queued as (\S+)/.exec(info.response)?.[1] ?? "";
  t.ok(queueId, "the 250 reply carries the queue id");

  const events = await waitForEvent(gw.store, queueId, "deliver:sent");
  const stored = events.find((e) => e.name === "portal:stored");
  t.ok(stored, "with no key and no TLS hop, the copy went to the portal");
  const noticeId = String(stored?.data?.noticeQueueId);
  await waitForEvent(gw.store, noticeId, "deliver:sent");
  const outbox = gw.config.delivery.outboxDir ?? "";
  const delivered = readdirSync(outbox).map((f) => readFileSync(path.join(outbox, f), "utf8"));
  t.equal(delivered.length, 1, "one copy left: the recipient's notice");
  t.match(delivered[0], /\/m\/[A-Za-z0-9_-]{43}/, "the notice holds the portal link");
  t.notMatch(delivered[0], /Quillfeather|345-67-8901|Labs for/, "and none of the content");
  const opened = await gw.portal?.open(String(stored?.data?.portalId), RECIPIENT);
  const raw = opened?.kind === "ok" ? opened.raw.toString("utf8") : "";
  t.match(raw, /Quillfeather/, "the portal copy still holds the content");

  const logs = gw.logs();
  t.ok(logs.length > 0, "the gateway logged");
  const verdict = events.find((e) => e.name === "policy:verdict");
  t.equal(verdict?.data?.action, "encrypt", "the message was recognised as sensitive");
  await gw.stop();

  // Every column of every event row, read from the file around the store.
  const file = path.join(gw.files.dataDir, SQLITE_FILE);
  const db = new Database(file, { readonly: true });
  const rows = db.prepare("SELECT * FROM events").all();
  db.close();
  t.ok(rows.length >= events.length, "the whole events table is checked");
  const eventText = JSON.stringify(rows).toLowerCase();
  for (const secret of [
    SSN,
    "345678901",
    "Quillfeather",
    "Labs for",
    "88412907",
    SENDER,
    RECIPIENT,
  ]) {
    t.notOk(logs.includes(secret), `no log line holds "${secret.slice(0, 4)}…"`);
    t.notOk(
      eventText.includes(secret.toLowerCase()),
      `no event row holds "${secret.slice(0, 4)}…"`,
    );
  }

  // The queue's copy was cleared once delivered; the portal's is sealed.
  for (const f of [file, `${file}-wal`].filter((f) => existsSync(f))) {
    const bytes = readFileSync(f);
    for (const secret of [SSN, "Jordan Quillfeather", "Potassium 5.9"]) {
      t.notOk(bytes.includes(secret), `${path.basename(f)} does not hold "${secret.slice(0, 4)}…"`);
    }
  }
});
