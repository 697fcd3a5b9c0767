import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";
import { StoreError } from "../gateway/store/errors.js";
import { SqliteStore } from "../gateway/store/sqlite.js";
import type { NewMessage } from "../gateway/store/types.js";

/**
 * The SQLite store commits enqueues that arrive in the same turn of the event loop together.
 * One message the database refuses must not cost the others their place: the batch falls back
 * to one commit per message, and only the refused one is answered with an error.
 */

function message(to: string, raw: Buffer | null = Buffer.from("Subject: x\r\n\r\nhi\r\n")) {
  return {
    envelope: { mailFrom: "dr@clinic.example", rcptTo: [to] },
    raw,
    messageId: `${to}-id@clinic.example`,
    connector: "m365",
    clientIp: "127.0.0.1",
    origin: "ingress",
    eightBit: false,
    smtpUtf8: false,
  } as NewMessage;
}

t.test("enqueues in one turn share a commit; a refused one fails alone", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-group-"));
  const store = new SqliteStore({ dataDir: dir });
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const together = await Promise.all([
    store.enqueue(message("a@x.test"), { n: 1 }),
    store.enqueue(message("b@x.test"), { n: 2 }),
  ]);
  t.equal(new Set(together).size, 2, "a batch without a fault: each message its own id");

  // Same turn: the middle one has no bytes (refused), the one after has event data that
  // cannot be stored (a BigInt); both fail the batch's single transaction.
  const results = await Promise.allSettled([
    store.enqueue(message("c@x.test"), { n: 3 }),
    store.enqueue(message("d@x.test", null), { n: 4 }),
    store.enqueue(message("e@x.test"), { n: 5n }),
    store.enqueue(message("f@x.test"), { n: 6 }),
  ]);
  t.same(
    results.map((r) => r.status),
    ["fulfilled", "rejected", "rejected", "fulfilled"],
    "only the refused messages are answered with an error",
  );
  const refused = results[1];
  t.ok(
    refused?.status === "rejected" && refused.reason instanceof StoreError,
    "a message without bytes is a StoreError",
  );
  t.equal(refused?.status === "rejected" && (refused.reason as StoreError).code, "STORE_INVALID");

  const stored = await store.findMessages("c@x.test-id@clinic.example");
  t.equal(stored.length, 1, "the first message of the batch was committed on its own");
  t.same(await store.findMessages("d@x.test-id@clinic.example"), [], "the refused one was not");
  t.same(await store.findMessages("e@x.test-id@clinic.example"), [], "nor half of the other");
  const [last] = await store.findMessages("f@x.test-id@clinic.example");
  t.ok(last, "the message after them was committed too");
  t.same(
    (await store.events(last!.id)).map((e) => [e.name, e.data]),
    [["smtp:received", { n: 6 }]],
    "with its smtp:received event",
  );
  t.match(await store.stats(), { received: 4 });

  const after = await store.enqueue(message("g@x.test"));
  t.ok(after, "the store takes the next batch as usual");
});
