/**
 * Checksums and format rules for identifiers. Each takes the value with separators already
 * removed and answers whether it can be a real one. These are also the named validators policy
 * authors can attach to a custom detector.
 */

/**
 * Numbers widely published as examples (the 1938 Woolworth wallet card, advertising and
 * training material, "123-45-6789") and never a real person's.
 */
const SAMPLE_SSNS = new Set([
  "078051120",
  "219099999",
  "457555462",
  "123456789",
  "111111111",
  "333333333",
  "222222222",
  "444444444",
  "555555555",
  "777777777",
  "888888888",
  "123121234",
  "111223333",
  "123456780",
  "078051121",
]);

/**
 * Made-up numbers of the kinds forms and training use: one digit repeated ("555-55-5555"),
 * each group one repeated digit ("111-22-3333"), or counting from the keyboard's start
 * ("123-45-678x", "012-34-567x") or back from its end ("876-54-321x").
 */
function isPatternSsn(d: string): boolean {
  if (/^(\d)\1{8}$/.test(d) || /^(\d)\1\1(\d)\2(\d)\3\3\3$/.test(d)) return true;
  return /^(?:12345678|01234567|87654321)/.test(d);
}

/** SSA rules: no area 000, 666 or 9xx; no group 00; no serial 0000; no published samples. */
export function isValidSsn(digits: string): boolean {
  if (!/^\d{9}$/.test(digits)) return false;
  const area = digits.slice(0, 3);
  if (area === "000" || area === "666" || area.startsWith("9")) return false;
  if (digits.slice(3, 5) === "00" || digits.slice(5) === "0000") return false;
  return !SAMPLE_SSNS.has(digits) && !isPatternSsn(digits);
}

/** Luhn (mod 10) check over a string of digits. */
export function luhn(digits: string): boolean {
  if (!/^\d+$/.test(digits) || digits.length < 2) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** NPI: 10 digits starting 1 or 2, Luhn over the ISO prefix 80840 and the number. */
export function isValidNpi(digits: string): boolean {
  return /^[12]\d{9}$/.test(digits) && luhn(`80840${digits}`);
}

/**
 * DEA registration: two letters (registrant type, then the registrant's initial or 9) and
 * seven digits; check digit = (d1+d3+d5 + 2*(d2+d4+d6)) mod 10.
 */
export function isValidDea(value: string): boolean {
  const m = /^([ABCDEFGHJKLMPRSTUX])([A-Z9])(\d{7})$/.exec(value.toUpperCase());
  if (m === null) return false;
  const d = (m[3] ?? "").split("").map(Number);
  const sum =
    (d[0] ?? 0) + (d[2] ?? 0) + (d[4] ?? 0) + 2 * ((d[1] ?? 0) + (d[3] ?? 0) + (d[5] ?? 0));
  return sum % 10 === d[6];
}

/** ABA routing number: 9 digits, weights 3-7-1, first two digits a valid Federal Reserve range. */
export function isValidAbaRouting(digits: string): boolean {
  if (!/^\d{9}$/.test(digits)) return false;
  const prefix = Number(digits.slice(0, 2));
  const validPrefix =
    (prefix >= 0 && prefix <= 12) ||
    (prefix >= 21 && prefix <= 32) ||
    (prefix >= 61 && prefix <= 72) ||
    prefix === 80;
  if (!validPrefix || digits === "000000000") return false;
  const w = [3, 7, 1];
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (digits.charCodeAt(i) - 48) * (w[i % 3] ?? 0);
  return sum % 10 === 0;
}

// Medicare Beneficiary Identifier character classes (CMS): letters without S, L, O, I, B, Z.
const MBI_ALPHA = "[AC-HJKMNP-RT-Y]";
const MBI_ALNUM = "[AC-HJKMNP-RT-Y0-9]";
const MBI_RE = new RegExp(
  `^[1-9]${MBI_ALPHA}${MBI_ALNUM}[0-9]${MBI_ALPHA}${MBI_ALNUM}[0-9]${MBI_ALPHA}{2}[0-9]{2}$`,
);

/** The example MBI printed in CMS's own material about the new Medicare card. */
const SAMPLE_MBIS = new Set(["1EG4TE5MK73"]);

/** MBI: 11 characters, position by position as CMS specifies; not CMS's published example. */
export function isValidMbi(value: string): boolean {
  const v = value.toUpperCase();
  return MBI_RE.test(v) && !SAMPLE_MBIS.has(v);
}

/** Test card numbers published by card networks and processors. */
const SAMPLE_CARDS = new Set([
  "4111111111111111",
  "4012888888881881",
  "4222222222222",
  "5555555555554444",
  "5105105105105100",
  "378282246310005",
  "371449635398431",
  "6011111111111117",
  "6011000990139424",
  "3530111333300000",
  "3566002020360505",
  "4242424242424242",
]);

/** Payment card: 13-19 digits, a known network prefix, Luhn, not a published test number. */
export function isValidCard(digits: string): boolean {
  if (!/^\d{13,19}$/.test(digits) || SAMPLE_CARDS.has(digits)) return false;
  if (!cardPrefix(digits)) return false;
  return luhn(digits);
}

function cardPrefix(d: string): boolean {
  const two = Number(d.slice(0, 2));
  const four = Number(d.slice(0, 4));
  if (d.startsWith("4")) return d.length === 13 || d.length === 16 || d.length === 19;
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return d.length === 16;
  if (two === 34 || two === 37) return d.length === 15;
  if (d.startsWith("6011") || d.startsWith("65")) return d.length >= 16;
  if (four >= 3528 && four <= 3589) return d.length >= 16;
  return false;
}

/** The validators a policy author can name on a custom detector. */
export const NAMED_VALIDATORS = {
  luhn: (v: string) => luhn(v.replace(/\D/g, "")),
  "us-ssn": (v: string) => isValidSsn(v.replace(/\D/g, "")),
  npi: (v: string) => isValidNpi(v.replace(/\D/g, "")),
  dea: (v: string) => isValidDea(v.replace(/[^A-Za-z0-9]/g, "")),
  "aba-routing": (v: string) => isValidAbaRouting(v.replace(/\D/g, "")),
  mbi: (v: string) => isValidMbi(v.replace(/[^A-Za-z0-9]/g, "")),
  "payment-card": (v: string) => isValidCard(v.replace(/\D/g, "")),
} as const satisfies Record<string, (value: string) => boolean>;

export type ValidatorName = keyof typeof NAMED_VALIDATORS;
