import { generateKey, type PrivateKey } from "openpgp";
import t from "tap";
import { MemoryKeyRepository } from "../certs/memory.js";
import { KeyDiscovery, parseAddress, wkdUrls } from "../certs/discovery/index.js";
import { makeTestCa } from "./helpers/pki.js";
import { HttpsFixture, publishWkd } from "./helpers/wkd-server.js";

const ca = makeTestCa("sealgate WKD test CA");

async function keyFor(email: string) {
  const { publicKey } = await generateKey({
    userIDs: [{ email }],
    type: "ecc",
    curve: "curve25519Legacy",
    format: "object",
  });
  return publicKey as unknown as PrivateKey;
}

t.test("the WKD URLs for the draft's example address are the draft's", async (t) => {
  const urls = wkdUrls(parseAddress("Joe.Doe@Example.ORG")!);
  t.equal(
    urls.advanced.href,
    "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/" +
      "iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe",
  );
  t.equal(
    urls.direct.href,
    "https://example.org/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe",
  );
});

t.test("a key published by the advanced method is found and stored as from WKD", async (t) => {
  const server = await HttpsFixture.start(ca, ["openpgpkey.example.test"]);
  t.teardown(() => server.close());
  const key = await keyFor("alice@example.test");
  publishWkd(server, "alice@example.test", key.toPublic().write(), { method: "advanced" });
  const repository = new MemoryKeyRepository();
  const discovery = new KeyDiscovery({
    repository,
    http: { ca: ca.certPem, resolveHost: server.resolver(["openpgpkey.example.test"]) },
  });

  const result = await discovery.discover("Alice@example.test");
  t.equal(result.kind, "found");
  if (result.kind === "found") {
    t.equal(result.source, "wkd");
    t.match(result.reason, /^pgp: key [0-9A-F]{40} from wkd, no expiry$/);
    t.notMatch(result.reason, /alice/i, "the reason names no address");
  }
  const stored = await repository.keysForAddress("alice@example.test", ["pgp-public"]);
  t.equal(stored.length, 1);
  t.equal(stored[0]?.source, "wkd");
  t.equal(stored[0]?.id, key.getFingerprint().toUpperCase());
  t.equal(server.requests[0]?.host, "openpgpkey.example.test", "the Host is the real name");
  t.match(server.requests[0]?.path, /\?l=Alice$/, "l= keeps the local part as written");
});

t.test("the direct method is used when the openpgpkey host does not exist", async (t) => {
  const server = await HttpsFixture.start(ca, ["direct.test"]);
  t.teardown(() => server.close());
  const key = await keyFor("bob@direct.test");
  publishWkd(server, "bob@direct.test", key.toPublic().write(), { method: "direct" });
  const discovery = new KeyDiscovery({
    repository: new MemoryKeyRepository(),
    http: { ca: ca.certPem, resolveHost: server.resolver(["direct.test"]) },
  });
  const result = await discovery.discover("bob@direct.test");
  t.equal(result.kind, "found");
  t.match(
    server.requests.map((r) => r.path),
    [/^\/\.well-known\/openpgpkey\/hu\//],
  );
});

t.test("a 404 from an existing advanced directory does not fall through to direct", async (t) => {
  const server = await HttpsFixture.start(ca, ["openpgpkey.both.test", "both.test"]);
  t.teardown(() => server.close());
  publishWkd(server, "carol@both.test", (await keyFor("carol@both.test")).toPublic().write(), {
    method: "direct",
  });
  const discovery = new KeyDiscovery({
    repository: new MemoryKeyRepository(),
    http: { ca: ca.certPem, resolveHost: server.resolver(["openpgpkey.both.test", "both.test"]) },
  });
  const result = await discovery.discover("carol@both.test");
  t.match(result, { kind: "none", reason: "pgp: no usable key (wkd: not found)" });
  t.equal(server.requests.length, 1, "only the advanced URL was asked");
});

t.test("a directory key without a user ID for the address is refused", async (t) => {
  const server = await HttpsFixture.start(ca, ["openpgpkey.example.test"]);
  t.teardown(() => server.close());
  const other = await keyFor("mallory@example.test");
  publishWkd(server, "dave@example.test", other.toPublic().write(), { method: "advanced" });
  const repository = new MemoryKeyRepository();
  const discovery = new KeyDiscovery({
    repository,
    http: { ca: ca.certPem, resolveHost: server.resolver(["openpgpkey.example.test"]) },
  });
  const result = await discovery.discover("dave@example.test");
  t.equal(result.kind, "none");
  t.match(result.reason, /pgp: no user ID for address \(wkd\)/);
  t.same(await repository.listKeys(), [], "nothing unusable is stored");
});

t.test("a directory whose certificate no trusted CA issued is not believed", async (t) => {
  const server = await HttpsFixture.start(ca, ["openpgpkey.example.test"]);
  t.teardown(() => server.close());
  publishWkd(server, "erin@example.test", (await keyFor("erin@example.test")).toPublic().write(), {
    method: "advanced",
  });
  const discovery = new KeyDiscovery({
    repository: new MemoryKeyRepository(),
    http: { resolveHost: server.resolver(["openpgpkey.example.test"]) },
  });
  const result = await discovery.discover("erin@example.test");
  t.match(result, { kind: "none", reason: /wkd: tls/ });
});

t.test("a usable key in the local store is used without any lookup", async (t) => {
  const repository = new MemoryKeyRepository();
  const key = await keyFor("frank@example.test");
  await repository.putKey({
    id: key.getFingerprint().toUpperCase(),
    kind: "pgp-public",
    addresses: ["frank@example.test"],
    source: "import",
    material: key.toPublic().armor(),
    notAfter: null,
    createdAt: new Date(),
  });
  let asked = 0;
  const discovery = new KeyDiscovery({
    repository,
    http: { resolveHost: async () => (asked++, null) },
  });
  const result = await discovery.discover("FRANK@example.test");
  t.match(result, { kind: "found", source: "import", reason: /from store/ });
  t.equal(asked, 0);
});

t.test("an address that cannot be looked up is answered without network", async (t) => {
  const discovery = new KeyDiscovery({
    repository: new MemoryKeyRepository(),
    http: {
      resolveHost: async () => {
        t.fail("no lookup expected");
        return null;
      },
    },
  });
  for (const bad of ["no-at-sign", "a@", "@b.test", "x y@b.test", "a@-bad-.test"]) {
    t.match(await discovery.discover(bad), { kind: "none", reason: /address not valid/ }, bad);
  }
});

t.test("an oversized or redirected directory answer is not accepted", async (t) => {
  const server = await HttpsFixture.start(ca, ["openpgpkey.example.test"]);
  t.teardown(() => server.close());
  const big = await keyFor("big@example.test");
  publishWkd(server, "big@example.test", Buffer.alloc(600 * 1024, 1), { method: "advanced" });
  publishWkd(server, "moved@example.test", big.toPublic().write(), {
    method: "advanced",
    status: 301,
  });
  const discovery = new KeyDiscovery({
    repository: new MemoryKeyRepository(),
    http: { ca: ca.certPem, resolveHost: server.resolver(["openpgpkey.example.test"]) },
  });
  t.match(await discovery.discover("big@example.test"), { reason: /wkd: too-large/ });
  t.match(await discovery.discover("moved@example.test"), { reason: /wkd: http/ });
});
