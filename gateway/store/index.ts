import type { Config } from "../config/index.js";
import { PostgresStore } from "./postgres.js";
import { SqliteStore } from "./sqlite.js";
import type { Store } from "./types.js";

export type * from "./types.js";
export { SqliteStore } from "./sqlite.js";
export { PostgresStore } from "./postgres.js";
export { StoreError, type StoreErrorCode } from "./errors.js";

/** Opens the store the configuration names: SQLite (embedded) or PostgreSQL (cluster). */
export async function openStore(config: Config): Promise<Store> {
  if (config.store.kind === "postgres") {
    return PostgresStore.connect({ url: config.store.url });
  }
  return new SqliteStore({ dataDir: config.dataDir });
}
