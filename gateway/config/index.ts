import { hostname } from "node:os";
import { readFileSync } from "node:fs";
import path from "node:path";
import { isMap, LineCounter, parseDocument, type Node as YamlNode } from "yaml";
import { configSchema, type Config } from "./schema.js";

export type {
  Config,
  ConnectorConfig,
  DeliveryConfig,
  PortalConfig,
  SmtpConfig,
} from "./schema.js";
export { configSchema } from "./schema.js";

/** A configuration file that cannot be used; the message names the key and the reason. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "CONFIG_INVALID";
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[], options?: { cause?: unknown }) {
    super(`${source}: invalid configuration\n  ${problems.join("\n  ")}`, options);
    this.problems = problems;
  }
}

/** Command-line overrides, applied after the file and the environment. */
export interface ConfigOverrides {
  dataDir?: string | undefined;
  smtpListen?: string | undefined;
  httpListen?: string | undefined;
}

export interface LoadedConfig {
  config: Config;
  /** The file it came from, or null for the embedded default. */
  file: string | null;
}

/** Reads, validates and resolves the configuration. Throws ConfigError naming each bad key. */
export function loadConfig(
  file: string | null,
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  let raw: unknown = {};
  let locate: (keyPath: readonly PropertyKey[]) => string = () => "";
  const source = file ?? "embedded default";

  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigError(source, [`cannot read file: ${(err as Error).message}`], {
        cause: err,
      });
    }
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    if (doc.errors.length > 0) {
      throw new ConfigError(
        source,
        doc.errors.map((e) => {
          const at = lines.linePos(e.pos[0]);
          return `line ${at.line}, column ${at.col}: ${e.message.split(" at line")[0]}`;
        }),
      );
    }
    raw = doc.toJS() ?? {};
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new ConfigError(source, ["the file must hold a mapping of keys"]);
    }
    locate = (keyPath) => {
      const node = doc.getIn(keyPath as unknown[], true) as YamlNode | undefined;
      const parentRange =
        node?.range ??
        (isMap(doc.contents)
          ? (doc.getIn(keyPath.slice(0, -1) as unknown[], true) as YamlNode)?.range
          : undefined);
      if (!parentRange) return "";
      const pos = lines.linePos(parentRange[0]);
      return ` (line ${pos.line})`;
    };
  }

  const merged = applyEnvironment(dropEmpty(raw) as Record<string, unknown>, env);
  applyOverrides(merged, overrides);

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    throw new ConfigError(
      source,
      parsed.error.issues.map((i) => {
        const key = i.path.length > 0 ? i.path.join(".") : "(top level)";
        return `${key}${locate(i.path)}: ${i.message}`;
      }),
    );
  }

  const config = parsed.data;
  if (config.dkim && !config.dkim.privateKeyFile && !env.SEALGATE_DKIM_KEY) {
    throw new ConfigError(source, [
      `dkim.privateKeyFile${locate(["dkim"])}: required unless SEALGATE_DKIM_KEY holds the key`,
    ]);
  }
  const base = file ? path.dirname(path.resolve(file)) : process.cwd();
  resolvePaths(config, base);
  config.delivery.outboxDir ??= path.join(config.dataDir, "outbox");
  return { config, file };
}

/**
 * Every key naming a file or folder (`…File`, `…Dir`, and `policy.file`) is resolved against
 * the configuration file's folder, so the file means the same from any working directory.
 */
function resolvePaths(node: unknown, base: string): void {
  if (typeof node !== "object" || node === null) return;
  const obj = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(obj)) {
    if (typeof value === "string" && (/(File|Dir)$/.test(key) || key === "file")) {
      obj[key] = path.resolve(base, value);
    } else {
      resolvePaths(value, base);
    }
  }
}

/**
 * A key with an empty value (`policy:` followed only by comments) means "use the default",
 * as an admin who comments out every line of a section expects.
 */
function dropEmpty(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropEmpty);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, dropEmpty(v)]),
  );
}

function section(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const existing = obj[key];
  if (typeof existing === "object" && existing !== null && !Array.isArray(existing)) {
    return existing as Record<string, unknown>;
  }
  const created: Record<string, unknown> = {};
  obj[key] = created;
  return created;
}

/** Secrets may come from the environment so they need not sit in the file. */
function applyEnvironment(
  cfg: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  if (env.SEALGATE_LOOP_SECRET) section(cfg, "loopGuard").secret = env.SEALGATE_LOOP_SECRET;
  if (env.SEALGATE_DATABASE_URL) section(cfg, "store").url = env.SEALGATE_DATABASE_URL;
  if (env.SEALGATE_SMARTHOST_PASSWORD) {
    const delivery = section(cfg, "delivery");
    section(delivery, "smartHost").password = env.SEALGATE_SMARTHOST_PASSWORD;
  }
  return cfg;
}

function applyOverrides(cfg: Record<string, unknown>, o: ConfigOverrides): void {
  if (o.dataDir) {
    cfg.dataDir = path.resolve(o.dataDir);
    const delivery = section(cfg, "delivery");
    if (!delivery.outboxDir) delivery.outboxDir = path.join(cfg.dataDir as string, "outbox");
  }
  if (o.smtpListen) section(cfg, "smtp").listen = o.smtpListen;
  if (o.httpListen) cfg.httpListen = o.httpListen;
}

/** Splits "host:port" or "[v6]:port". The schema has already checked the shape. */
export function splitHostPort(value: string): { host: string; port: number } {
  const idx = value.lastIndexOf(":");
  const host = value.slice(0, idx).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(value.slice(idx + 1)) };
}

/**
 * The name sealgate gives itself to other servers (EHLO) and in the reports it writes (DSN
 * Reporting-MTA): delivery.heloName, else smtp.hostname, else the machine's host name.
 */
export function mtaName(config: Config): string {
  return config.delivery.heloName ?? config.smtp.hostname ?? hostname();
}
