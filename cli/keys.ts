import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
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

const KINDS: KeyKind[] = ["smime-cert", "pgp-public", "org-smime", "staff-smime", "org-pgp", "ca"];

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
    .argument(
      "<file>",
      "OpenPGP public key, certificate (PEM or DER), or with --org/--staff PKCS#12",
    )
    .argument("[keyfile]", "with --org/--staff: the certificate's private key (PEM)")
    .option("--org", "the organisation's own key (added to encrypted copies; signs when it can)")
    .option("--staff", "one staff member's S/MIME certificate (signs and reads their own mail)")
    .option("--password-file <file>", "password of a PKCS#12 file or encrypted key")
    .option("--password-env <name>", "environment variable holding that password")
    .option("--password-prompt", "ask for that password on the terminal")
    .description("store the keys in a file, with the addresses they are for")
    .action((file: string, keyFile: string | undefined, flags: ImportFlags) =>
      run(open, flags, async (repository) => {
        if (flags.org === true && flags.staff === true) {
          throw new KeysError("keys-unrecognised", "give --org or --staff, not both");
        }
        const owner =
          flags.org === true ? "organisation" : flags.staff === true ? "staff" : "recipient";
        const stored = await importKeys(repository, await readInput(file), {
          owner,
          keyBytes: keyFile === undefined ? undefined : await readInput(keyFile),
          password: await password(flags),
        });
        for (const k of stored) {
          const key = k.privateMaterial === undefined ? "" : " (private key stored, sealed)";
          process.stdout.write(`imported ${describe(k)}${key}\n`);
        }
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

interface ImportFlags extends CommonFlags {
  org?: boolean;
  staff?: boolean;
  passwordFile?: string;
  passwordEnv?: string;
  passwordPrompt?: boolean;
}

async function readInput(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch {
    throw new KeysError("keys-unrecognised", `cannot read ${file}`);
  }
}

/** The PKCS#12 or key password: from a file, a named variable or the terminal, never argv. */
async function password(flags: ImportFlags): Promise<string | undefined> {
  if (flags.passwordFile !== undefined) {
    return (await readInput(flags.passwordFile)).toString("utf8").replace(/\r?\n$/, "");
  }
  if (flags.passwordEnv !== undefined) {
    const value = process.env[flags.passwordEnv];
    if (value === undefined) {
      throw new KeysError("keys-password-needed", `${flags.passwordEnv} is not set`);
    }
    return value;
  }
  if (flags.passwordPrompt === true) return prompt("password: ");
  return undefined;
}

async function prompt(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new KeysError("keys-password-needed", "--password-prompt needs a terminal");
  }
  process.stderr.write(question);
  const silent = new Writable({ write: (_chunk, _enc, done) => done() });
  const rl = createInterface({ input: process.stdin, output: silent, terminal: true });
  try {
    return await new Promise<string>((resolve) => rl.question("", resolve));
  } finally {
    rl.close();
    process.stderr.write("\n");
  }
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
