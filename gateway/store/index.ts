import type { Config } from "../config/index.js";
import { loadKek } from "../keys/kek.js";
import type { Logger } from "../log.js";
import { PostgresKeyRepository } from "./keys-postgres.js";
import { SqliteKeyRepository } from "./keys-sqlite.js";
import { PostgresPortalStore } from "./portal-postgres.js";
import { SqlitePortalStore } from "./portal-sqlite.js";
import type { PortalStore } from "./portal-types.js";
import { PostgresStore } from "./postgres.js";
import { SqliteStore } from "./sqlite.js";
import type { KeyStore, Store } from "./types.js";

export type * from "./types.js";
export type * from "./portal-types.js";
export { SqlitePortalStore } from "./portal-sqlite.js";
export { PostgresPortalStore } from "./portal-postgres.js";
export { SqliteStore } from "./sqlite.js";
export { PostgresStore } from "./postgres.js";
export { SqliteKeyRepository } from "./keys-sqlite.js";
export { PostgresKeyRepository } from "./keys-postgres.js";
export { StoreError, type StoreErrorCode } from "./errors.js";

export interface OpenStoreOptions {
  /**
   * The caller is a command working beside a gateway that may be running (`sealgate queue`):
   * the embedded store leaves the gateway's leases alone. Default false (the gateway itself).
   */
  beside?: boolean | undefined;
}

/** Opens the store the configuration names: SQLite (embedded) or PostgreSQL (cluster). */
export async function openStore(config: Config, options: OpenStoreOptions = {}): Promise<Store> {
  if (config.store.kind === "postgres") {
    return PostgresStore.connect({ url: config.store.url });
  }
  return new SqliteStore({ dataDir: config.dataDir, keepLeases: options.beside === true });
}

export interface OpenKeyRepositoryOptions {
  /** Told when a key-encryption key is made in the data folder. Default: silent. */
  log?: Logger | undefined;
  /** Where SEALGATE_KEK is read. Default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
}

/**
 * Opens the key tables (certs/ KeyRepository) of the configured store, with the KEK from
 * SEALGATE_KEK, keys.kekFile or the data folder. Throws KekError or StoreError; close it after.
 */
export async function openKeyRepository(
  config: Config,
  options: OpenKeyRepositoryOptions = {},
): Promise<KeyStore> {
  const kek = loadKek(config, options);
  if (config.store.kind === "postgres") {
    return PostgresKeyRepository.connect({ url: config.store.url, kek });
  }
  return new SqliteKeyRepository({ dataDir: config.dataDir, kek });
}

/** Opens the portal tables of the configured store (gateway/portal uses them). */
export async function openPortalStore(config: Config): Promise<PortalStore> {
  if (config.store.kind === "postgres") {
    return PostgresPortalStore.connect({ url: config.store.url });
  }
  return new SqlitePortalStore({ dataDir: config.dataDir });
}
