import t from "tap";
import { UserIDPacket, generateKey, readKey } from "openpgp";
import { checkPgpKey, readPublicKeys } from "../certs/pgp/index.js";
import { GpgHome } from "./helpers/gpg.js";
import { requireTools } from "./helpers/tools.js";

async function publicOf(armored: Uint8Array | string) {
  const [key] = await readPublicKeys(armored.toString());
  if (!key) throw new Error("no key");
  return key;
}

t.test("keys made by GnuPG are judged usable or refused with the right reason", async (t) => {
  if (!requireTools(t, "gpg")) return;
  const gpg = new GpgHome();
  t.teardown(() => gpg.remove());

  const rsa = gpg.rsa("Alice <alice@example.test>");
  const cv = gpg.curve25519("Bob <Bob@Example.TEST>");
  const signOnly = gpg.generate("Carol <carol@example.test>", "ed25519", "sign");
  const revoked = gpg.curve25519("Dave <dave@example.test>");
  const expired = gpg.generate(
    "Erin <erin@example.test>",
    "future-default",
    "default",
    "2024-06-01",
    "20240101T000000",
  );

  const rsaKey = await publicOf(gpg.exportPublic(rsa));
  const usable = await checkPgpKey(rsaKey, "alice@example.test");
  t.equal(usable.ok, true, "an RSA key with an encryption subkey is usable");
  if (usable.ok) {
    t.equal(usable.fingerprint, rsa);
    t.not(
      usable.encryptionKeyId,
      rsa.slice(-16),
      "the encryption subkey is chosen, not the primary",
    );
    t.equal(usable.seipdv2, false, "GnuPG 2.2 keys do not advertise SEIPDv2");
  }

  const cvResult = await checkPgpKey(await publicOf(gpg.exportPublic(cv)), "BOB@example.test");
  t.equal(cvResult.ok, true, "a Curve25519 key is usable and the address matches in any case");

  const reasons = {
    signOnly: await checkPgpKey(await publicOf(gpg.exportPublic(signOnly)), "carol@example.test"),
    other: await checkPgpKey(rsaKey, "mallory@example.test"),
    expired: await checkPgpKey(await publicOf(gpg.exportPublic(expired)), "erin@example.test"),
  };
  gpg.revoke(revoked);
  const revokedResult = await checkPgpKey(
    await publicOf(gpg.exportPublic(revoked)),
    "dave@example.test",
  );
  t.match(reasons.signOnly, { ok: false, reason: "pgp: no encryption subkey" });
  t.match(reasons.other, { ok: false, reason: "pgp: no user ID for address" });
  t.match(reasons.expired, { ok: false, reason: "pgp: expired 2024-06-01" });
  t.match(revokedResult, { ok: false, reason: "pgp: key revoked" });
});

t.test("a user ID whose self-signature does not verify is not trusted", async (t) => {
  const { publicKey } = await generateKey({
    userIDs: [{ email: "real@example.test" }, { email: "second@example.test" }],
    type: "curve25519",
    format: "object",
  });
  const forged = await readKey({ binaryKey: publicKey.write() });
  const user = forged.users[1];
  if (!user) throw new Error("no user");
  // Swap the user ID while keeping the old self-signature, as an attacker editing a key would.
  (user as { userID: UserIDPacket }).userID = UserIDPacket.fromObject({
    email: "victim@example.test",
  });
  const reread = await readKey({ binaryKey: forged.write() });
  const result = await checkPgpKey(reread, "victim@example.test");
  t.match(result, { ok: false, reason: /^pgp: user ID for address/ });
  t.match(await checkPgpKey(reread, "real@example.test"), { ok: true }, "the genuine one still is");
});

t.test("an encryption subkey that has expired is named as the reason", async (t) => {
  const now = new Date();
  const { publicKey } = await generateKey({
    userIDs: [{ email: "frank@example.test" }],
    type: "curve25519",
    subkeys: [{ keyExpirationTime: 3600 }],
    date: new Date(now.getTime() - 7200_000),
    format: "object",
  });
  const result = await checkPgpKey(publicKey, "frank@example.test", { now });
  t.match(result, { ok: false, reason: /^pgp: encryption subkey expired \d{4}-\d\d-\d\d$/ });
});

t.test("input that is not a key is refused with a stable code", async (t) => {
  await t.rejects(readPublicKeys("hello"), { code: "pgp-unreadable" });
});

t.test("a revoked encryption subkey is named as the reason", async (t) => {
  const { privateKey } = await generateKey({
    userIDs: [{ email: "gail@example.test" }],
    type: "curve25519",
    format: "object",
  });
  const sub = privateKey.subkeys[0];
  if (!sub) throw new Error("no subkey");
  const revokedSub = await sub.revoke(privateKey.keyPacket as never);
  privateKey.subkeys[0] = revokedSub;
  const reread = await readKey({ binaryKey: privateKey.toPublic().write() });
  t.match(await checkPgpKey(reread, "gail@example.test"), {
    ok: false,
    reason: "pgp: encryption subkey revoked",
  });
});
