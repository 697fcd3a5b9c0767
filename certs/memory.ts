import type { KeyKind, KeyRepository, StoredKey } from "./types.js";

/** A KeyRepository in memory, for tests and one-shot commands. */
export class MemoryKeyRepository implements KeyRepository {
  readonly #keys = new Map<string, StoredKey>();

  async putKey(key: StoredKey): Promise<void> {
    this.#keys.set(key.id, { ...key, addresses: key.addresses.map((a) => a.toLowerCase()) });
  }

  async keysForAddress(address: string, kinds: KeyKind[]): Promise<StoredKey[]> {
    const wanted = address.toLowerCase();
    return [...this.#keys.values()].filter(
      (k) => kinds.includes(k.kind) && k.addresses.includes(wanted),
    );
  }

  async listKeys(kinds?: KeyKind[]): Promise<StoredKey[]> {
    return [...this.#keys.values()].filter((k) => !kinds || kinds.includes(k.kind));
  }

  async removeKey(id: string): Promise<boolean> {
    return this.#keys.delete(id);
  }
}
