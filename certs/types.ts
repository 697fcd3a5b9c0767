/**
 * Key material as certs/ sees it, and the storage it needs. certs/ uses nothing of gateway/:
 * the gateway's store implements KeyRepository (SQLite and PostgreSQL), and tests use
 * MemoryKeyRepository.
 */

export type KeyKind =
  | "smime-cert" // a recipient's S/MIME certificate (public)
  | "pgp-public" // a recipient's OpenPGP public key
  | "org-smime" // the organisation's own S/MIME certificate (shared; archive recipient, signer)
  | "staff-smime" // one staff member's S/MIME certificate, used only for mail they send
  | "org-pgp" // the organisation's OpenPGP public key (archive recipient)
  | "ca"; // the organisation's issuing CA (certificate and private key)

export type KeySource = "import" | "wkd" | "keyserver" | "harvest" | "issued";

export interface StoredKey {
  /** Fingerprint: SHA-256 of the certificate DER, or the OpenPGP primary key fingerprint. */
  id: string;
  kind: KeyKind;
  /** Lower-case e-mail addresses the key is for. */
  addresses: string[];
  source: KeySource;
  /** PEM certificate (with chain) or armored public key. */
  material: string;
  /**
   * Private key as PEM or armored text; absent for recipients' keys. The repository seals it
   * at rest with the key-encryption key from configuration (gateway/keys/kek.ts), so callers
   * put and get plain text and certs/ never sees the KEK.
   */
  privateMaterial?: string | undefined;
  notAfter: Date | null;
  createdAt: Date;
}

export interface KeyRepository {
  /** Inserts or replaces by id. */
  putKey(key: StoredKey): Promise<void>;
  keysForAddress(address: string, kinds: KeyKind[]): Promise<StoredKey[]>;
  listKeys(kinds?: KeyKind[]): Promise<StoredKey[]>;
  removeKey(id: string): Promise<boolean>;
}

/** Why a key was not used; recorded as an event reason ("smime: certificate expired ..."). */
export interface KeyRejection {
  keyId: string;
  reason: string;
}
