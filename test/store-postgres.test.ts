/**
 * What only the cluster store promises: several nodes (each its own PostgresStore and pool)
 * share one database without handing the same work to two of them.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import t, { type Test } from "tap";
import { loadConfig } from "../gateway/config/index.js";
import { StoreError } from "../gateway/store/errors.js";
import { openStore } from "../gateway/store/index.js";
import { PostgresStore } from "../gateway/store/postgres.js";
import type { DeliveryPlan, NewMessage, Store } from "../gateway/store/types.js";
import {
  dropSchema,
  freshSchemaName,
  requirePostgres,
  TEST_DATABASE_URL,
  withClient,
} from "./helpers/postgres.js";

const MINUTE = 60_000;

function message(rcptTo: string[]): NewMessage {
  return {
    envelope: { mailFrom: "sender@clinic.example", rcptTo },
    raw: Buffer.from("Subject: test\r\n\r\nhello\r\n"),
    messageId: null,
    connector: "m365",
    clientIp: "127.0.0.1",
    origin: "ingress",
    eightBit: false,
    smtpUtf8: false,
  };
}

/** Opens `count` nodes on one fresh schema; all are closed and the schema dropped afterwards. */
async function cluster(t: Test, count: number) {
  const schema = freshSchemaName();
  const nodes = await Promise.all(
    Array.from({ length: count }, () => PostgresStore.connect({ url: TEST_DATABASE_URL, schema })),
  );
  t.teardown(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await dropSchema(schema);
  });
  return { nodes, schema };
}

/** Fails instead of hanging when `work` blocks (a lease waiting on a locked row). */
async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One message routed to `count` deliveries of one recipient each; returns the delivery ids. */
async function deliveriesDue(store: Store, count: number): Promise<number[]> {
  const rcpts = Array.from({ length: count }, (_, i) => `r${i}@example.org`);
  const queueId = await store.enqueue(message(rcpts));
  const plans: DeliveryPlan[] = rcpts.map((r) => ({
    recipients: [r],
    route: "clean",
    nextHop: "example.org",
    sensitive: false,
  }));
  await store.routeMessage(queueId, plans);
  return (await store.deliveries(queueId)).map((d) => d.id);
}

/** Each node runs `parallel` workers that lease small batches until nothing is left. */
async function drain<T extends { id: unknown }>(
  nodes: Store[],
  parallel: number,
  leaseBatch: (node: Store, owner: string) => Promise<T[]>,
): Promise<Map<string, unknown[]>> {
  const taken = new Map<string, unknown[]>();
  const workers = nodes.flatMap((node, n) =>
    Array.from({ length: parallel }, async (_, w) => {
      const owner = `node-${n}/worker-${w}`;
      const mine: unknown[] = [];
      taken.set(owner, mine);
      for (;;) {
        const batch = await leaseBatch(node, owner);
        if (batch.length === 0) return;
        mine.push(...batch.map((b) => b.id));
      }
    }),
  );
  await Promise.all(workers);
  return taken;
}

t.test(
  "without a URL or with an unsafe schema name the store is a configuration error",
  async (t) => {
    const missing = await PostgresStore.connect({ url: undefined }).catch((e: unknown) => e);
    t.ok(missing instanceof StoreError);
    t.equal((missing as StoreError).code, "STORE_CONFIG");
    t.match((missing as Error).message, /SEALGATE_DATABASE_URL/);

    const schema = 'x"; DROP TABLE messages; --';
    const unsafe = await PostgresStore.connect({ url: TEST_DATABASE_URL, schema }).catch(
      (e: unknown) => e,
    );
    t.equal((unsafe as StoreError).code, "STORE_CONFIG");
  },
);

t.test("an unreachable server is refused as unavailable, without the password", async (t) => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));

  const url = `postgres://sealgate:hunter2secret@127.0.0.1:${port}/test`;
  const err = await PostgresStore.connect({ url, connectTimeoutMs: 2000 }).catch((e) => e);
  t.ok(err instanceof StoreError);
  t.equal((err as StoreError).code, "STORE_UNAVAILABLE");
  t.ok((err as StoreError).cause, "pg's reason is kept as the cause");
  t.notMatch((err as Error).message, /hunter2secret/);
});

t.test("the PostgreSQL server", async (t) => {
  if (!(await requirePostgres(t))) return;

  await t.test("two nodes leasing at the same moment never get the same delivery", async (t) => {
    const { nodes } = await cluster(t, 2);
    const ids = await deliveriesDue(nodes[0]!, 40);
    const taken = await drain(nodes, 4, (node, owner) =>
      node.leaseDeliveries({ owner, limit: 3, leaseMs: MINUTE }),
    );
    const all = [...taken.values()].flat();
    t.equal(all.length, new Set(all).size, "no delivery was handed out twice");
    t.same([...all].sort(), [...ids].sort(), "and every delivery was handed out");
    t.ok([...taken.values()].filter((ids) => ids.length > 0).length > 1, "work was shared");
  });

  await t.test("two nodes leasing at the same moment never get the same message", async (t) => {
    const { nodes } = await cluster(t, 2);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await nodes[i % 2]!.enqueue(message(["a@x.example"])));
    const taken = await drain(nodes, 4, (node, owner) =>
      node.leaseMessages({ owner, limit: 2, leaseMs: MINUTE }),
    );
    const all = [...taken.values()].flat();
    t.equal(all.length, new Set(all).size, "no message was handed out twice");
    t.same([...all].sort(), [...ids].sort(), "and every message was handed out");
  });

  await t.test("a row another node is locking is skipped, not waited for", async (t) => {
    const { nodes, schema } = await cluster(t, 1);
    const node = nodes[0]!;
    const ids = await deliveriesDue(node, 3);
    const [locked, ...free] = ids;
    const options = { owner: "node-b", limit: 10, leaseMs: MINUTE };

    await withClient(async (other) => {
      await other.query(`SET search_path TO "${schema}"`);
      await other.query("BEGIN");
      await other.query("SELECT id FROM deliveries WHERE id = $1 FOR UPDATE", [locked]);
      try {
        const leased = await within(3000, node.leaseDeliveries(options));
        t.same(leased.map((d) => d.id).sort(), free.sort(), "the locked delivery is skipped");
      } finally {
        await other.query("ROLLBACK");
      }
    });
    const rest = await node.leaseDeliveries(options);
    t.same(
      rest.map((d) => d.id),
      [locked],
      "and taken once the other transaction ends",
    );
  });

  await t.test("a connection killed mid-transaction fails that call, not the node", async (t) => {
    const { nodes, schema } = await cluster(t, 1);
    const node = nodes[0]!;
    const id = await node.enqueue(message(["a@x.example"]));
    const plan: DeliveryPlan = {
      recipients: ["a@x.example"],
      route: "clean",
      nextHop: "x",
      sensitive: false,
    };

    await withClient(async (other) => {
      await other.query(`SET search_path TO "${schema}"`);
      await other.query("BEGIN");
      await other.query("SELECT id FROM messages WHERE id = $1 FOR UPDATE", [id]);
      const routing = node.routeMessage(id, [plan]).then(
        () => null,
        (e: unknown) => e,
      );
      // Wait until the store's transaction is blocked behind our lock, then kill its backend.
      let killed = 0;
      for (let i = 0; i < 50 && killed === 0; i++) {
        const { rows } = await other.query<{ n: number }>(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
            WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))`,
        );
        killed = rows[0]?.n ?? 0;
        if (killed === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      t.equal(killed, 1, "the store's waiting connection was terminated");
      t.ok((await routing) instanceof Error, "the call fails");
      await other.query("ROLLBACK");
    });

    await node.routeMessage(id, [plan]);
    t.equal((await node.getMessage(id))?.state, "routed", "the next call works");
  });

  await t.test("a dead node's leases pass to another node only when they expire", async (t) => {
    const {
      nodes: [a, b],
    } = await cluster(t, 2);
    const ids = await deliveriesDue(a!, 2);
    const t0 = new Date();
    t.equal(
      (await a!.leaseDeliveries({ owner: "a", limit: 10, leaseMs: MINUTE, now: t0 })).length,
      2,
    );
    await a!.close();

    const early = new Date(t0.getTime() + MINUTE - 1);
    t.same(await b!.leaseDeliveries({ owner: "b", limit: 10, leaseMs: MINUTE, now: early }), []);
    const late = new Date(t0.getTime() + MINUTE + 1);
    const taken = await b!.leaseDeliveries({ owner: "b", limit: 10, leaseMs: MINUTE, now: late });
    t.same(taken.map((d) => d.id).sort(), [...ids].sort());
  });

  await t.test("nodes starting together create the tables once, without error", async (t) => {
    const { nodes } = await cluster(t, 3);
    const id = await nodes[1]!.enqueue(message(["a@x.example"]));
    t.equal((await nodes[2]!.getMessage(id))?.id, id, "all nodes share the same tables");
  });

  await t.test(
    "an enqueued message is visible to any connection and its body is BYTEA",
    async (t) => {
      const { nodes, schema } = await cluster(t, 1);
      const raw = Buffer.from([0x53, 0x3a, 0x0d, 0x0a, 0x0d, 0x0a, 0xff, 0x00]);
      const id = await nodes[0]!.enqueue({ ...message(["a@x.example"]), raw });
      await withClient(async (c) => {
        const { rows } = await c.query<{ raw: Buffer; type: string }>(
          `SELECT raw, pg_typeof(raw)::text AS type FROM "${schema}".messages WHERE id = $1`,
          [id],
        );
        t.equal(rows[0]?.type, "bytea");
        t.ok(rows[0]?.raw.equals(raw), "the committed bytes are the bytes received");
      });
    },
  );

  await t.test("a server that does not wait for commits to reach disk is refused", async (t) => {
    const url = new URL(TEST_DATABASE_URL);
    // A search_path naming no schema keeps a regression from creating tables in public.
    url.searchParams.set(
      "options",
      `-c search_path=${freshSchemaName()} -c synchronous_commit=off`,
    );
    const err = await PostgresStore.connect({ url: url.href }).catch((e: unknown) => e);
    t.ok(err instanceof StoreError);
    t.equal((err as StoreError).code, "STORE_CONFIG");
    t.match((err as Error).message, /synchronous_commit/);
  });

  await t.test("openStore opens the PostgreSQL store that store.url names", async (t) => {
    const schema = freshSchemaName();
    await withClient((c) => c.query(`CREATE SCHEMA "${schema}"`));
    const dir = mkdtempSync(path.join(tmpdir(), "sealgate-pgconfig-"));
    const file = path.join(dir, "sealgate.yaml");
    writeFileSync(file, "store:\n  kind: postgres\n");
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set("options", `-c search_path=${schema}`);
    const { config } = loadConfig(file, { dataDir: dir }, { SEALGATE_DATABASE_URL: url.href });

    const store = await openStore(config);
    t.teardown(async () => {
      await store.close();
      await dropSchema(schema);
      rmSync(dir, { recursive: true, force: true });
    });
    t.equal(store.kind, "postgres");
    const id = await store.enqueue(message(["a@x.example"]));
    const count = await withClient((c) =>
      c.query(`SELECT 1 FROM "${schema}".messages WHERE id = $1`, [id]),
    );
    t.equal(count.rowCount, 1, "the tables are in the schema the URL selects");
  });
});

t.test(
  "two nodes settling a message's last two copies at once leave it done and its bytes cleared",
  async (t) => {
    if (!(await requirePostgres(t))) return;
    const { nodes } = await cluster(t, 2);
    const [a, b] = nodes as [PostgresStore, PostgresStore];
    const sent = (address: string) => ({
      sent: [{ address, reply: "250 ok" }],
      failed: [],
      deferred: [],
    });
    const queueIds: string[] = [];
    for (let i = 0; i < 20; i++) {
      const queueId = await a.enqueue(message(["x@example.org", "y@example.net"]));
      await a.routeMessage(queueId, [
        { recipients: ["x@example.org"], route: "clean", nextHop: "example.org", sensitive: false },
        { recipients: ["y@example.net"], route: "clean", nextHop: "example.net", sensitive: false },
      ]);
      const [x, y] = await a.deliveries(queueId);
      await Promise.all([
        a.completeDelivery(x!.id, sent("x@example.org")),
        b.completeDelivery(y!.id, sent("y@example.net")),
      ]);
      queueIds.push(queueId);
    }
    const left = [];
    for (const id of queueIds) {
      const m = await a.getMessage(id);
      if (m?.state !== "done" || m.raw !== null) left.push(id);
    }
    t.same(left, [], "every message is done with its bytes cleared");
  },
);
