import { generateKey, type PublicKey } from "openpgp";
import t, { type Test } from "tap";
import { MemoryKeyRepository } from "../certs/memory.js";
import { KeyDiscovery, type DiscoveryOptions } from "../certs/discovery/index.js";
import { TestKeyserver } from "./helpers/keyserver.js";
import { makeTestCa } from "./helpers/pki.js";
import { HttpsFixture, publishWkd } from "./helpers/wkd-server.js";

const ca = makeTestCa("sealgate keyserver test CA");
const KS = "keys.example.test";

async function keyFor(email: string): Promise<PublicKey> {
  const { publicKey } = await generateKey({
    userIDs: [{ email }],
    type: "ecc",
    curve: "curve25519Legacy",
    format: "object",
  });
  return publicKey;
}

async function setup(t: Test, opts: Partial<DiscoveryOptions> = {}) {
  const server = await TestKeyserver.start(ca, KS);
  t.teardown(() => server.close());
  const repository = new MemoryKeyRepository();
  const base = {
    repository,
    wkd: { enabled: false },
    http: { ca: ca.certPem, resolveHost: server.fixture.resolver([KS]) },
  };
  return { server, repository, options: { ...base, ...opts } as DiscoveryOptions };
}

for (const protocol of ["vks", "hkp"] as const) {
  t.test(`a key on a ${protocol.toUpperCase()} keyserver is found and stored`, async (t) => {
    const { server, repository, options } = await setup(t);
    const key = await keyFor("alice@example.test");
    server.publish("alice@example.test", key.armor());
    const discovery = new KeyDiscovery({
      ...options,
      keyserver: { enabled: true, url: `https://${KS}`, protocol },
    });
    const result = await discovery.discover("alice@example.test");
    t.match(result, { kind: "found", source: "keyserver", reason: /from keyserver/ });
    const stored = await repository.listKeys(["pgp-public"]);
    t.match(stored, [{ source: "keyserver", addresses: ["alice@example.test"] }]);
    const path = server.fixture.requests[0]?.path ?? "";
    const expected =
      protocol === "vks"
        ? /^\/vks\/v1\/by-email\/alice%40example\.test$/
        : /^\/pks\/lookup\?op=get&options=mr&search=alice%40example\.test$/;
    t.match(path, expected);
  });
}

t.test("a slow keyserver is cut off at its timeout", async (t) => {
  const { server, options } = await setup(t);
  server.publish("slow@example.test", (await keyFor("slow@example.test")).armor(), {
    delayMs: 5_000,
  });
  const discovery = new KeyDiscovery({
    ...options,
    keyserver: { enabled: true, url: `https://${KS}`, timeoutMs: 300 },
  });
  const started = Date.now();
  const result = await discovery.discover("slow@example.test");
  const took = Date.now() - started;
  t.match(result, { kind: "none", reason: "pgp: no usable key (keyserver: timeout)" });
  t.ok(took >= 250 && took < 1_500, `gave up after ${took} ms`);
});

t.test("a slow directory and a slow keyserver together stay within both bounds", async (t) => {
  const wkd = await HttpsFixture.start(ca, ["openpgpkey.example.test"]);
  const { server, options } = await setup(t);
  t.teardown(() => wkd.close());
  const key = await keyFor("gina@example.test");
  publishWkd(wkd, "gina@example.test", key.write(), { method: "advanced", delayMs: 5_000 });
  server.publish("gina@example.test", key.armor());
  const ks = server.fixture.resolver([KS]);
  const dir = wkd.resolver(["openpgpkey.example.test"]);
  const discovery = new KeyDiscovery({
    ...options,
    wkd: { enabled: true, timeoutMs: 300 },
    keyserver: { enabled: true, url: `https://${KS}`, timeoutMs: 300 },
    http: { ca: ca.certPem, resolveHost: async (h) => (await ks(h)) ?? (await dir(h)) },
  });
  const started = Date.now();
  const result = await discovery.discover("gina@example.test");
  const after = "the keyserver answers after WKD times out";
  t.match(result, { kind: "found", source: "keyserver" }, after);
  t.ok(Date.now() - started < 1_500);
});

t.test("answers are cached, and a negative answer for less time than a positive", async (t) => {
  const { server, repository, options } = await setup(t);
  let clock = 1_000_000; // lru-cache treats a start time of 0 as "never set"
  const discovery = new KeyDiscovery({
    ...options,
    keyserver: { enabled: true, url: `https://${KS}` },
    cache: { ttlMs: 60_000, negativeTtlMs: 10_000 },
    cacheClock: { now: () => clock },
  });
  const asked = () => server.fixture.requests.length;

  t.match(await discovery.discover("nobody@example.test"), { kind: "none" });
  t.match(await discovery.discover("nobody@example.test"), { reason: /not found \(cached\)/ });
  t.equal(asked(), 1, "the negative answer is cached");
  clock += 10_001;
  await discovery.discover("nobody@example.test");
  t.equal(asked(), 2, "and asked again once the negative TTL has passed");

  server.publish("hana@example.test", (await keyFor("hana@example.test")).armor());
  t.match(await discovery.discover("hana@example.test"), { kind: "found" });
  t.equal(asked(), 3);
  // Remove the stored copy so the answer must come from the cache, not the repository.
  for (const k of await repository.listKeys()) await repository.removeKey(k.id);
  clock += 10_001;
  t.match(await discovery.discover("hana@example.test"), { kind: "found" });
  t.equal(asked(), 3, "the positive answer outlives the negative TTL");
  clock += 60_000;
  await discovery.discover("hana@example.test");
  t.equal(asked(), 4, "and is asked again after its own TTL");
});

t.test("a negative TTL longer than the positive one is refused", async (t) => {
  t.throws(
    () =>
      new KeyDiscovery({
        repository: new MemoryKeyRepository(),
        cache: { ttlMs: 1_000, negativeTtlMs: 2_000 },
      }),
    RangeError,
  );
});

t.test("concurrent lookups for one address make one request", async (t) => {
  const { server, options } = await setup(t);
  server.publish("ian@example.test", (await keyFor("ian@example.test")).armor(), { delayMs: 100 });
  const discovery = new KeyDiscovery({
    ...options,
    keyserver: { enabled: true, url: `https://${KS}` },
  });
  const results = await Promise.all([1, 2, 3].map(() => discovery.discover("ian@example.test")));
  t.same(
    results.map((r) => r.kind),
    ["found", "found", "found"],
  );
  t.equal(server.fixture.requests.length, 1);
});

t.test("a keyserver answering with an error status is recorded, not trusted", async (t) => {
  const { server, options } = await setup(t);
  server.fixture.routes.set("/vks/v1/by-email/jo%40example.test", { status: 500, body: "oops" });
  const discovery = new KeyDiscovery({
    ...options,
    keyserver: { enabled: true, url: `https://${KS}` },
  });
  t.match(await discovery.discover("jo@example.test"), { reason: /keyserver: http/ });
});
