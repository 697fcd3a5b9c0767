import { generateKey, revokeKey, type PrivateKey } from "openpgp";
import t, { type Test } from "tap";
import { KeyDiscovery } from "../certs/discovery/index.js";
import { MemoryKeyRepository } from "../certs/memory.js";
import { makeTestCa } from "./helpers/pki.js";
import { HttpsFixture, publishWkd } from "./helpers/wkd-server.js";

/**
 * A key found by WKD is stored with its source, and trusted from the store only for as long
 * as a positive answer is cached; then the directory is asked again. A directory that now
 * says "no key" or serves the key revoked takes it away; one that cannot be reached does not.
 */

const ca = makeTestCa("sealgate refresh test CA");
const HOST = "openpgpkey.example.test";
const TTL = 60_000;
const ADDRESS = "alice@example.test";

async function setup(t: Test) {
  const server = await HttpsFixture.start(ca, [HOST]);
  t.teardown(() => server.close());
  const { privateKey, publicKey } = await generateKey({
    userIDs: [{ email: ADDRESS }],
    type: "ecc",
    curve: "curve25519Legacy",
    format: "object",
  });
  publishWkd(server, ADDRESS, publicKey.write(), { method: "advanced" });
  const repository = new MemoryKeyRepository();
  let now = Date.now();
  let dns: "answers" | "EAI_AGAIN" | "ENOTFOUND" = "answers";
  const resolve = server.resolver([HOST]);
  const discovery = new KeyDiscovery({
    repository,
    wkd: { timeoutMs: 500 },
    cache: { ttlMs: TTL, negativeTtlMs: TTL / 2 },
    http: {
      ca: ca.certPem,
      // What the system resolver's failures look like: a temporary one, or no such name.
      resolveHost: async (host: string) =>
        dns === "answers"
          ? resolve(host)
          : Promise.reject(Object.assign(new Error(dns), { code: dns })),
    },
    now: () => new Date(now),
    cacheClock: { now: () => now },
  });
  const first = await discovery.discover(ADDRESS);
  t.match(first, { kind: "found", source: "wkd" }, "found by WKD and stored");
  const later = (ms: number) => {
    now += ms;
  };
  const dnsFails = (how: "EAI_AGAIN" | "ENOTFOUND") => {
    dns = how;
  };
  return { server, repository, discovery, privateKey: privateKey as PrivateKey, later, dnsFails };
}

function wkdPath(server: HttpsFixture): string {
  return [...server.routes.keys()][0] ?? "";
}

t.test("within the cache lifetime the stored key is used without asking again", async (t) => {
  const { server, discovery, later } = await setup(t);
  server.routes.clear();
  later(TTL / 2);
  const again = await discovery.discover(ADDRESS);
  t.match(again, { kind: "found", reason: /from wkd, no expiry$/ });
  t.equal(server.requests.length, 1, "only the first lookup reached the directory");
});

t.test("after the lifetime, a directory that no longer has the key removes it", async (t) => {
  const { server, repository, discovery, later } = await setup(t);
  server.routes.clear();
  later(TTL + 1);
  const again = await discovery.discover(ADDRESS);
  t.equal(again.kind, "none");
  t.match(again.reason, /wkd: not found/);
  t.match(again.reason, /stored key no longer offered by wkd, removed/);
  t.equal(server.requests.length, 2, "the directory was asked again");
  t.same(await repository.keysForAddress(ADDRESS, ["pgp-public"]), []);
});

t.test("after the lifetime, a key the directory now serves revoked is removed", async (t) => {
  const { server, repository, discovery, privateKey, later } = await setup(t);
  const { publicKey: revoked } = await revokeKey({ key: privateKey, format: "object" });
  server.routes.set(wkdPath(server), { body: revoked.write() });
  later(TTL + 1);
  const again = await discovery.discover(ADDRESS);
  t.equal(again.kind, "none");
  t.match(again.reason, /key revoked \(wkd\)/);
  t.same(await repository.keysForAddress(ADDRESS, ["pgp-public"]), []);
});

t.test("after the lifetime, an unreachable directory leaves the stored key in use", async (t) => {
  const { server, repository, discovery, later } = await setup(t);
  const path = wkdPath(server);
  server.routes.set(path, { ...server.routes.get(path), delayMs: 3000 });
  later(TTL + 1);
  const again = await discovery.discover(ADDRESS);
  t.equal(again.kind, "found");
  t.match(again.reason, /from wkd, no expiry, not re-checked \(wkd: timeout\)$/);
  t.equal((await repository.keysForAddress(ADDRESS, ["pgp-public"])).length, 1);
});

t.test(
  "after the lifetime, a key the directory still serves is kept and its age reset",
  async (t) => {
    const { server, repository, discovery, later } = await setup(t);
    const before = (await repository.keysForAddress(ADDRESS, ["pgp-public"]))[0]?.createdAt;
    later(TTL + 1);
    const again = await discovery.discover(ADDRESS);
    t.match(again, { kind: "found", reason: /from wkd, no expiry$/ });
    t.equal(server.requests.length, 2);
    const after = (await repository.keysForAddress(ADDRESS, ["pgp-public"]))[0]?.createdAt;
    t.ok((after?.getTime() ?? 0) > (before?.getTime() ?? 0), "stored again with the new time");
  },
);

t.test(
  "after the lifetime, a name server that gives no answer leaves the key in use",
  async (t) => {
    const { repository, discovery, later, dnsFails } = await setup(t);
    dnsFails("EAI_AGAIN");
    later(TTL + 1);
    const again = await discovery.discover(ADDRESS);
    t.equal(again.kind, "found");
    t.match(again.reason, /not re-checked \(wkd: dns\)$/);
    t.equal((await repository.keysForAddress(ADDRESS, ["pgp-public"])).length, 1);
  },
);

t.test("after the lifetime, a domain whose WKD hosts no longer exist loses the key", async (t) => {
  const { repository, discovery, later, dnsFails } = await setup(t);
  dnsFails("ENOTFOUND");
  later(TTL + 1);
  const again = await discovery.discover(ADDRESS);
  t.equal(again.kind, "none");
  t.match(again.reason, /wkd: not found/);
  t.same(await repository.keysForAddress(ADDRESS, ["pgp-public"]), []);
});

t.test("a withdrawn key also stored for another address stays for that one", async (t) => {
  const { server, repository, discovery, later } = await setup(t);
  const [stored] = await repository.keysForAddress(ADDRESS, ["pgp-public"]);
  if (stored === undefined) return t.fail("the key was stored");
  await repository.putKey({ ...stored, addresses: [ADDRESS, "a.other@example.test"] });
  server.routes.clear();
  later(TTL + 1);
  t.equal((await discovery.discover(ADDRESS)).kind, "none");
  t.same(await repository.keysForAddress(ADDRESS, ["pgp-public"]), []);
  t.match(await repository.keysForAddress("a.other@example.test", ["pgp-public"]), [
    { id: stored.id, addresses: ["a.other@example.test"] },
  ]);
});
