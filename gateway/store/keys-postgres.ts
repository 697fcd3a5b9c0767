import pg from "pg";
import type { KeyKind, StoredKey } from "../../certs/types.js";
import { openKey, sealedPrefix, sealKey } from "../keys/records.js";
import { StoreError } from "./errors.js";
import { openPostgresPool } from "./postgres-pool.js";
import { SCHEMA_LOCK_KEY } from "./postgres-schema.js";
import type { KeyStore } from "./types.js";

/** Mirrors the SQLite key tables; key_addresses is keyed by address first for lookups. */
const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS keys (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  source TEXT NOT NULL,
  material TEXT NOT NULL,
  private_material TEXT,
  not_after TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS keys_kind ON keys (kind, created_at);

CREATE TABLE IF NOT EXISTS key_addresses (
  key_id TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
  address TEXT NOT NULL,
  position INTEGER NOT NULL,
  PRIMARY KEY (address, key_id)
);
CREATE INDEX IF NOT EXISTS key_addresses_key ON key_addresses (key_id);
`;

const SELECT_KEY = `
SELECT k.*, ARRAY(SELECT address FROM key_addresses WHERE key_id = k.id ORDER BY position)
         AS addresses
  FROM keys k`;

interface KeyRow {
  id: string;
  kind: string;
  source: string;
  material: string;
  private_material: string | null;
  not_after: Date | null;
  created_at: Date;
  addresses: string[];
}

function toStoredKey(row: KeyRow): StoredKey {
  return {
    id: row.id,
    kind: row.kind as KeyKind,
    addresses: row.addresses,
    source: row.source as StoredKey["source"],
    material: row.material,
    privateMaterial: row.private_material ?? undefined,
    notAfter: row.not_after,
    createdAt: row.created_at,
  };
}

export interface PostgresKeyRepositoryOptions {
  /** Connection string; from store.url or SEALGATE_DATABASE_URL. */
  url: string | undefined;
  /** Key-encryption key (32 bytes) sealing private material; the same on every node. */
  kek: Buffer;
  /** Schema holding the tables, as PostgresStoreOptions.schema. Default: the search_path's. */
  schema?: string | undefined;
  /** Most connections held open; default 2 (key look-ups are short and few). */
  maxConnections?: number | undefined;
  /** How long to wait for a connection before failing; default 5000 ms. */
  connectTimeoutMs?: number | undefined;
}

/**
 * The key repository of the cluster store, on its own small pool so a command managing keys
 * does not open the queue. Every node sees a key as soon as the putKey transaction commits.
 */
export class PostgresKeyRepository implements KeyStore {
  readonly kind = "postgres" as const;
  readonly #pool: pg.Pool;
  readonly #kek: Buffer;
  #closed = false;

  private constructor(pool: pg.Pool, kek: Buffer) {
    this.#pool = pool;
    this.#kek = kek;
  }

  static async connect(options: PostgresKeyRepositoryOptions): Promise<PostgresKeyRepository> {
    const schema = options.schema;
    let repository: PostgresKeyRepository | undefined;
    await openPostgresPool(options, {
      defaultMax: 2,
      what: "key tables",
      setup: async (pool) => {
        repository = new PostgresKeyRepository(pool, options.kek);
        await repository.#transaction(async (client) => {
          // The store's lock: nodes starting together create the schema and tables in turn.
          await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [
            SCHEMA_LOCK_KEY.toString(),
          ]);
          if (schema !== undefined) {
            await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
            const { rows } = await client.query<{ s: string }>("SELECT current_schema() AS s");
            if (rows[0]?.s !== schema) {
              throw new StoreError(
                "STORE_CONFIG",
                "the connection's search_path overrides the schema",
              );
            }
          }
          await client.query(SCHEMA_SQL);
        });
      },
    });
    if (!repository) throw new StoreError("STORE_UNAVAILABLE", "key tables were not opened");
    return repository;
  }

  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    // A dropped connection is reported as an 'error' event; unheard, it would end the process.
    const onError = (err: Error) => (broken = err);
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch((rollbackErr: unknown) => {
        broken ??= rollbackErr instanceof Error ? rollbackErr : new Error("rollback failed");
      });
      throw err;
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  }

  /** The upsert locks the key's row first, so two nodes replacing one key take turns. */
  async putKey(key: StoredKey): Promise<void> {
    const row = sealKey(key, this.#kek);
    await this.#transaction(async (client) => {
      await client.query(
        `INSERT INTO keys (id, kind, source, material, private_material, not_after, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, source = excluded.source,
           material = excluded.material, private_material = excluded.private_material,
           not_after = excluded.not_after, created_at = excluded.created_at`,
        [
          row.id,
          row.kind,
          row.source,
          row.material,
          row.privateMaterial ?? null,
          row.notAfter,
          row.createdAt,
        ],
      );
      await client.query("DELETE FROM key_addresses WHERE key_id = $1", [row.id]);
      await client.query(
        `INSERT INTO key_addresses (key_id, address, position)
         SELECT $1, a.address, a.position
           FROM unnest($2::text[]) WITH ORDINALITY AS a(address, position)`,
        [row.id, row.addresses],
      );
    });
  }

  async keysForAddress(address: string, kinds: KeyKind[]): Promise<StoredKey[]> {
    if (kinds.length === 0) return [];
    const { rows } = await this.#pool.query<KeyRow>(
      `${SELECT_KEY} JOIN key_addresses a ON a.key_id = k.id
        WHERE a.address = $1 AND k.kind = ANY($2::text[])
        ORDER BY k.created_at DESC, k.id`,
      [address.trim().toLowerCase(), kinds],
    );
    return rows.map((r) => openKey(toStoredKey(r), this.#kek));
  }

  async listKeys(kinds?: KeyKind[]): Promise<StoredKey[]> {
    if (kinds?.length === 0) return [];
    const { rows } = await this.#pool.query<KeyRow>(
      `${SELECT_KEY} WHERE $1::text[] IS NULL OR k.kind = ANY($1::text[])
        ORDER BY k.created_at DESC, k.id`,
      [kinds ?? null],
    );
    return rows.map((r) => openKey(toStoredKey(r), this.#kek));
  }

  async removeKey(id: string): Promise<boolean> {
    return this.#transaction(async (client) => {
      await client.query("DELETE FROM key_addresses WHERE key_id = $1", [id]);
      const { rowCount } = await client.query("DELETE FROM keys WHERE id = $1", [id]);
      return (rowCount ?? 0) > 0;
    });
  }

  async sealedWithOtherKek(): Promise<string[]> {
    const { rows } = await this.#pool.query<{ id: string }>(
      `SELECT id FROM keys WHERE private_material IS NOT NULL
          AND NOT starts_with(private_material, $1) ORDER BY id`,
      [sealedPrefix(this.#kek)],
    );
    return rows.map((r) => r.id);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
