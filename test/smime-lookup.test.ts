import t from "tap";
import { MemoryKeyRepository } from "../certs/memory.js";
import { findRecipientCertificate } from "../certs/smime/index.js";
import type { StoredKey } from "../certs/types.js";
import { fingerprint, pemBlocks } from "../certs/x509.js";
import { makePki, type Party } from "./smime-fixtures.js";

const DAY = 86_400_000;

function stored(p: Party, address: string): StoredKey {
  return {
    id: fingerprint(pemBlocks(p.certPem)[0] as Buffer),
    kind: "smime-cert",
    addresses: [address],
    source: "import",
    material: p.certPem,
    notAfter: null,
    createdAt: new Date(),
  };
}

t.test("the usable certificate valid longest is chosen; the others say why not", async (t) => {
  const pki = await makePki();
  const repo = new MemoryKeyRepository();
  const address = "patient@example.net";
  const short = await pki.issue(address, { notAfter: new Date(Date.now() + 30 * DAY) });
  const long = await pki.issue(address, { notAfter: new Date(Date.now() + 300 * DAY) });
  const expired = await pki.issue(address, {
    notBefore: new Date(Date.now() - 60 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  const signOnly = await pki.issue(address, { usage: "sign-only" });
  for (const p of [short, long, expired, signOnly]) await repo.putKey(stored(p, address));

  const choice = await findRecipientCertificate(repo, "Patient@Example.net", {
    trustAnchors: [pki.ca.certPem],
  });
  t.equal(choice.chosen?.key.material, long.certPem, "the longest-valid certificate wins");
  t.equal(choice.chosen?.keyAlgorithm, "rsa");
  t.same(choice.rejections.map((r) => r.reason.replace(/\d{4}-\d\d-\d\d/, "DATE")).sort(), [
    "certificate expired DATE",
    "certificate key usage does not allow encryption (keyEncipherment missing)",
  ]);
});

t.test("no certificate means no choice and no rejections", async (t) => {
  const choice = await findRecipientCertificate(new MemoryKeyRepository(), "x@example.net", {
    trustAnchors: [],
  });
  t.same(choice, { chosen: null, rejections: [] });
});
