import type { Command } from "commander";
import { loadConfig, type LoadedConfig } from "../gateway/config/index.js";

/** The flags every command that reads the configuration accepts. */
export interface CommonFlags {
  config?: string;
  data?: string;
  smtp?: string;
  http?: string;
}

export function withConfigFlags(cmd: Command): Command {
  return cmd
    .option("-c, --config <file>", "YAML configuration file (default: embedded default)")
    .option("--data <dir>", "data folder: SQLite store, generated keys, outbox (default ./data)")
    .option("--smtp <host:port>", "SMTP listen address (default 127.0.0.1:2525)")
    .option("--http <host:port>", "HTTP listen address (default 127.0.0.1:8080)");
}

export function configFromFlags(flags: CommonFlags): LoadedConfig {
  return loadConfig(flags.config ?? process.env.SEALGATE_CONFIG ?? null, {
    dataDir: flags.data,
    smtpListen: flags.smtp,
    httpListen: flags.http,
  });
}
