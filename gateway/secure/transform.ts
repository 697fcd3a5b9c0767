import type { PublicKey } from "openpgp";
import { findArchiveKey } from "../../certs/discovery/index.js";
import { encryptPgpMimeToBuffer } from "../../certs/pgp/index.js";
import { encryptSmime, protectHeaders, signSmime } from "../../certs/smime/index.js";
import type { KeyRepository, StoredKey } from "../../certs/types.js";
import type { SecureConfig } from "../config/schema.js";

/**
 * Builds one recipient's encrypted copy: outer headers (From, To, Cc, Date, Message-ID ...
 * and a neutral Subject) around the original entity, encrypted to the recipient and to the
 * organisation's own certificate or archive key when the key store holds one, so the sent
 * copy stays readable. Bcc never travels: neither method copies it inside or out.
 */

export interface TransformOptions {
  repository: KeyRepository;
  secure: SecureConfig;
  /** Clock for the organisation's key checks. Default: now. */
  now?: (() => Date) | undefined;
}

export class CopyBuilder {
  readonly #o: TransformOptions;

  constructor(options: TransformOptions) {
    this.#o = options;
  }

  /** An S/MIME copy (RFC 8551), optionally signed first by the organisation. */
  async smime(raw: Buffer, certificate: string): Promise<Buffer> {
    const s = this.#o.secure;
    const { inner, outer } = protectHeaders(raw, { neutralSubject: s.neutralSubject });
    const org = await this.#organisationCertificate();
    let entity = inner;
    if (s.smime.signWithOrganisation && org?.privateMaterial) {
      entity = await signSmime(inner, { certPem: org.material, keyPem: org.privateMaterial });
    }
    return encryptSmime(entity, {
      recipients: org ? [certificate, org.material] : [certificate],
      contentEncryption: s.smime.contentEncryption,
      rsaPadding: s.smime.rsaPadding,
      outerHeaders: outer,
    });
  }

  /** A PGP/MIME copy (RFC 3156) carrying the whole original entity. */
  async pgp(raw: Buffer, key: PublicKey): Promise<Buffer> {
    const now = this.#o.now?.() ?? new Date();
    const archive = await findArchiveKey(this.#o.repository, { now });
    return encryptPgpMimeToBuffer(raw, {
      recipients: [key],
      archiveKey: archive.kind === "found" ? archive.key : undefined,
      neutralSubject: this.#o.secure.neutralSubject,
    });
  }

  /** The organisation's newest S/MIME certificate still inside its validity period. */
  async #organisationCertificate(): Promise<StoredKey | null> {
    const now = (this.#o.now?.() ?? new Date()).getTime();
    const keys = await this.#o.repository.listKeys(["org-smime"]);
    const valid = keys.filter((k) => k.notAfter === null || k.notAfter.getTime() > now);
    valid.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
    return valid[0] ?? null;
  }
}
