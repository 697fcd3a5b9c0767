/**
 * StoredKey as the key tables hold it: addresses normalised, private material sealed under the
 * KEK with the key's id as context. Shared by the SQLite and PostgreSQL key repositories.
 */

import type { StoredKey } from "../../certs/types.js";
import { StoreError } from "../store/errors.js";
import { kekId, openPrivate, sealPrivate, SEALED_VERSION } from "./kek.js";

/** Lower-cased, trimmed, without duplicates or blanks, in the caller's order. */
export function normaliseAddresses(addresses: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const a of addresses) {
    const address = a.trim().toLowerCase();
    if (address !== "") seen.add(address);
  }
  return [...seen];
}

function validDate(d: Date | null): boolean {
  return d === null || (d instanceof Date && !Number.isNaN(d.getTime()));
}

/** The row to write: private material sealed, addresses normalised. Refuses a key without id. */
export function sealKey(key: StoredKey, kek: Buffer): StoredKey {
  if (key.id.trim() === "" || key.id !== key.id.trim()) {
    throw new StoreError("STORE_INVALID", "a key needs a non-blank id without spaces around it");
  }
  // PostgreSQL TEXT cannot hold NUL, and no PEM or armored key contains one.
  if ([key.material, key.privateMaterial ?? "", ...key.addresses].some((v) => v.includes("\0"))) {
    throw new StoreError("STORE_INVALID", `key ${key.id} holds a NUL character`);
  }
  if (!validDate(key.notAfter) || !validDate(key.createdAt)) {
    throw new StoreError("STORE_INVALID", `key ${key.id} has an invalid date`);
  }
  return {
    ...key,
    addresses: normaliseAddresses(key.addresses),
    privateMaterial:
      key.privateMaterial === undefined
        ? undefined
        : sealPrivate(key.privateMaterial, kek, { context: key.id }),
  };
}

/** The key as callers see it: private material opened (KekError on the wrong KEK). */
export function openKey(row: StoredKey, kek: Buffer): StoredKey {
  if (row.privateMaterial === undefined) return row;
  return { ...row, privateMaterial: openPrivate(row.privateMaterial, kek, { context: row.id }) };
}

/** The start every value sealed under this KEK has, for a LIKE pattern (no wildcards in it). */
export function sealedPrefix(kek: Buffer): string {
  return `${SEALED_VERSION}.${kekId(kek)}.`;
}
