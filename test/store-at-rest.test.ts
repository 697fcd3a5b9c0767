import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import t from "tap";
import { SQLITE_FILE } from "../gateway/store/sqlite-file.js";
import { SqliteStore } from "../gateway/store/sqlite.js";
import type { NewMessage } from "../gateway/store/types.js";

/**
 * Once a message is delivered its text is gone from the embedded store's files, not only from
 * its rows: the database file and the write-ahead log, after a checkpoint, hold no trace of
 * it (secure_delete zeroes what was freed; the WAL is cut back when it restarts).
 */

const MARKER = "Quillfeather-potassium-5.9";

function message(body: string): NewMessage {
  return {
    envelope: { mailFrom: "dr@clinic.example", rcptTo: ["pat@patient.example"] },
    raw: Buffer.from(`Subject: labs\r\n\r\n${body}\r\n`),
    messageId: null,
    connector: "m365",
    clientIp: "127.0.0.1",
    origin: "ingress",
    eightBit: false,
    smtpUtf8: false,
  };
}

function filesHold(dir: string, text: string): string[] {
  const file = path.join(dir, SQLITE_FILE);
  return [file, `${file}-wal`].filter(
    (f) => existsSync(f) && readFileSync(f).includes(Buffer.from(text)),
  );
}

t.test("a delivered message's text is in neither the database file nor its WAL", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-at-rest-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore({ dataDir: dir });

  // One small message (inside a table page) and one large (overflow pages), each with a copy.
  const small = `Patient ${MARKER}.`;
  const large = `${"Lab panel line. ".repeat(2000)}${MARKER}\r\n`.repeat(3);
  const ids: string[] = [];
  for (const body of [small, large]) {
    const id = await store.enqueue(message(body));
    const copy = Buffer.from(`amended copy: ${body}`);
    await store.routeMessage(id, [
      {
        recipients: ["pat@patient.example"],
        route: "tls",
        nextHop: "x",
        sensitive: true,
        raw: copy,
      },
    ]);
    ids.push(id);
  }
  t.ok(filesHold(dir, MARKER).length > 0, "while queued the text is on disk (the check sees it)");

  const leased = await store.leaseDeliveries({ owner: "n", limit: 10, leaseMs: 60_000 });
  t.equal(leased.length, 2);
  for (const d of leased) {
    await store.completeDelivery(d.id, {
      sent: [{ address: "pat@patient.example", reply: "250 2.0.0 ok" }],
      failed: [],
      deferred: [],
    });
  }
  for (const id of ids) t.match(await store.getMessage(id), { state: "done", raw: null });

  // A checkpoint (as SQLite's auto-checkpoint does), then the next write restarts the WAL.
  const other = new Database(path.join(dir, SQLITE_FILE));
  other.pragma("wal_checkpoint(PASSIVE)");
  other.close();
  await store.recordEvent({ queueId: ids[0]!, name: "pipeline:parsed" });
  t.same(filesHold(dir, MARKER), [], "after a checkpoint: not in the database file nor the WAL");

  await store.close();
  t.same(filesHold(dir, MARKER), [], "nor once the store is closed");
});
