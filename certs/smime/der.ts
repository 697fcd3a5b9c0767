/**
 * Just enough DER (X.690 §8, §10) to write the outer layers of a CMS object around a large
 * ciphertext without copying it through an ASN.1 library, and to walk back to the recipient
 * entries without parsing the content.
 */

export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One tag-length-value with a definite length. */
export function tlv(tag: number, parts: Buffer[]): Buffer {
  const length = parts.reduce((sum, p) => sum + p.length, 0);
  return Buffer.concat([Buffer.from([tag]), derLength(length), ...parts]);
}

export interface DerHeader {
  tag: number;
  /** Offset of the value. */
  start: number;
  /** Offset after the value. */
  end: number;
}

/** Reads the header at offset; throws on indefinite or truncated lengths (not DER). */
export function readHeader(der: Buffer, offset: number): DerHeader {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined) throw new Error("truncated DER");
  if ((tag & 0x1f) === 0x1f) throw new Error("multi-byte tags are not used here");
  let length = first;
  let start = offset + 2;
  if (first === 0x80) throw new Error("indefinite length is not DER");
  if (first > 0x80) {
    const count = first & 0x7f;
    if (count > 4) throw new Error("DER length too long");
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = der[start + i];
      if (b === undefined) throw new Error("truncated DER");
      length = length * 256 + b;
    }
    start += count;
  }
  const end = start + length;
  if (end > der.length) throw new Error("truncated DER");
  return { tag, start, end };
}
