import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import {
  CaError,
  createCa,
  importCa,
  issueCertificate,
  issuedStoredKey,
  loadCaFiles,
  readPrivateKey,
  saveCaFiles,
  toPkcs12,
  type KeyAlgorithm,
} from "../certs/ca/index.js";
import { fingerprint, nodeCertificate, pemBlocks } from "../certs/x509.js";
import { openConfiguredRepository, type OpenKeyRepository } from "./keys.js";
import { configFromFlags, withConfigFlags, type CommonFlags } from "./options.js";

/** The CA passphrase comes from a file or the environment, never from the command line. */
async function secret(file: string | undefined, env: string, what: string): Promise<string> {
  if (file) return (await readFile(file, "utf8")).replace(/\r?\n$/, "");
  const value = process.env[env];
  if (value) return value;
  throw new CaError("ca_weak_passphrase", `${what}: set ${env} or pass --passphrase-file`);
}

function caDir(flags: CommonFlags): string {
  return path.join(configFromFlags(flags).config.dataDir, "ca");
}

/** Runs a command body; a CaError becomes one line on stderr and exit code 1. */
function run<A extends unknown[]>(
  body: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await body(...args);
    } catch (err) {
      if (!(err instanceof CaError)) throw err;
      process.stderr.write(`sealgate: ${err.message} (${err.code})\n`);
      process.exitCode = 1;
    }
  };
}

function describeCa(certPem: string): string {
  const der = pemBlocks(certPem)[0] as Buffer;
  const cert = nodeCertificate(der);
  return (
    `${cert.subject.replace(/\n/g, ", ")}` +
    `  expires ${new Date(cert.validTo).toISOString().slice(0, 10)}` +
    `  sha256 ${fingerprint(der)}`
  );
}

const LEAF_ALGORITHMS = ["rsa-3072", "rsa-2048", "ec-p256", "ec-p384"];

interface IssueFlags extends CommonFlags {
  out?: string;
  algorithm?: string;
  days?: string;
  format?: string;
  legacyP12?: boolean;
  passphraseFile?: string;
  p12PasswordFile?: string;
  store?: boolean;
}

export function registerCertsCommands(
  program: Command,
  open: OpenKeyRepository = openConfiguredRepository,
): void {
  const certs = program
    .command("certs")
    .description("the organisation's issuing CA and S/MIME certificates for staff");
  const ca = certs.command("ca").description("create, import or show the issuing CA");

  withConfigFlags(ca.command("init"))
    .option("--algorithm <alg>", "ec-p256 or rsa-3072 (default ec-p256)")
    .option("--name <cn>", 'subject common name (default "sealgate issuing CA")')
    .option("--days <n>", "validity in days (default 3650)")
    .option(
      "--passphrase-file <file>",
      "passphrase for the CA key (default $SEALGATE_CA_PASSPHRASE)",
    )
    .option("--force", "replace an existing CA")
    .description("create the issuing CA in <data>/ca; its key is stored encrypted")
    .action(
      run(
        async (
          flags: CommonFlags & {
            algorithm?: string;
            name?: string;
            days?: string;
            passphraseFile?: string;
            force?: boolean;
          },
        ) => {
          const algorithm = flags.algorithm ?? "ec-p256";
          if (algorithm !== "ec-p256" && algorithm !== "rsa-3072") {
            throw new CaError("ca_bad_key", "--algorithm must be ec-p256 or rsa-3072");
          }
          const passphrase = await secret(
            flags.passphraseFile,
            "SEALGATE_CA_PASSPHRASE",
            "CA passphrase",
          );
          const made = await createCa({
            passphrase,
            algorithm,
            name: flags.name,
            days: flags.days === undefined ? undefined : positive(flags.days, "--days"),
          });
          const dir = caDir(flags);
          await saveCaFiles(dir, made, { force: flags.force === true });
          process.stdout.write(`created CA in ${dir}: ${describeCa(made.certPem)}\n`);
        },
      ),
    );

  withConfigFlags(ca.command("import"))
    .argument("<cert>", "CA certificate (PEM)")
    .argument("<key>", "CA private key (PEM, encrypted or not)")
    .option("--key-passphrase-file <file>", "passphrase of the key file, when it is encrypted")
    .option(
      "--passphrase-file <file>",
      "passphrase to store the key with (default $SEALGATE_CA_PASSPHRASE)",
    )
    .option("--force", "replace an existing CA")
    .description("import an existing CA; its key is re-encrypted for storage")
    .action(
      run(
        async (
          certFile: string,
          keyFile: string,
          flags: CommonFlags & {
            keyPassphraseFile?: string;
            passphraseFile?: string;
            force?: boolean;
          },
        ) => {
          const passphrase = await secret(
            flags.passphraseFile,
            "SEALGATE_CA_PASSPHRASE",
            "CA passphrase",
          );
          const keyPassphrase = flags.keyPassphraseFile
            ? (await readFile(flags.keyPassphraseFile, "utf8")).replace(/\r?\n$/, "")
            : undefined;
          const read = async (f: string) =>
            readFile(f, "utf8").catch((err: unknown) => {
              throw new CaError("ca_bad_certificate", `cannot read ${f}`, { cause: err });
            });
          const imported = importCa(await read(certFile), await read(keyFile), {
            passphrase,
            keyPassphrase,
          });
          const dir = caDir(flags);
          await saveCaFiles(dir, imported, { force: flags.force === true });
          process.stdout.write(`imported CA into ${dir}: ${describeCa(imported.certPem)}\n`);
        },
      ),
    );

  withConfigFlags(ca.command("show"))
    .description("print the CA's subject, expiry and fingerprint")
    .action(
      run(async (flags: CommonFlags) => {
        const material = await loadCaFiles(caDir(flags));
        process.stdout.write(`${describeCa(material.certPem)}\n`);
      }),
    );

  withConfigFlags(certs.command("issue"))
    .argument("<address>", "the staff member's e-mail address")
    .option("--out <dir>", "where to write the files (default: the current folder)")
    .option("--algorithm <alg>", `${LEAF_ALGORITHMS.join(", ")} (default rsa-3072)`)
    .option("--days <n>", "validity in days (default 365)")
    .option("--format <fmt>", "p12 or pem (default p12)")
    .option("--legacy-p12", "3DES PKCS#12 for importers without AES (gpgsm 2.2, old Windows)")
    .option("--passphrase-file <file>", "CA key passphrase (default $SEALGATE_CA_PASSPHRASE)")
    .option(
      "--p12-password-file <file>",
      "PKCS#12 password (default $SEALGATE_P12_PASSWORD, else generated)",
    )
    .option("--store", "also keep it in the key store, so the gateway signs that member's mail")
    .description("issue an S/MIME certificate for a staff address from the CA")
    .action(run((address: string, flags: IssueFlags) => issue(address, flags, open)));
}

function positive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new CaError("ca_bad_key", `${flag} must be a positive whole number`);
  return n;
}

async function issue(address: string, flags: IssueFlags, open: OpenKeyRepository): Promise<void> {
  const algorithm = flags.algorithm ?? "rsa-3072";
  if (!LEAF_ALGORITHMS.includes(algorithm)) {
    throw new CaError("ca_bad_key", `--algorithm must be one of ${LEAF_ALGORITHMS.join(", ")}`);
  }
  const format = flags.format ?? "p12";
  if (format !== "p12" && format !== "pem")
    throw new CaError("ca_bad_key", "--format must be p12 or pem");
  const passphrase = await secret(flags.passphraseFile, "SEALGATE_CA_PASSPHRASE", "CA passphrase");
  const material = await loadCaFiles(caDir(flags));
  const issued = await issueCertificate(material, address, {
    passphrase,
    algorithm: algorithm as KeyAlgorithm,
    days: flags.days === undefined ? undefined : positive(flags.days, "--days"),
  });

  const out = path.resolve(flags.out ?? ".");
  await mkdir(out, { recursive: true });
  const base = path.join(
    out,
    address
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9.@+_-]/g, "_"),
  );
  await writeFile(`${base}.pem`, issued.certPem + issued.chainPem);
  const written = [`${base}.pem`];
  if (format === "pem") {
    await writeFile(`${base}.key`, issued.keyPem, { mode: 0o600 });
    written.push(`${base}.key`);
  } else {
    let password = flags.p12PasswordFile
      ? (await readFile(flags.p12PasswordFile, "utf8")).replace(/\r?\n$/, "")
      : process.env.SEALGATE_P12_PASSWORD;
    const generated = password === undefined;
    password ??= randomBytes(15).toString("base64url");
    const p12 = toPkcs12({
      key: readPrivateKey(issued.keyPem),
      certPem: issued.certPem,
      chainPem: issued.chainPem,
      password,
      name: address.trim().toLowerCase(),
      legacy: flags.legacyP12 === true,
    });
    await writeFile(`${base}.p12`, p12, { mode: 0o600 });
    written.push(`${base}.p12`);
    if (generated) process.stdout.write(`PKCS#12 password: ${password}\n`);
  }
  process.stdout.write(
    `issued certificate, expires ${issued.notAfter.toISOString().slice(0, 10)}:\n` +
      written.map((f) => `  ${f}\n`).join(""),
  );
  if (flags.store === true) {
    const opened = await open(flags);
    try {
      const stored = issuedStoredKey(issued, address);
      await opened.repository.putKey(stored);
      process.stdout.write(`stored as staff-smime ${stored.id} (private key sealed)\n`);
    } finally {
      await opened.close();
    }
  }
}
