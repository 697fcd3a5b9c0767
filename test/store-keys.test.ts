/**
 * The key tables behind certs/'s KeyRepository, held to one list of behaviours in both stores:
 * SQLite in a temporary folder and PostgreSQL in a fresh schema. Each case reads the tables
 * directly too, to see what is really at rest.
 */

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import t, { type Test } from "tap";
import type { StoredKey } from "../certs/types.js";
import { loadConfig } from "../gateway/config/index.js";
import { KekError, type KekErrorCode } from "../gateway/keys/index.js";
import { StoreError } from "../gateway/store/errors.js";
import { openKeyRepository } from "../gateway/store/index.js";
import { PostgresKeyRepository } from "../gateway/store/keys-postgres.js";
import { SqliteKeyRepository } from "../gateway/store/keys-sqlite.js";
import type { KeyStore } from "../gateway/store/types.js";
import {
  dropSchema,
  freshSchemaName,
  requirePostgres,
  TEST_DATABASE_URL,
  withClient,
} from "./helpers/postgres.js";

const DAY = 86_400_000;
const PRIVATE_PEM = generateKeyPairSync("ec", { namedCurve: "P-256" })
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString();

function key(overrides: Partial<StoredKey> = {}): StoredKey {
  return {
    id: randomBytes(32).toString("hex"),
    kind: "smime-cert",
    addresses: ["dr.jones@partner.example"],
    source: "import",
    material: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    notAfter: new Date(Date.now() + 365 * DAY),
    createdAt: new Date(Date.now() - DAY),
    ...overrides,
  };
}

async function rejection(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => null,
    (e: unknown) => e,
  );
}

async function refusedWithKek(t: Test, work: Promise<unknown>, code: KekErrorCode) {
  const err = await rejection(work);
  t.ok(err instanceof KekError, `refused with a KekError (${code})`);
  t.equal((err as KekError).code, code);
  t.notMatch((err as Error).message, PRIVATE_PEM.split("\n")[1] ?? "", "no key material in text");
}

/** Where the tables live, opened with a chosen KEK, and read around the repository. */
interface Place {
  open(kek: Buffer): Promise<KeyStore>;
  privateColumn(id: string): Promise<string | null>;
  setPrivateColumn(id: string, value: string | null): Promise<void>;
  addressRows(id: string): Promise<string[]>;
}

type Case = [name: string, run: (t: Test, place: Place) => Promise<void>];

const cases: Case[] = [
  [
    "a key put for an address is found by that address in any letter case, unchanged",
    async (t, place) => {
      const repo = await place.open(randomBytes(32));
      const cert = key({ addresses: ["Dr.Jones@Partner.Example", "billing@partner.example"] });
      await repo.putKey(cert);

      const found = await repo.keysForAddress("DR.JONES@partner.EXAMPLE", ["smime-cert"]);
      t.same(found, [
        { ...cert, addresses: ["dr.jones@partner.example", "billing@partner.example"] },
      ]);
      t.same(await place.addressRows(cert.id), [
        "billing@partner.example",
        "dr.jones@partner.example",
      ]);
      t.same(
        await repo.keysForAddress("dr.jones@partner.example", ["pgp-public"]),
        [],
        "other kind",
      );
      t.same(
        await repo.keysForAddress("nurse@partner.example", ["smime-cert"]),
        [],
        "other address",
      );
      t.same(await repo.keysForAddress("dr.jones@partner.example", []), [], "no kinds, no keys");
    },
  ],
  [
    "putting a key again by id replaces it: one row, and only the new addresses find it",
    async (t, place) => {
      const repo = await place.open(randomBytes(32));
      const first = key({ addresses: ["old@partner.example"], source: "wkd" });
      await repo.putKey(first);
      const renewed = { ...first, addresses: ["new@partner.example"], material: "renewed" };
      await repo.putKey({ ...renewed, source: "import", notAfter: null });

      t.equal((await repo.listKeys()).length, 1, "one key");
      t.same(await repo.keysForAddress("old@partner.example", ["smime-cert"]), []);
      const [now] = await repo.keysForAddress("new@partner.example", ["smime-cert"]);
      t.match(now, { id: first.id, material: "renewed", source: "import", notAfter: null });
      t.same(await place.addressRows(first.id), ["new@partner.example"]);
    },
  ],
  [
    "listKeys returns every key newest first, or only the kinds asked for",
    async (t, place) => {
      const repo = await place.open(randomBytes(32));
      const ago = (days: number) => new Date(Date.now() - days * DAY);
      const older = key({ kind: "pgp-public", createdAt: ago(3) });
      const newer = key({ kind: "smime-cert", createdAt: ago(1) });
      const org = key({ kind: "org-smime", privateMaterial: PRIVATE_PEM, createdAt: ago(2) });
      for (const k of [older, newer, org]) await repo.putKey(k);

      const ids = (keys: StoredKey[]) => keys.map((k) => k.id);
      t.same(ids(await repo.listKeys()), [newer.id, org.id, older.id]);
      t.same(ids(await repo.listKeys(["pgp-public"])), [older.id]);
      t.same(ids(await repo.listKeys(["org-smime", "pgp-public"])), [org.id, older.id]);
      t.same(await repo.listKeys([]), [], "no kinds, no keys");
    },
  ],
  [
    "removeKey removes the key and its addresses and says whether there was one",
    async (t, place) => {
      const repo = await place.open(randomBytes(32));
      const gone = key();
      const kept = key({ kind: "pgp-public" });
      await repo.putKey(gone);
      await repo.putKey(kept);

      t.equal(await repo.removeKey(gone.id), true);
      t.equal(await repo.removeKey(gone.id), false, "a second removal finds nothing");
      t.same(await place.addressRows(gone.id), []);
      t.same(await repo.keysForAddress("dr.jones@partner.example", ["smime-cert", "pgp-public"]), [
        kept,
      ]);
    },
  ],
  [
    "a private key is sealed in the table and opens only with the KEK it was put with",
    async (t, place) => {
      const kek = randomBytes(32);
      const repo = await place.open(kek);
      const org = key({
        kind: "org-smime",
        privateMaterial: PRIVATE_PEM,
        addresses: ["it@clinic.example"],
      });
      const recipient = key();
      await repo.putKey(org);
      await repo.putKey(recipient);

      const atRest = await place.privateColumn(org.id);
      t.match(atRest, /^sgk1\./, "sealed, with its version");
      t.notMatch(atRest, "PRIVATE KEY", "not the PEM");
      t.notMatch(atRest, PRIVATE_PEM.split("\n")[1] ?? "", "not its base64 either");
      t.equal(await place.privateColumn(recipient.id), null, "a recipient's key has none");
      const [back] = await repo.keysForAddress("it@clinic.example", ["org-smime"]);
      t.equal(back?.privateMaterial, PRIVATE_PEM, "the same KEK opens it");

      const wrong = await place.open(randomBytes(32));
      await refusedWithKek(t, wrong.listKeys(), "KEK_MISMATCH");
      await refusedWithKek(
        t,
        wrong.keysForAddress("it@clinic.example", ["org-smime"]),
        "KEK_MISMATCH",
      );
      t.same(await wrong.listKeys(["smime-cert"]), [recipient], "public keys still list");
      t.same(await wrong.sealedWithOtherKek(), [org.id], "and the mismatch can be found up front");
      t.same(await repo.sealedWithOtherKek(), [], "none for the right KEK");
    },
  ],
  [
    "a sealed private key copied onto another key's row, or altered, does not open",
    async (t, place) => {
      const repo = await place.open(randomBytes(32));
      const a = key({
        kind: "org-pgp",
        privateMaterial: PRIVATE_PEM,
        addresses: ["a@clinic.example"],
      });
      const b = key({
        kind: "org-pgp",
        privateMaterial: "another key",
        addresses: ["b@clinic.example"],
      });
      await repo.putKey(a);
      await repo.putKey(b);

      await place.setPrivateColumn(b.id, await place.privateColumn(a.id));
      await refusedWithKek(t, repo.keysForAddress("b@clinic.example", ["org-pgp"]), "KEK_CORRUPT");
      const sealed = (await place.privateColumn(a.id)) ?? "";
      const flipped = sealed.at(-30) === "A" ? "B" : "A";
      await place.setPrivateColumn(a.id, `${sealed.slice(0, -30)}${flipped}${sealed.slice(-29)}`);
      await refusedWithKek(t, repo.keysForAddress("a@clinic.example", ["org-pgp"]), "KEK_CORRUPT");
    },
  ],
  [
    "a key without an id or with a NUL is refused and nothing is stored",
    async (t, place) => {
      const repo = await place.open(randomBytes(32));
      for (const bad of [key({ id: "" }), key({ id: " x " }), key({ material: "a\0b" })]) {
        const err = await rejection(repo.putKey(bad));
        t.ok(err instanceof StoreError && err.code === "STORE_INVALID", "STORE_INVALID");
      }
      t.same(await repo.listKeys(), []);
    },
  ],
  [
    "two writers replacing one key at once leave one whole version, never a mix",
    async (t, place) => {
      const kek = randomBytes(32);
      const [x, y] = [await place.open(kek), await place.open(kek)];
      const base = key();
      const one = { ...base, addresses: ["one@partner.example", "uno@partner.example"] };
      const two = { ...base, addresses: ["two@partner.example"], material: "two" };
      for (let round = 0; round < 5; round++) await Promise.all([x.putKey(one), y.putKey(two)]);

      const [left, ...rest] = await x.listKeys();
      t.same(rest, [], "one key");
      t.ok(
        (left?.material === one.material && left.addresses.join() === one.addresses.join()) ||
          (left?.material === "two" && left.addresses.join() === "two@partner.example"),
        "addresses belong to the material they were put with",
      );
      t.same((await place.addressRows(base.id)).length, left?.addresses.length);
    },
  ],
];

const sqlite = (dir: string): Place => {
  const raw = () => new Database(path.join(dir, "sealgate.db"));
  const read = <T>(work: (db: Database.Database) => T): T => {
    const db = raw();
    try {
      return work(db);
    } finally {
      db.close();
    }
  };
  return {
    open: async (kek) => new SqliteKeyRepository({ dataDir: dir, kek }),
    privateColumn: async (id) =>
      read((db) => {
        const row = db.prepare("SELECT private_material AS p FROM keys WHERE id = ?").get(id);
        return (row as { p: string | null } | undefined)?.p ?? null;
      }),
    setPrivateColumn: async (id, value) =>
      read(
        (db) => void db.prepare("UPDATE keys SET private_material = ? WHERE id = ?").run(value, id),
      ),
    addressRows: async (id) =>
      read((db) =>
        (
          db
            .prepare("SELECT address FROM key_addresses WHERE key_id = ? ORDER BY address")
            .all(id) as { address: string }[]
        ).map((r) => r.address),
      ),
  };
};

const postgres = (schema: string): Place => ({
  open: (kek) => PostgresKeyRepository.connect({ url: TEST_DATABASE_URL, schema, kek }),
  privateColumn: (id) =>
    withClient(async (c) => {
      const { rows } = await c.query<{ p: string | null }>(
        `SELECT private_material AS p FROM "${schema}".keys WHERE id = $1`,
        [id],
      );
      return rows[0]?.p ?? null;
    }),
  setPrivateColumn: (id, value) =>
    withClient(async (c) => {
      await c.query(`UPDATE "${schema}".keys SET private_material = $2 WHERE id = $1`, [id, value]);
    }),
  addressRows: (id) =>
    withClient(async (c) => {
      const { rows } = await c.query<{ address: string }>(
        `SELECT address FROM "${schema}".key_addresses WHERE key_id = $1 ORDER BY address`,
        [id],
      );
      return rows.map((r) => r.address);
    }),
});

/** Closes every repository a case opened, then removes the folder or schema. */
function tracked(t: Test, place: Place, remove: () => Promise<void>): Place {
  const opened: KeyStore[] = [];
  t.teardown(async () => {
    await Promise.all(opened.map((r) => r.close()));
    await remove();
  });
  return {
    ...place,
    open: async (kek) => {
      const repo = await place.open(kek);
      opened.push(repo);
      return repo;
    },
  };
}

t.test("the sqlite key tables", async (t) => {
  for (const [name, run] of cases) {
    await t.test(name, async (t) => {
      const dir = mkdtempSync(path.join(tmpdir(), "sealgate-keys-"));
      await run(
        t,
        tracked(t, sqlite(dir), async () => rmSync(dir, { recursive: true, force: true })),
      );
    });
  }
});

t.test("the postgres key tables", async (t) => {
  if (!(await requirePostgres(t))) return;
  for (const [name, run] of cases) {
    await t.test(name, async (t) => {
      const schema = freshSchemaName();
      await run(
        t,
        tracked(t, postgres(schema), () => dropSchema(schema)),
      );
    });
  }
});

t.test(
  "openKeyRepository opens the configured store's key tables with the configured KEK",
  async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), "sealgate-keys-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const kek = randomBytes(32);
    const env = { SEALGATE_KEK: kek.toString("base64") };
    const { config } = loadConfig(null, { dataDir: dir }, env);

    const repo = await openKeyRepository(config, { env });
    const org = key({ kind: "ca", privateMaterial: PRIVATE_PEM });
    await repo.putKey(org);
    await repo.close();

    const direct = new SqliteKeyRepository({ dataDir: dir, kek });
    t.teardown(() => direct.close());
    t.same(await direct.listKeys(["ca"]), [org], "sealed under SEALGATE_KEK, in dataDir");
  },
);

t.test(
  "openKeyRepository for PostgreSQL without a shared KEK refuses before connecting",
  async (t) => {
    const env = { SEALGATE_DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" };
    const { config } = loadConfig(null, { dataDir: tmpdir() }, env);
    t.equal(config.store.kind, "sqlite", "store.kind comes from the file, not the URL");
    config.store.kind = "postgres";
    await refusedWithKek(t, openKeyRepository(config, { env }), "KEK_MISSING");
  },
);
