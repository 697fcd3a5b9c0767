/**
 * The embedded store's write-ahead log on a quiet gateway: SQLite folds it into the database
 * on its own only at 1000 pages, so the frames that held a message's bytes would stay in the
 * -wal file after the message was settled and cleared. The queue runner checkpoints it
 * (TRUNCATE) when the queue is idle.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t, { type Test } from "tap";
import { createDeliverer } from "../gateway/deliver/index.js";
import { silentLogger } from "../gateway/log.js";
import { QueueRunner } from "../gateway/queue/index.js";
import { SQLITE_FILE } from "../gateway/store/sqlite-file.js";
import { SqliteStore } from "../gateway/store/sqlite.js";
import type { NewMessage } from "../gateway/store/types.js";
import { LOOP_SECRET, testConfig } from "./helpers/deliveries.js";
import { startSink } from "./helpers/sink.js";

const MARKER = "WAL-MARKER-7f3a9c";

function message(): NewMessage {
  return {
    envelope: { mailFrom: "alice@sender.test", rcptTo: ["bob@r.test"] },
    raw: Buffer.from(`From: alice@sender.test\r\nSubject: x\r\n\r\n${MARKER}\r\n`),
    messageId: null,
    connector: "test",
    clientIp: "127.0.0.1",
    origin: "ingress",
    eightBit: false,
    smtpUtf8: false,
  };
}

function holds(file: string): boolean {
  return existsSync(file) && readFileSync(file).includes(MARKER);
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-wal-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test("a checkpoint leaves no cleared bytes in the -wal file", async (t) => {
  const dir = tempDir(t);
  const store = new SqliteStore({ dataDir: dir });
  t.teardown(() => store.close());
  const wal = path.join(dir, `${SQLITE_FILE}-wal`);

  const id = await store.enqueue(message());
  await store.holdMessage(id, "quarantine: rules r");
  const change = await store.dropHeld(id, { by: "test" });
  t.equal(change.kind, "done");
  t.equal((await store.getMessage(id))?.raw, null, "the row's bytes are cleared");
  t.ok(holds(wal), "yet the -wal file still holds the old frames");

  await store.checkpoint();
  t.equal(statSync(wal).size, 0, "the checkpoint truncates the -wal file");
  t.notOk(holds(path.join(dir, SQLITE_FILE)), "and the database holds no copy either");
});

t.test("the queue runner checkpoints the store once the queue is idle", async (t) => {
  const dir = tempDir(t);
  const sink = await startSink();
  const config = testConfig(
    {
      delivery: {
        mode: "smarthost",
        smartHost: { host: "127.0.0.1", port: sink.port, requireTls: false },
        connectTimeout: 5,
      },
    },
    dir,
  );
  const store = new SqliteStore({ dataDir: dir });
  const logger = silentLogger();
  const deliverer = createDeliverer({ config, logger, loopSecret: LOOP_SECRET });
  const pipeline = {
    async process(m: { id: string; envelope: { rcptTo: string[] } }) {
      await store.routeMessage(m.id, [
        {
          recipients: m.envelope.rcptTo,
          route: "clean",
          nextHop: "smarthost.test",
          sensitive: false,
        },
      ]);
    },
  };
  const runner = new QueueRunner({
    store,
    config,
    logger,
    deliverer,
    pipeline,
    nodeId: "test",
    maxIdleMs: 50,
    checkpointMs: 200,
  });
  t.teardown(async () => {
    await runner.stop();
    await deliverer.close();
    await sink.close();
    await store.close();
  });
  const wal = path.join(dir, `${SQLITE_FILE}-wal`);

  runner.start();
  const id = await store.enqueue(message());
  runner.kick();
  await sink.waitForMessages(1);
  const deadline = Date.now() + 10_000;
  while ((await store.getMessage(id))?.raw !== null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal((await store.getMessage(id))?.raw, null, "the delivered message's bytes are cleared");

  while (statSync(wal).size > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(statSync(wal).size, 0, "the idle runner truncated the -wal file");
  t.notOk(holds(wal), "which no longer holds the message");
  t.notOk(holds(path.join(dir, SQLITE_FILE)), "nor does the database");
});
