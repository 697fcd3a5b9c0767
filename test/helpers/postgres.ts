import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Test } from "tap";

/** The test server: trust auth on loopback; SEALGATE_TEST_DATABASE_URL points elsewhere. */
export const TEST_DATABASE_URL =
  process.env.SEALGATE_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

let reachable: Promise<string | null> | undefined;

/** Resolves null when the server answers, or the reason it does not. */
function probe(): Promise<string | null> {
  reachable ??= (async () => {
    const client = new pg.Client({
      connectionString: TEST_DATABASE_URL,
      connectionTimeoutMillis: 3000,
    });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return null;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/**
 * True when the PostgreSQL test server answers. Otherwise the test is skipped with the
 * reason, or fails when SEALGATE_REQUIRE_TOOLS=1 so CI cannot skip cluster mode quietly.
 */
export async function requirePostgres(t: Test): Promise<boolean> {
  const problem = await probe();
  if (problem === null) return true;
  const msg = `needs PostgreSQL at ${new URL(TEST_DATABASE_URL).host} (${problem})`;
  if (process.env.SEALGATE_REQUIRE_TOOLS === "1") {
    t.fail(`${msg}; SEALGATE_REQUIRE_TOOLS=1 forbids skipping`);
  } else {
    t.comment(`skipped: ${msg}`);
    t.pass(`skipped: ${msg}`, { skip: msg });
  }
  return false;
}

/** A schema name no other run uses; the store creates it, dropSchema removes it. */
export function freshSchemaName(): string {
  return `sealgate_test_${randomBytes(6).toString("hex")}`;
}

/** Runs SQL on the test server outside any store (setup, inspection, teardown). */
export async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(name: string): Promise<void> {
  await withClient((c) => c.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`));
}
