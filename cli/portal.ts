import type { Command } from "commander";
import { loadKek } from "../gateway/keys/kek.js";
import { silentLogger } from "../gateway/log.js";
import { PortalCore } from "../gateway/portal/core.js";
import { openPortalStore, openStore } from "../gateway/store/index.js";
import { configFromFlags, withConfigFlags, type CommonFlags } from "./options.js";

/** `sealgate portal list|revoke|sweep`: the admin's side of the recipient portal. */

async function withPortal<T>(flags: CommonFlags, fn: (portal: PortalCore) => Promise<T>) {
  const { config } = configFromFlags(flags);
  const queue = await openStore(config, { beside: true });
  const store = await openPortalStore(config).catch(async (err: unknown) => {
    await queue.close();
    throw err;
  });
  try {
    const kek = loadKek(config);
    const portal = new PortalCore({ portal: store, queue, config, kek, logger: silentLogger() });
    return await fn(portal);
  } finally {
    await store.close();
    await queue.close();
  }
}

const day = (d: Date) => d.toISOString().replace("T", " ").slice(0, 16);

export function registerPortalCommands(program: Command): void {
  const portal = program
    .command("portal")
    .description("recipient portal: list, revoke, account, sweep");

  withConfigFlags(portal.command("list"))
    .option("--limit <n>", "newest N messages", "50")
    .option("--json", "print JSON")
    .description("portal messages, newest first: id, queue id, status, dates (no content)")
    .action((flags: CommonFlags & { limit: string; json?: boolean }) =>
      withPortal(flags, async (p) => {
        const list = await p.list(Number(flags.limit) || 50);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          return;
        }
        for (const m of list) {
          process.stdout.write(
            `${m.portalId}  ${m.direction.padEnd(8)} ${m.status.padEnd(7)} queue ${m.queueId}  ` +
              `sent ${day(m.sentAt)}  until ${day(m.expiresAt)}\n`,
          );
        }
        if (list.length === 0) process.stdout.write("no portal messages\n");
      }),
    );

  withConfigFlags(portal.command("revoke"))
    .argument("<id>", "portal id (from `sealgate portal list` or the trace's portal:stored)")
    .option("--by <name>", "who revokes, for the audit trail", process.env.USER ?? "admin")
    .description("withdraw a portal message: its body and key are deleted, the link says so")
    .action((id: string, flags: CommonFlags & { by: string }) =>
      withPortal(flags, async (p) => {
        const result = await p.revoke(id.trim(), flags.by);
        if (result === "not-found") {
          process.stderr.write(`sealgate: no portal message ${id}\n`);
          process.exitCode = 1;
          return;
        }
        process.stdout.write(
          result === "revoked" ? `revoked ${id}\n` : `${id} was already revoked\n`,
        );
      }),
    );

  withConfigFlags(portal.command("account"))
    .argument("<address>", "a recipient's address")
    .description("the account reference (acct-…) that stands for this address in events and logs")
    .action((address: string, flags: CommonFlags) =>
      withPortal(flags, async (p) => {
        process.stdout.write(`${p.accountRef(address)}\n`);
      }),
    );

  withConfigFlags(portal.command("sweep"))
    .description("delete the bodies and keys of expired portal messages now")
    .action((flags: CommonFlags) =>
      withPortal(flags, async (p) => {
        const n = await p.sweepExpired();
        process.stdout.write(`deleted ${n} expired message body(ies)\n`);
      }),
    );
}
