import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateKey } from "openpgp";
import t, { type Test } from "tap";
import { MemoryKeyRepository } from "../certs/memory.js";
import { loadConfig } from "../gateway/config/index.js";
import { createSelector } from "../gateway/secure/index.js";
import { TestKeyserver } from "./helpers/keyserver.js";
import { makeTestCa } from "./helpers/pki.js";
import { HttpsFixture, publishWkd } from "./helpers/wkd-server.js";

/**
 * secure.pgp.timeout bounds each lookup source, and the selector built from configuration
 * leaves room for all of them: a Web Key Directory that hangs for its whole time does not use
 * up the keyserver's turn.
 */

const ca = makeTestCa("sealgate selector timeout CA");
const WKD_NAMES = ["openpgpkey.example.test", "example.test"];
const KS = "keys.example.test";

async function setup(t: Test) {
  const wkd = await HttpsFixture.start(ca, WKD_NAMES);
  const keyserver = await TestKeyserver.start(ca, KS);
  t.teardown(() => Promise.all([wkd.close(), keyserver.close()]));
  const { config } = loadConfig(null, {
    dataDir: mkdtempSync(path.join(tmpdir(), "sealgate-timeouts-")),
  });
  config.secure.pgp = {
    ...config.secure.pgp,
    wkd: true,
    timeout: 1,
    keyserver: { enabled: true, url: `https://${KS}`, protocol: "vks" },
  };
  const wkdAt = wkd.resolver(WKD_NAMES);
  const ksAt = keyserver.fixture.resolver([KS]);
  const selector = createSelector(config, {
    repository: new MemoryKeyRepository(),
    prober: null,
    http: {
      ca: ca.certPem,
      resolveHost: async (host) => (await wkdAt(host)) ?? (await ksAt(host)),
    },
  });
  return { wkd, keyserver, selector };
}

t.test("a slow WKD still leaves the keyserver its turn", async (t) => {
  const { wkd, keyserver, selector } = await setup(t);
  const { publicKey } = await generateKey({
    userIDs: [{ email: "alice@example.test" }],
    type: "ecc",
    curve: "curve25519Legacy",
    format: "object",
  });
  publishWkd(wkd, "alice@example.test", publicKey.write(), { method: "advanced", delayMs: 5000 });
  keyserver.publish("alice@example.test", publicKey.armor());

  const started = Date.now();
  const choice = await selector.choose("alice@example.test");
  const took = Date.now() - started;
  t.equal(choice.method, "pgp", choice.reason);
  t.match(choice.reason, /from keyserver/);
  t.ok(wkd.requests.length > 0, "WKD was asked first");
  t.ok(took >= 900 && took < 3000, `WKD was cut at its own bound, then the keyserver (${took} ms)`);
});

t.test("when every source hangs, each gets its turn and the answer comes in time", async (t) => {
  const { wkd, keyserver, selector } = await setup(t);
  const { publicKey } = await generateKey({
    userIDs: [{ email: "bob@example.test" }],
    type: "ecc",
    curve: "curve25519Legacy",
    format: "object",
  });
  publishWkd(wkd, "bob@example.test", publicKey.write(), { method: "advanced", delayMs: 5000 });
  keyserver.publish("bob@example.test", publicKey.armor(), { delayMs: 5000 });

  const started = Date.now();
  const choice = await selector.choose("bob@example.test");
  const took = Date.now() - started;
  t.equal(choice.method, "portal");
  t.match(choice.reason, /wkd: timeout/);
  t.match(choice.reason, /keyserver: timeout/);
  t.ok(took < 3500, `bounded by the sum of the sources plus the store's margin (${took} ms)`);
});
