import { generateKey, readKey } from "openpgp";
import t from "tap";
import { MemoryKeyRepository } from "../certs/memory.js";
import type { KeySource, StoredKey } from "../certs/types.js";
import type { DiscoveryResult } from "../certs/discovery/index.js";
import { KeyDiscovery } from "../certs/discovery/index.js";
import { RecipientSelector, type SelectorOptions } from "../gateway/secure/index.js";
import type { TlsProbeResult } from "../gateway/secure/tls-probe.js";
import { makePki } from "./smime-fixtures.js";

const pki = await makePki();
const strangers = await makePki();
const DAY = 86_400_000;

function certKey(pem: string, address: string, source: KeySource = "import"): StoredKey {
  return {
    id: `cert-${Math.random()}`,
    kind: "smime-cert",
    addresses: [address],
    source,
    material: pem,
    notAfter: null,
    createdAt: new Date(),
  };
}

async function pgpKey(address: string): Promise<StoredKey> {
  const { publicKey } = await generateKey({
    type: "ecc",
    curve: "curve25519Legacy",
    userIDs: [{ email: address }],
    format: "armored",
  });
  const key = await readKey({ armoredKey: publicKey });
  return {
    id: key.getFingerprint().toUpperCase(),
    kind: "pgp-public",
    addresses: [address],
    source: "import",
    material: publicKey,
    notAfter: null,
    createdAt: new Date(),
  };
}

const verified: TlsProbeResult = {
  verified: true,
  mx: "mx1.example.net",
  tlsVersion: "TLSv1.3",
  mtaSts: "enforce",
  proof: "mta-sts",
};
const noStartTls: TlsProbeResult = {
  verified: false,
  reason: "no STARTTLS on mx1.example.net",
  mtaSts: "none",
};

function selector(
  repository: MemoryKeyRepository,
  o: Partial<SelectorOptions> & { probe?: TlsProbeResult } = {},
): RecipientSelector {
  const probe = o.probe ?? noStartTls;
  return new RecipientSelector({
    repository,
    trustAnchors: async () => [pki.ca.certPem],
    discovery: new KeyDiscovery({ repository, wkd: { enabled: false } }),
    prober: { probe: async () => probe },
    mode: "mx",
    ...o,
  });
}

t.test("a recipient with a trusted certificate in the store gets S/MIME", async (t) => {
  const repo = new MemoryKeyRepository();
  const alice = await pki.issue("alice@example.net");
  await repo.putKey(certKey(alice.certPem, "alice@example.net"));
  await repo.putKey(await pgpKey("alice@example.net"));
  const choice = await selector(repo, { probe: verified }).choose("alice@example.net");
  t.equal(choice.method, "smime", "S/MIME comes before PGP and TLS");
  t.match(choice.reason, /^smime: certificate from store, expires \d{4}-\d\d-\d\d$/);
  t.notMatch(choice.reason, /alice/, "the reason names no address");
});

t.test(
  "an expired or untrusted certificate is passed over for the recipient's PGP key",
  async (t) => {
    const repo = new MemoryKeyRepository();
    const expired = await pki.issue("bob@example.net", {
      notBefore: new Date(Date.now() - 30 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    const foreign = await strangers.issue("bob@example.net");
    await repo.putKey(certKey(expired.certPem, "bob@example.net"));
    await repo.putKey(certKey(foreign.certPem, "bob@example.net"));
    await repo.putKey(await pgpKey("bob@example.net"));
    const choice = await selector(repo).choose("bob@example.net");
    t.equal(choice.method, "pgp");
    t.match(choice.reason, /^pgp: key [0-9A-F]+ from store, no expiry$/);
  },
);

t.test("without keys, a domain whose MX verifies gets verified TLS with its proof", async (t) => {
  const repo = new MemoryKeyRepository();
  const choice = await selector(repo, { probe: verified }).choose("carol@example.net");
  t.equal(choice.method, "tls");
  t.equal(choice.reason, "tls: mx1.example.net, verified (TLSv1.3), MTA-STS enforce");
});

t.test("with nothing that applies the copy is held for the portal, saying why", async (t) => {
  const repo = new MemoryKeyRepository();
  const choice = await selector(repo).choose("dave@example.net");
  t.equal(choice.method, "portal");
  t.equal(choice.reason, "portal: no key, no STARTTLS on mx1.example.net");
});

t.test("a certificate for another address is refused and the refusal is the reason", async (t) => {
  const repo = new MemoryKeyRepository();
  const other = await pki.issue("erin@other.example");
  await repo.putKey(certKey(other.certPem, "erin@example.net"));
  const choice = await selector(repo, { order: ["smime"] }).choose("erin@example.net");
  t.equal(choice.method, "portal");
  t.match(choice.reason, /certificate is for another address/);
});

t.test("a policy that asks for S/MIME gets S/MIME or a hold, never TLS", async (t) => {
  const repo = new MemoryKeyRepository();
  const s = selector(repo, { probe: verified });
  const held = await s.choose("frank@example.net", "smime");
  t.equal(held.method, "portal", "TLS would verify, but the policy asked for S/MIME");
  t.match(held.reason, /^portal: policy asks for smime only; no certificate$/);

  const frank = await pki.issue("frank@example.net");
  await repo.putKey(certKey(frank.certPem, "frank@example.net"));
  t.equal((await s.choose("frank@example.net", "smime")).method, "smime");
  t.equal((await s.choose("frank@example.net", "portal")).method, "portal");
  t.equal((await s.choose("frank@example.net", "tls")).method, "tls");
});

t.test("the configured order decides which method is tried first", async (t) => {
  const repo = new MemoryKeyRepository();
  const gina = await pki.issue("gina@example.net");
  await repo.putKey(certKey(gina.certPem, "gina@example.net"));
  const choice = await selector(repo, { probe: verified, order: ["tls", "smime"] }).choose(
    "gina@example.net",
  );
  t.equal(choice.method, "tls");
});

t.test("a PGP lookup slower than its bound falls to the next method", async (t) => {
  const repo = new MemoryKeyRepository();
  const slow = {
    discover: () => new Promise<DiscoveryResult>(() => undefined),
  };
  const started = Date.now();
  const choice = await selector(repo, {
    discovery: slow,
    pgpTimeoutMs: 100,
    probe: verified,
  }).choose("hal@example.net");
  t.equal(choice.method, "tls");
  t.ok(Date.now() - started < 2_000, "the lookup did not stall the decision");
});

t.test("a key store that fails is a reason, not a crash and not clear text", async (t) => {
  const repo = new MemoryKeyRepository();
  repo.keysForAddress = async () => {
    throw Object.assign(new Error("disk gone"), { code: "store-io" });
  };
  const choice = await selector(repo).choose("ivy@example.net");
  t.equal(choice.method, "portal");
  t.match(choice.reason, /smime lookup failed \(store-io\)/);
});

t.test("outside mode mx, tls means the fixed next hop, and the outbox is none", async (t) => {
  const repo = new MemoryKeyRepository();
  const outbox = await selector(repo, { mode: "outbox", prober: null }).choose("j@example.net");
  t.equal(outbox.method, "portal", "PHI is not written to the outbox in clear");
  t.match(outbox.reason, /outbox has no TLS hop to verify/);
  const smart = await selector(repo, {
    mode: "smarthost",
    smartHost: "relay.example.org",
    prober: null,
  }).choose("j@example.net");
  t.equal(smart.reason, "tls: smart host relay.example.org, verified at send time");
});

t.test("every certificate's refusal is in the reason, each once", async (t) => {
  const repo = new MemoryKeyRepository();
  const expired = await pki.issue("gina@example.net", {
    notBefore: new Date(Date.now() - 30 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  const foreign = await strangers.issue("gina@example.net");
  const other = await pki.issue("gina@other.example");
  const another = await pki.issue("gina2@other.example");
  for (const c of [expired, foreign, other, another]) {
    await repo.putKey(certKey(c.certPem, "gina@example.net"));
  }
  const choice = await selector(repo, { order: ["smime"] }).choose("gina@example.net");
  t.equal(choice.method, "portal");
  t.match(choice.reason, /expired/);
  t.match(choice.reason, /another address/);
  t.match(choice.reason, /chain|trust/);
  t.equal(choice.reason.match(/another address/g)?.length, 1, "a repeated reason is given once");
});

t.test("a policy cannot turn on a method the admin left out of secure.order", async (t) => {
  const repo = new MemoryKeyRepository();
  const hank = await pki.issue("hank@example.net");
  await repo.putKey(certKey(hank.certPem, "hank@example.net"));
  const s = selector(repo, { order: ["tls", "portal"], probe: verified });
  const choice = await s.choose("hank@example.net", "smime");
  t.equal(choice.method, "portal", "a usable certificate, but S/MIME is off");
  t.equal(
    choice.reason,
    "portal: policy asks for smime, which secure.order leaves out; " +
      "no other method in the configured order",
  );
  t.equal((await s.choose("hank@example.net", "tls")).method, "tls", "an allowed method applies");
  t.equal((await s.choose("hank@example.net")).method, "tls", "auto keeps the admin's order");
});
