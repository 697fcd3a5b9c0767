import type { Config } from "../config/index.js";
import { SqliteStore } from "./sqlite.js";
import type { Store } from "./types.js";

export type * from "./types.js";
export { SqliteStore } from "./sqlite.js";

/** Opens the store the configuration names: SQLite (embedded) or PostgreSQL (cluster). */
export async function openStore(config: Config): Promise<Store> {
  if (config.store.kind === "postgres") {
    throw new Error("store.kind postgres: the PostgreSQL store is not built yet");
  }
  return new SqliteStore({ dataDir: config.dataDir });
}
