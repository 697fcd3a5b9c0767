import t from "tap";
import {
  BUILTIN_DETECTORS,
  countUnique,
  resolveOverlaps,
  runDetectors,
} from "../policy/detectors/index.js";
import type { DetectorMatch } from "../policy/detectors/types.js";
import type { TextSegment } from "../policy/extract/types.js";
import type { Confidence } from "../policy/types.js";

function body(text: string): TextSegment {
  return { source: "body", kind: "body", text, original: text };
}

function sheet(rows: string[][]): TextSegment {
  const text = rows.map((r) => r.join("\t")).join("\n");
  return { source: "attachment:x.csv", kind: "attachment", text, original: text, table: rows };
}

function found(detector: string, segment: TextSegment): Confidence[] {
  return runDetectors([segment], BUILTIN_DETECTORS)
    .filter((m) => m.detector === detector)
    .map((m) => m.confidence);
}

t.test("an SSN's confidence rises with whole-word context, SSN# and SS# included", async (t) => {
  t.same(found("us-ssn", body("Form shows 706-56-0759 today")), ["medium"]);
  t.same(found("us-ssn", body("SSN: 706-56-0759")), ["high"]);
  t.same(found("us-ssn", body("SSN#706560759")), ["high"]);
  t.same(found("us-ssn", body("patient SS# 706 56 0759")), ["high"]);
  t.same(found("us-ssn", body("value 706560759 noted")), ["low"], "bare digits stay low");
  t.same(
    found("us-ssn", body("lessons learned 706560759")),
    ["low"],
    "ss inside a word is no context",
  );
});

t.test("numbers in other roles are not taken for SSNs", async (t) => {
  t.same(found("us-ssn", body("Order no. 706560759 shipped")), []);
  t.same(found("us-ssn", body("Tracking: 706560759")), []);
  t.same(found("us-ssn", body("Total 1,706,560,759 records")), [], "comma-grouped");
  t.same(found("us-ssn", body("Ship to Peoria, IL 61615-1842")), [], "ZIP+4");
  t.same(found("us-ssn", body("Call (217) 555-0130")), [], "phone number");
  t.same(found("us-ssn", body("epoch 1731706560759 ms")), [], "digits inside a longer number");
  t.same(found("us-ssn", body("SSN 123-45-6789 is the usual example")), [], "published sample");
});

t.test("a header cell lends its context to its whole column", async (t) => {
  const rows = [
    ["name", "SSN", "order"],
    ["Jane Roe", "706560759", "606560751"],
  ];
  t.same(found("us-ssn", sheet(rows)), ["high"], "only the SSN column, not the order column");
  const dob = sheet([
    ["last_name", "dob", "visit"],
    ["Roe", "1955-04-13", "2024-11-12"],
  ]);
  t.equal(found("dob", dob).length, 1, "dates under a DOB header are DOBs, visit dates are not");
});

t.test("the same value repeated counts once", async (t) => {
  const m = runDetectors(
    [body("SSN 706-56-0759. Again: SSN 706-56-0759 and 706560759.")],
    BUILTIN_DETECTORS,
  );
  t.equal(countUnique(m, "us-ssn", "low"), 1);
});

t.test("a date is a date of birth only with birth context", async (t) => {
  t.same(found("dob", body("Appointment on 11/21/2024 at 9:00")), []);
  t.same(found("dob", body("Jane Roe, DOB 10/29/1941, seen today")), ["high"]);
  t.same(found("dob", body("born March 3, 1950 in Ohio")), ["high"]);
});

t.test("ICD-10 shapes need a listed category and context; SKUs are not codes", async (t) => {
  t.same(found("icd10", body("Dx: E11.9 Type 2 diabetes mellitus")), ["high"]);
  t.same(found("icd10", body("Items E11-9, I10-BLK and J45-909 in stock")), []);
  t.same(found("icd10", body("Item A01 ships Monday")), ["low"]);
  t.same(found("icd10", body("Diagnosis: U45.1")), [], "U45 is no ICD-10-CM category");
});

t.test("CPT codes count only with context, ZIP codes never", async (t) => {
  t.same(found("cpt", body("Billed CPT 99213 today")), ["high"]);
  t.same(found("cpt", body("Springfield, IL 62704")), []);
  t.same(found("cpt", body("We shipped 99213 units")), []);
});

t.test(
  "a patient's name needs a patient marker; clinicians and job titles are not patients",
  async (t) => {
    t.same(found("patient-name", body("Patient: Jane Roe\nSeen today")), ["high"]);
    t.same(found("patient-name", body("Position: Patient Access Representative")), []);
    t.same(found("patient-name", body("New Patient Intake Form")), []);
    t.same(found("patient-name", body("Dear Dr. Grace Whitfield,")), []);
    t.same(found("patient-name", body("Referring: Anjali Rao, MD")), []);
    t.same(found("patient-name", body("Patient Hannah Montoya MRN 72517897")), ["high"]);
  },
);

t.test("overlapping claims on one span go to the stronger detector", async (t) => {
  const m = (
    detector: string,
    start: number,
    end: number,
    confidence: Confidence,
  ): DetectorMatch => ({ detector, segment: 0, start, end, confidence, key: detector });
  const kept = resolveOverlaps(
    [m("drug", 0, 6, "high"), m("us-ssn", 0, 11, "medium"), m("phone", 20, 30, "medium")],
    new Map([
      ["drug", 1],
      ["us-ssn", 4],
      ["phone", 2],
    ]),
  );
  t.same(
    kept.map((k) => k.detector),
    ["us-ssn", "phone"],
  );
});

t.test("drug names, MBIs, NPIs and DEA numbers are found with their context", async (t) => {
  t.same(found("drug", body("takes sertraline 100 mg daily")), ["high"]);
  t.same(found("medicare-mbi", body("MBI: 3KP5-WX8-NR21")), ["high"]);
  t.same(found("medicare-mbi", body("MBI: 1EG4-TE5-MK73")), [], "CMS's published example");
  t.same(found("npi", body("NPI 1234567893")), ["high"]);
  t.same(found("dea", body("DEA: AB1234563")), ["high"]);
  t.same(found("payment-card", body("Visa card 4539 5787 6362 1486")), ["high"]);
  t.same(found("aba-routing", body("Routing number 011000015")), ["high"]);
});

t.test("adversarial text is scanned in bounded time", async (t) => {
  const inputs = [
    "Patient: " + "Aaaa ".repeat(100_000),
    "1".repeat(500_000),
    "1-2-3-4-5-6-7-8-9-".repeat(30_000),
    "Dear Mr. Ab Cd Ef ".repeat(30_000),
    "DOB born date of birth 1/1/".repeat(20_000),
    "12 Aaa Bbb Ccc ".repeat(40_000),
    "a@".repeat(250_000),
  ];
  const started = Date.now();
  for (const text of inputs) runDetectors([body(text)], BUILTIN_DETECTORS);
  t.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
});

t.test("digits in neighbouring cells are not joined into one number", async (t) => {
  const rows = [
    ["area", "exchange", "line", "group", "serial"],
    ["217", "555", "0130", "56", "0759"],
  ];
  t.same(found("phone", sheet(rows)), []);
  t.same(
    found(
      "us-ssn",
      sheet([
        ["a", "b", "c"],
        ["706", "56", "0759"],
      ]),
    ),
    [],
  );
});
