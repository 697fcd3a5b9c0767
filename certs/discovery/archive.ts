import type { PublicKey } from "openpgp";
import { checkPgpKey, readPublicKeys } from "../pgp/index.js";
import type { KeyRejection, KeyRepository, StoredKey } from "../types.js";

export type ArchiveKey =
  | { kind: "found"; key: PublicKey; stored: StoredKey }
  | { kind: "none"; rejections: KeyRejection[] };

/**
 * The organisation's OpenPGP key that every PGP/MIME copy is also encrypted to (imported with
 * `sealgate keys import --org`): the most recently imported one that is usable for one of its
 * own addresses. An unusable one is reported, never silently used.
 */
export async function findArchiveKey(
  repository: KeyRepository,
  opts: { now?: Date } = {},
): Promise<ArchiveKey> {
  const rejections: KeyRejection[] = [];
  const keys = await repository.listKeys(["org-pgp"]);
  keys.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  for (const stored of keys) {
    const [key] = await readPublicKeys(stored.material).catch(() => []);
    if (key === undefined) {
      rejections.push({ keyId: stored.id, reason: "pgp: stored key unreadable" });
      continue;
    }
    let last = "pgp: no user ID for address";
    for (const address of stored.addresses) {
      const verdict = await checkPgpKey(key, address, opts.now ? { now: opts.now } : {});
      if (verdict.ok) return { kind: "found", key, stored };
      last = verdict.reason;
    }
    rejections.push({ keyId: stored.id, reason: last });
  }
  return { kind: "none", rejections };
}
