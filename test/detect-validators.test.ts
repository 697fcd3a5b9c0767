import t from "tap";
import {
  isValidAbaRouting,
  isValidCard,
  isValidDea,
  isValidMbi,
  isValidNpi,
  isValidSsn,
  luhn,
} from "../policy/detectors/validators.js";
import { maskValue } from "../policy/detectors/mask.js";

t.test(
  "SSN rules reject invalid areas, groups, serials and published sample numbers",
  async (t) => {
    t.ok(isValidSsn("706560759"));
    t.ok(isValidSsn("899991234"), "highest valid area");
    for (const bad of ["000123456", "666123456", "900123456", "123001234", "123450000"]) {
      t.notOk(isValidSsn(bad), bad);
    }
    for (const sample of ["078051120", "123456789", "219099999", "111111111"]) {
      t.notOk(isValidSsn(sample), `sample ${sample}`);
    }
    for (const made of ["111223333", "123456780", "012345679", "876543219", "555555555"]) {
      t.notOk(isValidSsn(made), `made-up pattern ${made}`);
    }
    t.ok(isValidSsn("512441234"), "a number with some repeats is still a number");
    t.notOk(isValidSsn("70656075"), "eight digits");
  },
);

t.test("NPI passes Luhn only with the 80840 prefix and starts with 1 or 2", async (t) => {
  t.ok(isValidNpi("1234567893"), "CMS example check digit");
  t.notOk(isValidNpi("1234567890"));
  t.notOk(isValidNpi("3234567893"), "must start 1 or 2");
  t.notOk(isValidNpi("123456789"), "nine digits");
});

t.test("DEA numbers need a registrant letter and the check digit", async (t) => {
  t.ok(isValidDea("AB1234563"));
  t.notOk(isValidDea("AB1234564"), "wrong check digit");
  t.notOk(isValidDea("QB1234563"), "Q is no registrant type");
  t.notOk(isValidDea("AB123456"), "too short");
});

t.test("MBI follows the CMS character classes position by position", async (t) => {
  t.ok(isValidMbi("3KP5WX8NR21"));
  t.notOk(isValidMbi("1EG4TE5MK73"), "the example CMS publishes is no one's number");
  t.notOk(isValidMbi("0EG4TE5MK73"), "first is 1-9");
  t.notOk(isValidMbi("1SG4TE5MK73"), "S is excluded");
  t.notOk(isValidMbi("1EG4TE5MK7"), "ten characters");
});

t.test(
  "cards need a network prefix and Luhn, and published test numbers are rejected",
  async (t) => {
    t.ok(isValidCard("4539578763621486"));
    t.notOk(isValidCard("4539578763621487"), "Luhn fails");
    t.notOk(isValidCard("4111111111111111"), "test number");
    t.notOk(isValidCard("9539578763621486"), "no network");
    t.ok(luhn("79927398713"));
  },
);

t.test("ABA routing numbers pass the 3-7-1 checksum in a Federal Reserve range", async (t) => {
  t.ok(isValidAbaRouting("011000015"));
  t.notOk(isValidAbaRouting("011000016"));
  t.notOk(isValidAbaRouting("991000015"), "no such district");
});

t.test("masking keeps separators and the last four of long values only", async (t) => {
  t.equal(maskValue("123-45-6789"), "***-**-6789");
  t.equal(maskValue("E11.9"), "***.9");
  t.equal(maskValue("Jane Roe", { keepNone: true }), "**** ***");
});
