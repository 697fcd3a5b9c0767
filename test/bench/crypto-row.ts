import { pathToFileURL } from "node:url";

/** One cell of the encryption benchmarks: sealgate against a command-line tool, same input. */
export interface CryptoRow {
  method: "S/MIME" | "PGP/MIME";
  /** Recipient key, e.g. "RSA-2048 v1.5" or "cv25519". */
  key: string;
  /** "10 KB" or "2 MB". */
  size: string;
  /** sealgate, messages per second. */
  ours: number;
  /** The tool as it was called, e.g. "openssl cms -encrypt". */
  reference: string;
  /** The tool, messages per second (NaN when it is not installed). */
  theirs: number;
}

export function cryptoTable(rows: CryptoRow[]): string {
  return [
    "| method | recipient key | message | sealgate msg/s | reference | reference msg/s | ratio |",
    "|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.method} | ${r.key} | ${r.size} | ${r.ours.toFixed(1)} | \`${r.reference}\` | ` +
        `${r.theirs.toFixed(1)} | ${(r.ours / r.theirs).toFixed(2)} |`,
    ),
  ].join("\n");
}

/** True when this module is the program being run (not imported by the combined bench). */
export function isMain(metaUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && pathToFileURL(entry).href === metaUrl;
}

/**
 * Messages per second of each contender, measured in alternating slices so that load from
 * elsewhere on the machine falls on all of them alike.
 */
export async function rates(
  seconds: number,
  contenders: (() => Promise<unknown> | unknown)[],
  rounds = 6,
): Promise<number[]> {
  const count = contenders.map(() => 0);
  const spent = contenders.map(() => 0);
  for (const work of contenders) await work(); // warm up
  for (let r = 0; r < rounds; r++) {
    for (const [i, work] of contenders.entries()) {
      const start = process.hrtime.bigint();
      const until = start + BigInt(Math.round((seconds / rounds) * 1e9));
      let now = start;
      do {
        await work();
        count[i]!++;
        now = process.hrtime.bigint();
      } while (now < until);
      spent[i]! += Number(now - start) / 1e9;
    }
  }
  return count.map((n, i) => n / spent[i]!);
}
