import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { KeysError, importKeys, listKeys, removeKey } from "../certs/keys.js";
import type { KeyKind, KeyRepository, StoredKey } from "../certs/types.js";
import { openKeyRepository } from "../gateway/store/index.js";
import { configFromFlags, withConfigFlags, type CommonFlags } from "./options.js";

/** A key repository opened for one command, closed when it is done. */
export interface OpenedRepository {
  repository: KeyRepository;
  close(): Promise<void>;
}

export type OpenKeyRepository = (flags: CommonFlags) => Promise<OpenedRepository>;

const KINDS: KeyKind[] = ["smime-cert", "pgp-public", "org-smime", "org-pgp", "ca"];

/** The key tables of the configured store (SQLite or PostgreSQL), private keys sealed. */
export const openConfiguredRepository: OpenKeyRepository = async (flags) => {
  const { config } = configFromFlags(flags);
  const keys = await openKeyRepository(config);
  return { repository: keys, close: () => keys.close() };
};

/** `sealgate keys import|list|remove`; `open` chooses where keys live. */
export function registerKeysCommands(
  program: Command,
  open: OpenKeyRepository = openConfiguredRepository,
): void {
  const keys = program.command("keys").description("manage recipients' and our own public keys");

  withConfigFlags(keys.command("import"))
    .argument("<file>", "OpenPGP public key (armored or binary) or certificate (PEM or DER)")
    .option("--org", "the organisation's own key (added to encrypted copies for the archive)")
    .description("store the keys in a file, with the addresses they are for")
    .action((file: string, flags: CommonFlags & { org?: boolean }) =>
      run(open, flags, async (repository) => {
        let bytes: Buffer;
        try {
          bytes = await readFile(file);
        } catch {
          throw new KeysError("keys-unrecognised", `cannot read ${file}`);
        }
        const stored = await importKeys(repository, bytes, { organisation: flags.org === true });
        for (const k of stored) process.stdout.write(`imported ${describe(k)}\n`);
      }),
    );

  withConfigFlags(keys.command("list"))
    .option("--kind <kind>", `only one kind: ${KINDS.join(", ")}`)
    .option("--json", "one JSON object per key")
    .description("list stored keys: kind, fingerprint, source, expiry, addresses")
    .action((flags: CommonFlags & { kind?: string; json?: boolean }) =>
      run(open, flags, async (repository) => {
        if (flags.kind !== undefined && !KINDS.includes(flags.kind as KeyKind)) {
          throw new KeysError("keys-unrecognised", `unknown kind ${flags.kind}`);
        }
        const list = await listKeys(repository, flags.kind ? [flags.kind as KeyKind] : undefined);
        for (const k of list) {
          if (flags.json === true) {
            const { id, kind, addresses, source, notAfter, createdAt } = k;
            const row = { id, kind, addresses, source, notAfter, createdAt };
            process.stdout.write(`${JSON.stringify(row)}\n`);
          } else {
            process.stdout.write(`${describe(k)}\n`);
          }
        }
        if (list.length === 0 && flags.json !== true) process.stdout.write("no keys\n");
      }),
    );

  withConfigFlags(keys.command("remove"))
    .argument("<id>", "fingerprint, or its last 8+ hex digits (a PGP key ID)")
    .description("remove a stored key")
    .action((id: string, flags: CommonFlags) =>
      run(open, flags, async (repository) => {
        const removed = await removeKey(repository, id);
        process.stdout.write(`removed ${describe(removed)}\n`);
      }),
    );
}

function describe(k: StoredKey): string {
  const expiry = k.notAfter ? `expires ${k.notAfter.toISOString().slice(0, 10)}` : "no expiry";
  return `${k.kind} ${k.id} ${k.source} ${expiry} ${k.addresses.join(",")}`;
}

async function run(
  open: OpenKeyRepository,
  flags: CommonFlags,
  work: (repository: KeyRepository) => Promise<void>,
): Promise<void> {
  let opened: OpenedRepository | undefined;
  try {
    opened = await open(flags);
    await work(opened.repository);
  } catch (err) {
    if (!(err instanceof KeysError)) throw err;
    process.stderr.write(`sealgate: ${err.message}\n`);
    process.exitCode = 1;
  } finally {
    await opened?.close();
  }
}
