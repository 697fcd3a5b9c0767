import type { Command } from "commander";
import { stringify } from "yaml";
import { configFromFlags, withConfigFlags, type CommonFlags } from "./options.js";

const SECRET_KEYS = new Set(["secret", "password", "url"]);

function mask(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(mask);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, SECRET_KEYS.has(k) && v ? "(set)" : mask(v)]),
  );
}

export function registerConfigCommands(program: Command): void {
  const config = program.command("config").description("inspect the configuration");
  withConfigFlags(config.command("print"))
    .description("print the effective configuration (defaults filled in, secrets masked)")
    .action((flags: CommonFlags) => {
      const { config: cfg } = configFromFlags(flags);
      process.stdout.write(stringify(mask(cfg)));
    });
  config
    .command("check")
    .argument("<file>", "YAML configuration file")
    .description("validate a configuration file; exit 1 naming each bad key")
    .action((file: string) => {
      configFromFlags({ config: file });
      process.stdout.write(`${file}: ok\n`);
    });
}
