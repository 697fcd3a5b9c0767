import t from "tap";
import { BUILTIN_DETECTORS, runDetectors } from "../policy/detectors/index.js";
import type { TextSegment } from "../policy/extract/types.js";

function body(text: string): TextSegment {
  return { source: "body", kind: "body", text, original: text };
}

function sheet(rows: string[][]): TextSegment {
  const text = rows.map((r) => r.join("\t")).join("\n");
  return { source: "attachment:x.csv", kind: "attachment", text, original: text, table: rows };
}

function found(detector: string, segment: TextSegment): string[] {
  return runDetectors([segment], BUILTIN_DETECTORS)
    .filter((m) => m.detector === detector)
    .map((m) => m.confidence);
}

t.test("a label on the line or table row above names the number's role", async (t) => {
  t.same(found("us-ssn", body("Thanks!\nOrder number:\n512-44-1234\nShip date: Monday")), []);
  t.same(found("us-ssn", body("Order #\tQty\n512-44-1234\t3\n498-33-1276\t5\n")), [], "HTML table");
  t.same(found("us-ssn", body("Social Security Number:\n\n512-44-1234")), ["high"]);
  t.same(
    found("us-ssn", body("Name\tCity\tSSN\nJane Roe\tSpringfield\t512441234\n")),
    ["high"],
    "a column header of a tab-separated block lends context",
  );
  t.same(
    found("us-ssn", body("We spoke about the order today and\n512-44-1234\n")),
    ["medium"],
    "a sentence above is no label",
  );
});

t.test("any '<word> no./#/number' label of another word is another role", async (t) => {
  for (const text of [
    "Catalog no. 512-44-1234",
    "Model # 512-44-1234",
    "Lot number: 512-44-1234",
    "see account 498-33-1276",
    "Item: Widget, model 301-22-4455",
  ]) {
    t.same(found("us-ssn", body(text)), [], text);
  }
  t.same(found("us-ssn", body("SSN no. 512-44-1234")), ["high"], "its own label is context");
  t.same(found("us-ssn", body("Social Security No.: 512-44-1234")), ["high"]);
  t.same(found("us-ssn", body("ID no. 512-44-1234")), ["medium"], "ID names no other role");
});

t.test("a taxpayer or employer identification number is not an SSN", async (t) => {
  t.same(found("us-ssn", body("Federal Tax ID (TIN): 271234567")), []);
  t.same(found("us-ssn", body("EIN 271234567")), []);
  t.same(found("us-ssn", body("Taxpayer ID (SSN): 512-44-1234")), ["high"], "unless it says SSN");
});

t.test("published sample and made-up pattern values are rejected", async (t) => {
  for (const v of ["111-22-3333", "123-45-6780", "012-34-5679", "555-55-5555"]) {
    t.same(found("us-ssn", body(`SSN: ${v}`)), [], v);
  }
  t.same(found("medicare-mbi", body("Medicare number 1EG4-TE5-MK73")), []);
});

t.test(
  "ICD-10 needs clinical words, not 'with', and not a form's or release's number",
  async (t) => {
    t.same(found("icd10", body("Please complete form C12.1 with your manager")), ["low"]);
    t.same(found("icd10", body("Release R10.2 with fixes for the printer driver")), ["low"]);
    t.same(
      found("icd10", body("Form B20.1 diagnosis pending")),
      [],
      "a form's number, context or not",
    );
    t.same(found("icd10", body("Thanks, C12.1 with you")), ["low"]);
    t.same(found("icd10", body("Seen for R10.2 acute abdominal pain")), ["high"]);
    t.same(found("icd10", body("Dx: E11.ZZZZ noted")), [], "letters alone after the dot");
    t.same(found("icd10", body("Dx: T36.0X1A")), ["high"], "placeholders and a 7th letter");
  },
);

t.test("lab values must be plausible for the test, and money is no lab value", async (t) => {
  t.same(found("lab-result", body("The quote total is INR 45000 for the licence")), []);
  t.same(found("lab-result", body("The BP 2000 station receipt")), []);
  t.same(found("lab-result", body("Press Alt 4 then Enter")), []);
  t.same(found("lab-result", body("INR 2.4 today")), ["medium"]);
  t.same(found("lab-result", body("BP 142/91 at the visit")), ["medium"]);
  t.same(found("lab-result", body("ALT 45")), ["medium"]);
  t.same(found("lab-result", body("lab results: Alt 45")), ["high"], "mixed case with context");
  t.same(found("lab-result", body("A1c 7.2")), ["medium"]);
  t.same(found("lab-result", body("A1c 72")), [], "out of range");
});

t.test("CPT codes are not read from amounts", async (t) => {
  t.same(found("cpt", body("We billed 14500 for the March shipment")), []);
  t.same(found("cpt", body("CPT codes, total 14500 this month")), []);
  t.same(found("cpt", body("CPT 99213 billed today")), ["high"]);
});

t.test("a date of birth's context stops at a blank field or the next label", async (t) => {
  t.same(found("dob", body("Name: ______ DOB: ________ Today's date: 11/02/2025")), []);
  t.same(found("dob", body("DOB: Visit date: 11/02/2024")), []);
  t.same(found("dob", body("Date of birth (mm/dd/yyyy): 03/14/1961")), ["high"]);
  t.same(found("dob", body("born on: 03/14/1961")), ["high"]);
});

t.test("a table's header row is found below a title row", async (t) => {
  const titled = sheet([
    ["Clinic roster - March"],
    ["Name", "SSN", "DOB"],
    ["Jane Roe", "512441234", "03/14/1961"],
  ]);
  t.same(found("us-ssn", titled), ["high"]);
  t.same(found("dob", titled), ["high"]);
  t.same(found("patient-name", titled), ["high"]);
  const noted = sheet([
    ["Export generated 2025-03-01"],
    ["", ""],
    ["Name", "SSN"],
    ["Jane Roe", "512441234"],
  ]);
  t.same(found("us-ssn", noted), ["high"]);
  const plain = sheet([
    ["SSN", "Plan"],
    ["512441234", "Gold"],
  ]);
  t.same(found("us-ssn", plain), ["high"], "row 0 is still the header when it looks like one");
});
