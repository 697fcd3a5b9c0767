import type { Command } from "commander";
import type { Config } from "../gateway/config/index.js";
import { dropHeld, listHeld, releaseHeld, type AdminResult } from "../gateway/queue/index.js";
import { openStore, type ReleaseAs, type Store } from "../gateway/store/index.js";
import { configFromFlags, withConfigFlags, type CommonFlags } from "./options.js";

/**
 * `sealgate queue`: held mail for an admin. Works against the store while the gateway runs:
 * a released message is picked up by the gateway's next look at the queue (within
 * delivery's idle interval, 30 s), on any node of a cluster.
 */

async function withStore(
  flags: CommonFlags,
  work: (store: Store, config: Config) => Promise<void>,
): Promise<void> {
  const { config } = configFromFlags(flags);
  const store = await openStore(config, { beside: true });
  try {
    await work(store, config);
  } finally {
    await store.close();
  }
}

/** A name for the audit trail: printable, one line, bounded. */
function adminName(by: string): string | null {
  const name = by.trim();
  return /^[\p{L}\p{N}._@+-]{1,64}$/u.test(name) ? name : null;
}

function answer(result: AdminResult, done: string): void {
  if (result.kind === "refused") {
    process.stderr.write(`sealgate: ${result.message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${done}\n`);
}

function refuseName(): void {
  process.stderr.write("sealgate: --by takes a name (letters, digits, . _ @ + -; 64 at most)\n");
  process.exitCode = 1;
}

export function registerQueueCommands(program: Command): void {
  const queue = program.command("queue").description("held messages: list, release, drop");
  const defaultBy = process.env.USER ?? "admin";

  withConfigFlags(queue.command("held"))
    .option("--json", "print the list as JSON")
    .description("list held messages, newest first: queue id, time, reason, rules, recipients")
    .action((flags: CommonFlags & { json?: boolean }) =>
      withStore(flags, async (store) => {
        const held = await listHeld(store);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(held, null, 2)}\n`);
          return;
        }
        for (const m of held) {
          const rules = m.rules.length > 0 ? `  rules ${m.rules.join(",")}` : "";
          process.stdout.write(
            `${m.id}  ${m.receivedAt.toISOString()}  ${m.reason}${rules}  ` +
              `recipients ${m.recipientCount}  connector ${m.connector}\n`,
          );
        }
        if (held.length === 0) process.stdout.write("no held messages\n");
      }),
    );

  withConfigFlags(queue.command("release"))
    .argument("<id>", "queue id (from `sealgate queue held`)")
    .option("--as <route>", "encrypt: each recipient's secure method; clean: unchanged", "encrypt")
    .option("--by <name>", "who releases, for the audit trail", defaultBy)
    .description("route a held message again, without holding it again (default: encrypted)")
    .action((id: string, flags: CommonFlags & { as: string; by: string }) => {
      if (flags.as !== "encrypt" && flags.as !== "clean") {
        process.stderr.write(`sealgate: --as takes encrypt or clean\n`);
        process.exitCode = 1;
        return;
      }
      const as: ReleaseAs = flags.as;
      const by = adminName(flags.by);
      if (by === null) return refuseName();
      return withStore(flags, async (store) => {
        const result = await releaseHeld(store, id, { as, by });
        answer(result, `released ${id.trim().toUpperCase()} as ${as}`);
      });
    });

  withConfigFlags(queue.command("drop"))
    .argument("<id>", "queue id (from `sealgate queue held`)")
    .option("--by <name>", "who deletes, for the audit trail", defaultBy)
    .description("delete a held message; its sender gets a delivery failure notice")
    .action((id: string, flags: CommonFlags & { by: string }) => {
      const by = adminName(flags.by);
      if (by === null) return refuseName();
      return withStore(flags, async (store, config) => {
        const result = await dropHeld(store, id, { by, config });
        answer(result, `dropped ${id.trim().toUpperCase()}`);
      });
    });
}
