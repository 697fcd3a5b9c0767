import type { PublicKey } from "openpgp";
import { findArchiveKey } from "../../certs/discovery/index.js";
import { encryptPgpMimeToBuffer } from "../../certs/pgp/index.js";
import { encryptSmime, protectHeaders, signSmime } from "../../certs/smime/index.js";
import type { KeyRepository, StoredKey } from "../../certs/types.js";
import type { SecureConfig } from "../config/schema.js";
import type { Logger } from "../log.js";

/**
 * Builds one recipient's encrypted copy: outer headers (From, To, Cc, Date, Message-ID ...
 * and a neutral Subject) around the original entity, encrypted to the recipient and to our own
 * certificates, so the sent copy stays readable: the sender's own S/MIME certificate (kind
 * staff-smime, or an org-smime one for the From address) and the organisation's shared one
 * (org-smime for another address), or the organisation's archive OpenPGP key. Bcc never
 * travels: neither method copies it inside or out.
 */

export interface TransformOptions {
  repository: KeyRepository;
  secure: SecureConfig;
  /** Clock for our own keys' validity. Default: now. */
  now?: (() => Date) | undefined;
  /** Where warnings about our own keys go (no addresses, no content). Default: none. */
  logger?: Pick<Logger, "warn"> | undefined;
}

/**
 * One of our own keys a copy used, as the secure:route event shows it: "role:fingerprint",
 * role sender, organisation or archive (a plain string, so `sealgate trace` prints it as is).
 */
export type OwnKeyUse = `${"sender" | "organisation" | "archive"}:${string}`;

/** What a copy holds besides the recipient's key; merged into the secure:route event. */
export interface CopyDetail {
  /** Our own certificates or keys the copy is also encrypted to. */
  alsoEncryptedTo: OwnKeyUse[];
  /** S/MIME with signing on: who signed, or "none" when no stored key could. */
  signedBy?: OwnKeyUse | "none";
  /** PGP: why a stored archive key was not used. */
  archiveRejected?: string[];
}

export interface Copy {
  bytes: Buffer;
  detail: CopyDetail;
}

/** Warn about missing signing keys at most this often. */
const WARN_EVERY_MS = 3600_000;

/** The first mailbox's address of a From value ("Name <a@b>" or "a@b"), lower-case. */
function mailbox(value: string | undefined): string | null {
  if (value === undefined) return null;
  const angle = /<\s*([^<>\s]+@[^<>\s]+)\s*>/.exec(value)?.[1];
  const bare = /([^\s<>,;:"()]+@[^\s<>,;:"()]+)/.exec(value)?.[1];
  return (angle ?? bare)?.toLowerCase() ?? null;
}

export class CopyBuilder {
  readonly #o: TransformOptions;
  #warnedAt = -Infinity;

  constructor(options: TransformOptions) {
    this.#o = options;
  }

  /** An S/MIME copy (RFC 8551), bytes only. */
  async smime(
    raw: Buffer,
    certificate: string,
    options: { mailFrom?: string | undefined } = {},
  ): Promise<Buffer> {
    return (await this.smimeCopy(raw, certificate, options)).bytes;
  }

  /**
   * An S/MIME copy, signed first when secure.smime.signWithOrganisation is on: with the
   * sender's own key when the store holds one, else with the organisation's. The sender is
   * the From mailbox only when it is also the envelope's MAIL FROM: From is text any client
   * may write, and must not choose whose key signs (or who can read the copy).
   */
  async smimeCopy(
    raw: Buffer,
    certificate: string,
    options: { mailFrom?: string | undefined } = {},
  ): Promise<Copy> {
    const s = this.#o.secure;
    const { inner, outer } = protectHeaders(raw, { neutralSubject: s.neutralSubject });
    const header = mailbox(outer.find((h) => h.name.toLowerCase() === "from")?.value);
    const from = header !== null && header === options.mailFrom?.toLowerCase() ? header : null;
    const own = await this.#ownCertificates(from);
    const detail: CopyDetail = {
      alsoEncryptedTo: own.map((o) => use(o.role, o.key.id)),
    };

    let entity = inner;
    if (s.smime.signWithOrganisation) {
      const signer = own.find((o) => o.key.privateMaterial !== undefined);
      if (signer?.key.privateMaterial !== undefined) {
        entity = await signSmime(inner, {
          certPem: signer.key.material,
          keyPem: signer.key.privateMaterial,
          chainPem: chainOf(signer.key.material),
        });
        detail.signedBy = use(signer.role, signer.key.id);
      } else {
        detail.signedBy = "none";
        this.#warnUnsigned(own.length === 0 ? "no certificate" : "no private key");
      }
    }
    const bytes = await encryptSmime(entity, {
      recipients: [certificate, ...own.map((o) => o.key.material)],
      contentEncryption: s.smime.contentEncryption,
      rsaPadding: s.smime.rsaPadding,
      outerHeaders: outer,
    });
    return { bytes, detail };
  }

  /** A PGP/MIME copy (RFC 3156) carrying the whole original entity, bytes only. */
  async pgp(raw: Buffer, key: PublicKey): Promise<Buffer> {
    return (await this.pgpCopy(raw, key)).bytes;
  }

  /** A PGP/MIME copy, also encrypted to the organisation's archive key when one is usable. */
  async pgpCopy(raw: Buffer, key: PublicKey): Promise<Copy> {
    const now = this.#o.now?.() ?? new Date();
    const archive = await findArchiveKey(this.#o.repository, { now });
    const bytes = await encryptPgpMimeToBuffer(raw, {
      recipients: [key],
      archiveKey: archive.kind === "found" ? archive.key : undefined,
      neutralSubject: this.#o.secure.neutralSubject,
    });
    if (archive.kind === "found") {
      return { bytes, detail: { alsoEncryptedTo: [use("archive", archive.stored.id)] } };
    }
    const rejected = archive.rejections.map((r) => `${r.keyId}: ${r.reason}`);
    return {
      bytes,
      detail: {
        alsoEncryptedTo: [],
        ...(rejected.length > 0 ? { archiveRejected: rejected } : {}),
      },
    };
  }

  /**
   * Our certificates for this copy, signer candidates first: the sender's own (a staff-smime
   * or org-smime certificate naming the From address; one with a key preferred), then the
   * organisation's shared one (the newest org-smime certificate for another address). A staff
   * member's certificate is never used for someone else's mail.
   */
  async #ownCertificates(
    from: string | null,
  ): Promise<{ role: "sender" | "organisation"; key: StoredKey }[]> {
    const now = (this.#o.now?.() ?? new Date()).getTime();
    const valid = (k: StoredKey) => k.notAfter === null || k.notAfter.getTime() > now;
    const best = (keys: StoredKey[]) =>
      keys
        .filter(valid)
        .sort(
          (a, b) =>
            Number(b.privateMaterial !== undefined) - Number(a.privateMaterial !== undefined) ||
            b.createdAt.getTime() - a.createdAt.getTime(),
        )[0];
    const repo = this.#o.repository;
    const sender = from
      ? best(await repo.keysForAddress(from, ["staff-smime", "org-smime"]))
      : undefined;
    const shared = (await repo.listKeys(["org-smime"])).filter(
      (k) => from === null || !k.addresses.includes(from),
    );
    const organisation = best(shared);
    const out: { role: "sender" | "organisation"; key: StoredKey }[] = [];
    if (sender) out.push({ role: "sender", key: sender });
    if (organisation) out.push({ role: "organisation", key: organisation });
    return out;
  }

  /**
   * At start: with signing on, warns when no stored S/MIME certificate of ours has a private
   * key, so nothing could sign. Returns whether one has.
   */
  async checkSigningKeys(): Promise<boolean> {
    if (!this.#o.secure.smime.signWithOrganisation) return true;
    const own = await this.#o.repository.listKeys(["org-smime", "staff-smime"]);
    if (own.some((k) => k.privateMaterial !== undefined)) return true;
    this.#warnUnsigned(own.length === 0 ? "no certificate" : "no private key");
    return false;
  }

  #warnUnsigned(why: "no certificate" | "no private key"): void {
    const now = Date.now();
    if (now - this.#warnedAt < WARN_EVERY_MS) return;
    this.#warnedAt = now;
    this.#o.logger?.warn(
      { event: "secure:smime-unsigned", reason: why },
      "S/MIME signing is on but no signing key is stored; copies go out unsigned " +
        "(sealgate keys import --org or --staff CERT KEY)",
    );
  }
}

function use(role: "sender" | "organisation" | "archive", id: string): OwnKeyUse {
  return `${role}:${id}`;
}

/** The certificates after the first in a stored PEM bundle (the signer's chain). */
function chainOf(material: string): string[] {
  const blocks = material.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  return (blocks ?? []).slice(1).map((b) => `${b}\n`);
}
