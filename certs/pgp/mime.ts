import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { createMessage, encrypt, enums, type PublicKey } from "openpgp";
import { armorMessage } from "./armor.js";
import { splitMessage, terminated, type RawField } from "./entity.js";
import { PgpError } from "./errors.js";

export interface PgpMimeOptions {
  /** Recipient keys, each already judged usable (checkPgpKey). At least one. */
  recipients: PublicKey[];
  /** The organisation's key, added as one more recipient so an archived copy stays readable. */
  archiveKey?: PublicKey | undefined;
  /**
   * When set, the outer Subject becomes this neutral text and the real Subject (with From,
   * To, Cc, Date, Message-ID, References) travels inside as protected headers. Default: the
   * original Subject stays outside and the inner entity is the original one, byte for byte.
   */
  neutralSubject?: string | undefined;
  /** Header fields copied to the outside. Default OUTER_HEADERS. */
  outerHeaders?: readonly string[];
  /** Judge key validity at this moment. Default: now. */
  date?: Date;
}

/** Fields a recipient's client needs outside to file and thread the message. */
export const OUTER_HEADERS = [
  "From",
  "Sender",
  "Reply-To",
  "To",
  "Cc",
  "Date",
  "Message-ID",
  "References",
  "In-Reply-To",
] as const;

/** Fields repeated inside when the Subject is protected (draft-ietf-lamps-header-protection). */
const PROTECTED_HEADERS = ["Subject", "From", "To", "Cc", "Date", "Message-ID", "References"];

/**
 * Conservative choices for GnuPG 2.2: SEIPDv1 with MDC unless every recipient key
 * advertises SEIPDv2 (openpgp decides that from the keys' features), no compression, and
 * AES-256 where the recipients' preferences list it.
 */
const ENCRYPT_CONFIG = {
  aeadProtect: false,
  v6Keys: false,
  preferredCompressionAlgorithm: enums.compression.uncompressed,
  preferredSymmetricAlgorithm: enums.symmetric.aes256,
};

/**
 * Wraps a whole RFC 5322 message as PGP/MIME (RFC 3156 §4): the original MIME entity (its
 * Content-* fields and body, bytes untouched) is encrypted as binary literal data, armored,
 * and sent as `multipart/encrypted; protocol="application/pgp-encrypted"`. The result
 * streams: the body is read, encrypted and written piece by piece.
 */
export function encryptPgpMime(
  input: Uint8Array | AsyncIterable<Uint8Array>,
  opts: PgpMimeOptions,
): Readable {
  if (opts.recipients.length === 0) {
    throw new PgpError("pgp-no-recipients", "PGP/MIME needs at least one recipient key");
  }
  return Readable.from(build(input, opts), { objectMode: false });
}

/** The same as encryptPgpMime, collected into one buffer (for small messages and tests). */
export async function encryptPgpMimeToBuffer(
  input: Uint8Array | AsyncIterable<Uint8Array>,
  opts: PgpMimeOptions,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of encryptPgpMime(input, opts)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function* build(
  input: Uint8Array | AsyncIterable<Uint8Array>,
  opts: PgpMimeOptions,
): AsyncGenerator<Buffer> {
  const { fields, eol, body } = await splitMessage(input);
  const crlf = "\r\n";
  const boundary = `sealgate-pgp-${randomBytes(12).toString("hex")}`;

  const inner = innerHeader(fields, eol, opts.neutralSubject !== undefined);
  const encrypted = await encryptEntity(inner, body, opts);

  yield Buffer.concat([
    outerHeader(fields, opts),
    Buffer.from(
      [
        "MIME-Version: 1.0",
        `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";`,
        ` boundary="${boundary}"`,
        "",
        "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)",
        `--${boundary}`,
        "Content-Type: application/pgp-encrypted",
        "Content-Description: PGP/MIME version identification",
        "",
        "Version: 1",
        "",
        `--${boundary}`,
        'Content-Type: application/octet-stream; name="encrypted.asc"',
        "Content-Description: OpenPGP encrypted message",
        'Content-Disposition: inline; filename="encrypted.asc"',
        "",
        "",
      ].join(crlf),
    ),
  ]);
  yield* armorMessage(encrypted);
  yield Buffer.from(`${crlf}--${boundary}--${crlf}`);
}

/**
 * Encrypts the inner entity to binary packets. Messages up to BUFFERED_LIMIT go through
 * openpgp's buffer path (its web streams cost more than the cryptography for a 10 KB
 * message); larger ones stream, so memory stays bounded whatever the message size.
 */
async function encryptEntity(
  head: Buffer,
  body: AsyncIterable<Buffer>,
  opts: PgpMimeOptions,
): Promise<AsyncIterable<Uint8Array>> {
  const keys = opts.archiveKey ? [...opts.recipients, opts.archiveKey] : opts.recipients;
  const chunks: Buffer[] = [head];
  let size = head.length;
  const iterator = body[Symbol.asyncIterator]();
  let streamed = false;
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) break;
    chunks.push(next.value);
    size += next.value.length;
    if (size > BUFFERED_LIMIT) {
      streamed = true;
      break;
    }
  }
  try {
    const common = {
      encryptionKeys: keys,
      format: "binary" as const,
      config: ENCRYPT_CONFIG,
      ...(opts.date ? { date: opts.date } : {}),
    };
    if (!streamed) {
      const message = await createMessage({ binary: new Uint8Array(Buffer.concat(chunks)) });
      return single(await encrypt({ message, ...common }));
    }
    const rest = (async function* () {
      yield* chunks;
      for (;;) {
        const next = await iterator.next();
        if (next.done === true) return;
        yield next.value;
      }
    })();
    const web = Readable.toWeb(Readable.from(rest)) as WebReadableStream<Uint8Array>;
    const message = await createMessage({ binary: web, format: "binary" });
    return (await encrypt({ message, ...common })) as unknown as AsyncIterable<Uint8Array>;
  } catch (err) {
    throw new PgpError("pgp-encrypt-failed", "OpenPGP encryption failed", { cause: err });
  }
}

/** Messages up to this size are encrypted in one piece. Default 512 KiB. */
const BUFFERED_LIMIT = 512 * 1024;

async function* single(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

function named(fields: RawField[], names: readonly string[]): RawField[] {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  return fields.filter((f) => wanted.has(f.name.toLowerCase()));
}

function outerHeader(fields: RawField[], opts: PgpMimeOptions): Buffer {
  const kept = named(fields, opts.outerHeaders ?? OUTER_HEADERS).map((f) =>
    terminated(f.raw, "\r\n"),
  );
  const subject =
    opts.neutralSubject !== undefined
      ? [Buffer.from(`Subject: ${opts.neutralSubject.replace(/[\r\n]+/g, " ")}\r\n`)]
      : named(fields, ["Subject"]).map((f) => terminated(f.raw, "\r\n"));
  return Buffer.concat([...kept, ...subject]);
}

/**
 * The inner entity's header: the original Content-* fields, byte for byte. With protected
 * headers, the real Subject and addressing fields come first and the Content-Type gains
 * `protected-headers="v1"` on a continuation line, leaving the original bytes intact.
 */
function innerHeader(fields: RawField[], eol: string, protect: boolean): Buffer {
  const content = fields.filter((f) => f.name.toLowerCase().startsWith("content-"));
  const parts: Buffer[] = [];
  if (protect) {
    parts.push(...named(fields, PROTECTED_HEADERS).map((f) => terminated(f.raw, eol)));
    const hasType = content.some((f) => f.name.toLowerCase() === "content-type");
    if (!hasType) {
      parts.push(Buffer.from(`Content-Type: text/plain; charset=us-ascii;${eol}`));
      parts.push(Buffer.from(` protected-headers="v1"${eol}`));
    }
  }
  for (const f of content) {
    const raw = terminated(f.raw, eol);
    if (protect && f.name.toLowerCase() === "content-type") {
      const withoutEol = raw.subarray(0, raw.length - (raw.at(-2) === 0x0d ? 2 : 1));
      parts.push(withoutEol, Buffer.from(`;${eol} protected-headers="v1"${eol}`));
    } else {
      parts.push(raw);
    }
  }
  parts.push(Buffer.from(eol));
  return Buffer.concat(parts);
}
