import pg from "pg";
import { StoreError } from "./errors.js";
import { isSchemaName } from "./postgres-schema.js";

/** What every PostgreSQL store of the cluster is opened with. */
export interface PostgresPoolOptions {
  url?: string | undefined;
  /** Tables go into this schema (created when missing). Default: the connection's own. */
  schema?: string | undefined;
  maxConnections?: number | undefined;
  connectTimeoutMs?: number | undefined;
  /** Called when an idle connection breaks; the pool drops and replaces it either way. */
  onIdleError?: ((err: Error) => void) | undefined;
}

/**
 * Opens a pool for one of the cluster stores (queue, portal, keys) and runs its `setup`
 * (tables, migrations). A missing URL or a bad schema name is a StoreError naming the setting;
 * anything else is STORE_UNAVAILABLE with pg's reason as the cause and the URL kept out of the
 * text. The pool is closed again when setup fails.
 */
export async function openPostgresPool(
  options: PostgresPoolOptions,
  o: { defaultMax: number; what: string; setup: (pool: pg.Pool) => Promise<void> },
): Promise<pg.Pool> {
  if (!options.url) {
    throw new StoreError(
      "STORE_CONFIG",
      "store.kind postgres needs store.url (or SEALGATE_DATABASE_URL)",
    );
  }
  const schema = options.schema;
  if (schema !== undefined && !isSchemaName(schema)) {
    throw new StoreError("STORE_CONFIG", "store schema must be a lower-case SQL identifier");
  }
  let pool: pg.Pool | undefined;
  try {
    pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? o.defaultMax,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
    });
    pool.on("error", options.onIdleError ?? (() => undefined));
    await o.setup(pool);
    return pool;
  } catch (err) {
    await pool?.end().catch(() => undefined);
    if (err instanceof StoreError) throw err;
    throw new StoreError("STORE_UNAVAILABLE", `cannot open the PostgreSQL ${o.what}`, {
      cause: err,
    });
  }
}
