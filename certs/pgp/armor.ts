/**
 * ASCII armor (RFC 4880 §6.2, RFC 9580 §6.2) for an encrypted message, written with Node's
 * base64 so a 2 MB message is armored in a few milliseconds rather than in JavaScript
 * loops: 76-character lines, CRLF, and the CRC-24 checksum older clients still expect.
 */

const CRC24_INIT = 0xb704ce;
const CRC24_POLY = 0x1864cfb;
/** 57 input bytes make exactly one 76-character base64 line. */
const LINE_BYTES = 57;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 16;
    for (let bit = 0; bit < 8; bit++) {
      c <<= 1;
      if (c & 0x1000000) c ^= CRC24_POLY;
    }
    table[i] = c & 0xffffff;
  }
  return table;
})();

export function crc24(data: Uint8Array, crc = CRC24_INIT): number {
  let c = crc;
  for (let i = 0; i < data.length; i++) {
    c = ((c << 8) ^ (CRC_TABLE[((c >> 16) ^ (data[i] ?? 0)) & 0xff] ?? 0)) & 0xffffff;
  }
  return c;
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
