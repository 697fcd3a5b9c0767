/**
 * The recipient certificate to encrypt to, from a key repository: every stored certificate for
 * the address is checked, the usable one that stays valid longest wins, and each one passed
 * over is returned with its reason so the caller can record it ("smime: certificate expired").
 */
import type { KeyRejection, KeyRepository, StoredKey } from "../types.js";
import { checkRecipientCertificate, type CheckOptions } from "./check.js";

export interface CertificateChoice {
  /** The chosen certificate, or null when none is usable. */
  chosen: { key: StoredKey; notAfter: Date; keyAlgorithm: "rsa" | "ec" } | null;
  /** Every stored certificate not chosen because it is unusable, with why. */
  rejections: KeyRejection[];
}

export async function findRecipientCertificate(
  repo: KeyRepository,
  address: string,
  o: CheckOptions,
): Promise<CertificateChoice> {
  const keys = await repo.keysForAddress(address.trim().toLowerCase(), ["smime-cert"]);
  let chosen: CertificateChoice["chosen"] = null;
  const rejections: KeyRejection[] = [];
  for (const key of keys) {
    const check = await checkRecipientCertificate(key.material, address, o);
    if (!check.ok) {
      rejections.push({ keyId: key.id, reason: check.reason });
      continue;
    }
    if (!chosen || check.notAfter > chosen.notAfter) {
      chosen = { key, notAfter: check.notAfter, keyAlgorithm: check.keyAlgorithm };
    }
  }
  return { chosen, rejections };
}
