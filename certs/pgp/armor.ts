/**
 * ASCII armor (RFC 4880 §6.2, RFC 9580 §6.2) for an encrypted message, written with Node's
 * base64 so a 2 MB message is armored in a few milliseconds rather than in JavaScript
 * loops: 76-character lines, CRLF, and the CRC-24 checksum older clients still expect.
 */

const CRC24_INIT = 0xb704ce;
const CRC24_POLY = 0x1864cfb;
/** 57 input bytes make exactly one 76-character base64 line. */
const LINE_BYTES = 57;

/**
 * CRC-24 tables for slicing by four: the register is kept left-aligned in 32 bits, so four
 * input bytes are folded in per step (table k holds the effect of a byte k steps earlier).
 */
const CRC_TABLES = (() => {
  const poly = CRC24_POLY << 8;
  const tables = [0, 1, 2, 3].map(() => new Int32Array(256));
  const [t0, t1, t2, t3] = tables as [Int32Array, Int32Array, Int32Array, Int32Array];
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let bit = 0; bit < 8; bit++) c = c & 0x80000000 ? (c << 1) ^ poly : c << 1;
    t0[i] = c;
  }
  for (let i = 0; i < 256; i++) {
    t1[i] = (t0[i]! << 8) ^ t0[t0[i]! >>> 24]!;
    t2[i] = (t1[i]! << 8) ^ t0[t1[i]! >>> 24]!;
    t3[i] = (t2[i]! << 8) ^ t0[t2[i]! >>> 24]!;
  }
  return { t0, t1, t2, t3 };
})();

export function crc24(data: Uint8Array, crc = CRC24_INIT): number {
  const { t0, t1, t2, t3 } = CRC_TABLES;
  let c = crc << 8;
  let i = 0;
  const whole = data.length - (data.length % 4);
  for (; i < whole; i += 4) {
    c ^= (data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!;
    c = t3[c >>> 24]! ^ t2[(c >>> 16) & 0xff]! ^ t1[(c >>> 8) & 0xff]! ^ t0[c & 0xff]!;
  }
  for (; i < data.length; i++) c = (c << 8) ^ t0[((c >>> 24) ^ data[i]!) & 0xff]!;
  return (c >>> 8) & 0xffffff;
}

function lines(bytes: Buffer): Buffer {
  const b64 = bytes.toString("base64");
  const out = Buffer.allocUnsafe(b64.length + Math.ceil(b64.length / 76) * 2);
  let o = 0;
  for (let i = 0; i < b64.length; i += 76) {
    o += out.write(b64.slice(i, i + 76), o, "latin1");
    o += out.write("\r\n", o, "latin1");
  }
  return out.subarray(0, o);
}

/** Armors a stream of binary OpenPGP packets as a PGP MESSAGE block, CRLF line ends. */
export async function* armorMessage(binary: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  yield Buffer.from("-----BEGIN PGP MESSAGE-----\r\n\r\n");
  let crc = CRC24_INIT;
  let carry = Buffer.alloc(0);
  for await (const chunk of binary) {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    crc = crc24(bytes, crc);
    const all = carry.length > 0 ? Buffer.concat([carry, bytes]) : bytes;
    const whole = all.length - (all.length % LINE_BYTES);
    if (whole > 0) yield lines(all.subarray(0, whole));
    carry = Buffer.from(all.subarray(whole));
  }
  const sum = Buffer.from([(crc >> 16) & 0xff, (crc >> 8) & 0xff, crc & 0xff]).toString("base64");
  yield Buffer.concat([
    carry.length > 0 ? lines(carry) : Buffer.alloc(0),
    Buffer.from(`=${sum}\r\n-----END PGP MESSAGE-----\r\n`),
  ]);
}
