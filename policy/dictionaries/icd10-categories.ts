/**
 * ICD-10-CM three-character categories, as the blocks of the tabular list (FY2025), so that a
 * code-shaped token in an unused range (a SKU such as "B22" or "U45") is not taken for a
 * diagnosis. Codes in a listed block can still be non-billable; the detector asks for context
 * as well.
 */
const BLOCKS = `
A00-A09 A15-A19 A20-A28 A30-A49 A50-A64 A65-A69 A70-A74 A75-A79 A80-A89 A90-A99
B00-B10 B15-B20 B25-B49 B50-B89 B90-B99
C00-C96 C4A C7A C7B D00-D09 D10-D36 D3A D37-D49 D50-D53 D55-D78 D80-D84 D86-D89
E00-E16 E20-E36 E40-E46 E50-E68 E70-E89
F01-F99 G00-G99 H00-H59 H60-H95 I00-I99 J00-J99 K00-K95 L00-L99 M00-M99 M1A
N00-N99 O00-O99 O9A P00-P96 Q00-Q99 R00-R99 S00-S99 T07-T88 U07 U09
V00-V99 W00-W99 X00-X99 Y00-Y99 Z00-Z99
`;

const CATEGORIES = new Set<string>();
for (const block of BLOCKS.trim().split(/\s+/)) {
  const [from, to] = block.split("-") as [string, string | undefined];
  if (to === undefined || !/^\d\d$/.test(from.slice(1)) || !/^\d\d$/.test(to.slice(1))) {
    CATEGORIES.add(from);
    continue;
  }
  const letter = from[0] ?? "";
  for (let n = Number(from.slice(1)); n <= Number(to.slice(1)); n++) {
    CATEGORIES.add(`${letter}${String(n).padStart(2, "0")}`);
  }
}

/** True when the first three characters of a code name an ICD-10-CM category. */
export function isIcd10Category(code: string): boolean {
  return CATEGORIES.has(code.slice(0, 3).toUpperCase());
}
