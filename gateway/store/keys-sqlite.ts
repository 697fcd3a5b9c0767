import type Database from "better-sqlite3";
import type { KeyKind, StoredKey } from "../../certs/types.js";
import { openKey, sealedPrefix, sealKey } from "../keys/records.js";
import { openSqliteFile } from "./sqlite-file.js";
import type { KeyStore } from "./types.js";

/**
 * Key tables in the embedded store's file. key_addresses is keyed by address first, so a
 * recipient's keys are one index lookup; it follows its key on replace and delete.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS keys (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  source TEXT NOT NULL,
  material TEXT NOT NULL,
  private_material TEXT,
  not_after INTEGER,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS keys_kind ON keys(kind, created_at);

CREATE TABLE IF NOT EXISTS key_addresses (
  key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
  address TEXT NOT NULL,
  position INTEGER NOT NULL,
  PRIMARY KEY (address, key_id)
);
CREATE INDEX IF NOT EXISTS key_addresses_key ON key_addresses(key_id);
`;

/** Every read returns the key with its addresses in the order they were put. */
const SELECT_KEY = `
SELECT k.*, (SELECT json_group_array(address) FROM
              (SELECT address FROM key_addresses WHERE key_id = k.id ORDER BY position))
         AS addresses
  FROM keys k`;

interface KeyRow {
  id: string;
  kind: string;
  source: string;
  material: string;
  private_material: string | null;
  not_after: number | null;
  created_at: number;
  addresses: string;
}

function toStoredKey(row: KeyRow): StoredKey {
  return {
    id: row.id,
    kind: row.kind as KeyKind,
    addresses: JSON.parse(row.addresses) as string[],
    source: row.source as StoredKey["source"],
    material: row.material,
    privateMaterial: row.private_material ?? undefined,
    notAfter: row.not_after === null ? null : new Date(row.not_after),
    createdAt: new Date(row.created_at),
  };
}

function placeholders(count: number): string {
  return Array.from({ length: count }, () => "?").join(", ");
}

export interface SqliteKeyRepositoryOptions {
  /** Folder holding sealgate.db (the embedded store's file). */
  dataDir: string;
  /** Key-encryption key (32 bytes) sealing private material; see gateway/keys/kek.ts. */
  kek: Buffer;
}

/**
 * The key repository of the embedded store. It opens its own connection to sealgate.db, so
 * commands that only manage keys need neither the queue nor a running gateway; WAL mode lets
 * it share the file with the gateway's store.
 */
export class SqliteKeyRepository implements KeyStore {
  readonly kind = "sqlite" as const;
  readonly #db: Database.Database;
  readonly #kek: Buffer;

  constructor(options: SqliteKeyRepositoryOptions) {
    this.#kek = options.kek;
    this.#db = openSqliteFile(options.dataDir);
    this.#db.exec(SCHEMA);
  }

  async putKey(key: StoredKey): Promise<void> {
    const row = sealKey(key, this.#kek);
    this.#db.transaction(() => {
      this.#db
        .prepare(
          `INSERT INTO keys (id, kind, source, material, private_material, not_after, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, source = excluded.source,
             material = excluded.material, private_material = excluded.private_material,
             not_after = excluded.not_after, created_at = excluded.created_at`,
        )
        .run(
          row.id,
          row.kind,
          row.source,
          row.material,
          row.privateMaterial ?? null,
          row.notAfter?.getTime() ?? null,
          row.createdAt.getTime(),
        );
      this.#db.prepare("DELETE FROM key_addresses WHERE key_id = ?").run(row.id);
      const insert = this.#db.prepare(
        "INSERT INTO key_addresses (key_id, address, position) VALUES (?, ?, ?)",
      );
      row.addresses.forEach((address, position) => insert.run(row.id, address, position));
    })();
  }

  async keysForAddress(address: string, kinds: KeyKind[]): Promise<StoredKey[]> {
    if (kinds.length === 0) return [];
    const rows = this.#db
      .prepare(
        `${SELECT_KEY} JOIN key_addresses a ON a.key_id = k.id
          WHERE a.address = ? AND k.kind IN (${placeholders(kinds.length)})
          ORDER BY k.created_at DESC, k.id`,
      )
      .all(address.trim().toLowerCase(), ...kinds) as KeyRow[];
    return rows.map((r) => openKey(toStoredKey(r), this.#kek));
  }

  async listKeys(kinds?: KeyKind[]): Promise<StoredKey[]> {
    if (kinds?.length === 0) return [];
    const where = kinds ? `WHERE k.kind IN (${placeholders(kinds.length)})` : "";
    const rows = this.#db
      .prepare(`${SELECT_KEY} ${where} ORDER BY k.created_at DESC, k.id`)
      .all(...(kinds ?? [])) as KeyRow[];
    return rows.map((r) => openKey(toStoredKey(r), this.#kek));
  }

  async removeKey(id: string): Promise<boolean> {
    return this.#db.transaction(() => {
      this.#db.prepare("DELETE FROM key_addresses WHERE key_id = ?").run(id);
      return this.#db.prepare("DELETE FROM keys WHERE id = ?").run(id).changes > 0;
    })();
  }

  async sealedWithOtherKek(): Promise<string[]> {
    const rows = this.#db
      .prepare(
        `SELECT id FROM keys WHERE private_material IS NOT NULL
           AND substr(private_material, 1, ?) <> ? ORDER BY id`,
      )
      .all(sealedPrefix(this.#kek).length, sealedPrefix(this.#kek)) as { id: string }[];
    return rows.map((r) => r.id);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
