import type { Command } from "commander";
import { stringify } from "yaml";
import { loadPolicyFile } from "../policy/index.js";
import { configFromFlags, withConfigFlags, type CommonFlags } from "./options.js";

const SECRET_KEYS = new Set(["secret", "password"]);

/** A URL is a secret only when it carries credentials (a database URL with a password). */
function isSecret(key: string, value: unknown): boolean {
  if (!value) return false;
  if (SECRET_KEYS.has(key)) return true;
  return key === "url" && typeof value === "string" && /\/\/[^/]*@/.test(value);
}

function mask(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(mask);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, isSecret(k, v) ? "(set)" : mask(v)]),
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
    .description("validate a configuration file and the policy it names; exit 1 naming each error")
    .action(async (file: string) => {
      const { config: cfg } = configFromFlags({ config: file });
      // The gateway refuses to start on a policy that does not load; say so here first.
      if (cfg.policy.file) {
        try {
          await loadPolicyFile(cfg.policy.file);
        } catch (err) {
          process.stderr.write(`sealgate: ${file}: policy.file: ${(err as Error).message}\n`);
          process.exitCode = 1;
          return;
        }
      }
      process.stdout.write(`${file}: ok\n`);
    });
}
