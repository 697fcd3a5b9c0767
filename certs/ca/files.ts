/**
 * Where the CA lives on disk when no key repository is at hand (the `sealgate certs` command):
 * <dir>/ca.pem and <dir>/ca.key (encrypted PKCS#8, mode 0600), and the CA in a KeyRepository
 * (kind "ca") for the gateway's store.
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { KeyRepository, StoredKey } from "../types.js";
import { fingerprint, nodeCertificate, pemBlocks } from "../x509.js";
import type { CaMaterial } from "./ca.js";
import { CaError } from "./errors.js";
import { readPrivateKey } from "./keys.js";

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

export async function saveCaFiles(
  dir: string,
  ca: CaMaterial,
  o: { force?: boolean } = {},
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const certFile = path.join(dir, "ca.pem");
  if (!o.force && (await exists(certFile))) {
    throw new CaError("ca_exists", `a CA already exists in ${dir} (use --force to replace it)`);
  }
  await writeFile(path.join(dir, "ca.key"), ca.encryptedKeyPem, { mode: 0o600 });
  await writeFile(certFile, ca.certPem, { mode: 0o644 });
}

export async function loadCaFiles(dir: string): Promise<CaMaterial> {
  try {
    return {
      certPem: await readFile(path.join(dir, "ca.pem"), "utf8"),
      encryptedKeyPem: await readFile(path.join(dir, "ca.key"), "utf8"),
    };
  } catch (err) {
    throw new CaError(
      "ca_missing",
      `no CA in ${dir}: run "sealgate certs ca init" or "ca import"`,
      {
        cause: err,
      },
    );
  }
}

/** Stores the CA as kind "ca"; the key stays encrypted with the caller's passphrase. */
export async function saveCaToRepository(repo: KeyRepository, ca: CaMaterial): Promise<string> {
  const der = pemBlocks(ca.certPem)[0];
  if (!der) throw new CaError("ca_bad_certificate", "the CA material holds no certificate");
  const id = fingerprint(der);
  await repo.putKey({
    id,
    kind: "ca",
    addresses: [],
    source: "import",
    material: ca.certPem,
    privateMaterial: ca.encryptedKeyPem,
    notAfter: new Date(nodeCertificate(der).validTo),
    createdAt: new Date(),
  });
  return id;
}

/** The newest CA of the repository (the one valid longest). */
export async function loadCaFromRepository(repo: KeyRepository): Promise<CaMaterial> {
  const cas = (await repo.listKeys(["ca"])).filter((k) => k.privateMaterial);
  cas.sort((a, b) => (b.notAfter?.getTime() ?? 0) - (a.notAfter?.getTime() ?? 0));
  const ca = cas[0];
  if (!ca?.privateMaterial) throw new CaError("ca_missing", "the key repository holds no CA");
  return { certPem: ca.material, encryptedKeyPem: ca.privateMaterial };
}

/**
 * An issued certificate as the staff member's own S/MIME key (kind staff-smime, source
 * "issued"), so the gateway signs that member's mail with it and adds it to their copies. The
 * key is handed over as plain PKCS#8: every KeyRepository seals private material at rest with
 * the key-encryption key (gateway/keys/kek.ts), and the signer needs it without a passphrase.
 */
export function issuedStoredKey(
  issued: { certPem: string; keyPem: string; chainPem: string; notAfter: Date },
  address: string,
): StoredKey {
  const der = pemBlocks(issued.certPem)[0];
  if (!der) throw new CaError("ca_bad_certificate", "the issued material holds no certificate");
  return {
    id: fingerprint(der),
    kind: "staff-smime",
    addresses: [address.trim().toLowerCase()],
    source: "issued",
    material: issued.certPem + issued.chainPem,
    privateMaterial: readPrivateKey(issued.keyPem).export({
      type: "pkcs8",
      format: "pem",
    }) as string,
    notAfter: issued.notAfter,
    createdAt: new Date(),
  };
}
