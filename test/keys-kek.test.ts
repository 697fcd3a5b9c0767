/** The key-encryption key: where it comes from, and sealing that never yields garbage. */

import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t, { type Test } from "tap";
import {
  GENERATED_KEK_FILE,
  KekError,
  type KekConfig,
  type KekErrorCode,
  loadKek,
  openPrivate,
  sealPrivate,
} from "../gateway/keys/index.js";
import { createLogger } from "../gateway/log.js";

const SECRET =
  "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----\n";

function refused(t: Test, work: () => unknown, code: KekErrorCode): void {
  let err: unknown;
  try {
    work();
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof KekError, `refused with a KekError (${code})`);
  t.equal((err as KekError).code, code);
}

function folder(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-kek-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function capture() {
  const lines: string[] = [];
  const log = createLogger({ level: "info", destination: { write: (s: string) => lines.push(s) } });
  return { log, lines };
}

const sqliteConfig = (dataDir: string, kekFile?: string): KekConfig => ({
  dataDir,
  keys: { kekFile },
  store: { kind: "sqlite" },
});

t.test("a sealed private key opens back to the same text, and each sealing differs", async (t) => {
  const kek = randomBytes(32);
  const once = sealPrivate(SECRET, kek, { context: "key-1" });
  const twice = sealPrivate(SECRET, kek, { context: "key-1" });
  t.not(once, twice, "a fresh nonce every time");
  t.notMatch(once, "PRIVATE KEY");
  t.equal(openPrivate(once, kek, { context: "key-1" }), SECRET);
  t.equal(openPrivate(sealPrivate("", kek), kek), "", "even an empty value round-trips");
});

t.test("the wrong KEK, context or bytes give a coded error, never garbage", async (t) => {
  const kek = randomBytes(32);
  const sealed = sealPrivate(SECRET, kek, { context: "key-1" });

  refused(t, () => openPrivate(sealed, randomBytes(32), { context: "key-1" }), "KEK_MISMATCH");
  refused(t, () => openPrivate(sealed, kek, { context: "key-2" }), "KEK_CORRUPT");
  refused(t, () => openPrivate(sealed, kek), "KEK_CORRUPT");
  refused(t, () => openPrivate(SECRET, kek), "KEK_CORRUPT");
  refused(t, () => openPrivate(sealed.replace(/^sgk1/, "sgk9"), kek), "KEK_CORRUPT");
  refused(t, () => openPrivate(sealed.split(".").slice(0, 4).join("."), kek), "KEK_CORRUPT");
  const parts = sealed.split(".");
  parts[3] = Buffer.from(parts[3] ?? "", "base64url")
    .reverse()
    .toString("base64url");
  refused(t, () => openPrivate(parts.join("."), kek, { context: "key-1" }), "KEK_CORRUPT");
  refused(t, () => sealPrivate(SECRET, randomBytes(16)), "KEK_INVALID");
});

t.test("SEALGATE_KEK wins over keys.kekFile, in standard or URL-safe base64", async (t) => {
  const dir = folder(t);
  const fromEnv = randomBytes(32);
  const file = path.join(dir, "kek");
  writeFileSync(file, randomBytes(32).toString("base64"), { mode: 0o600 });

  const config = sqliteConfig(dir, file);
  t.ok(loadKek(config, { env: { SEALGATE_KEK: fromEnv.toString("base64") } }).equals(fromEnv));
  t.ok(loadKek(config, { env: { SEALGATE_KEK: fromEnv.toString("base64url") } }).equals(fromEnv));
  t.notOk(existsSync(path.join(dir, GENERATED_KEK_FILE)), "nothing is generated");
});

t.test("a KEK that is not 32 bytes of base64 is refused, with no fallback", async (t) => {
  const dir = folder(t);
  const config = sqliteConfig(dir);
  for (const bad of [randomBytes(16).toString("base64"), "not a key at all", "é".repeat(44)]) {
    refused(t, () => loadKek(config, { env: { SEALGATE_KEK: bad } }), "KEK_INVALID");
  }
  const short = path.join(dir, "short");
  writeFileSync(short, randomBytes(31).toString("base64"), { mode: 0o600 });
  refused(t, () => loadKek(sqliteConfig(dir, short), { env: {} }), "KEK_INVALID");
  refused(t, () => loadKek(sqliteConfig(dir, path.join(dir, "none")), { env: {} }), "KEK_INVALID");
  t.notOk(existsSync(path.join(dir, GENERATED_KEK_FILE)), "a broken KEK is not replaced");
});

t.test("keys.kekFile is read, and a file others can read is reported", async (t) => {
  const dir = folder(t);
  const kek = randomBytes(32);
  const file = path.join(dir, "kek");
  writeFileSync(file, `${kek.toString("base64")}\n`);
  chmodSync(file, 0o644);
  const { log, lines } = capture();

  t.ok(loadKek(sqliteConfig(dir, file), { env: {}, log }).equals(kek));
  t.match(lines.join(""), /readable by other users/);
  t.notMatch(lines.join(""), kek.toString("base64"), "the key is never logged");
});

t.test(
  "the embedded default makes a KEK in the data folder once, mode 0600, and says so",
  async (t) => {
    const dir = path.join(folder(t), "data");
    const { log, lines } = capture();

    const first = loadKek(sqliteConfig(dir), { env: {}, log });
    const file = path.join(dir, GENERATED_KEK_FILE);
    t.equal(statSync(file).mode & 0o777, 0o600);
    t.equal(lines.length, 1, "one log line");
    t.match(JSON.parse(lines[0] ?? "{}"), { level: "info", file, msg: /key-encryption key/ });
    t.notMatch(lines[0], first.toString("base64"), "the key is never logged");

    const again = loadKek(sqliteConfig(dir), { env: {}, log });
    t.ok(again.equals(first), "the same key on the next start");
    t.equal(lines.length, 1, "and no second announcement");
  },
);

t.test("cluster mode refuses to make a KEK of its own", async (t) => {
  const dir = folder(t);
  const config: KekConfig = { dataDir: dir, keys: {}, store: { kind: "postgres" } };
  refused(t, () => loadKek(config, { env: {} }), "KEK_MISSING");
  t.notOk(existsSync(path.join(dir, GENERATED_KEK_FILE)));
  const kek = randomBytes(32);
  t.ok(loadKek(config, { env: { SEALGATE_KEK: kek.toString("base64") } }).equals(kek));
});
