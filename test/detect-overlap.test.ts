import t from "tap";
import { BUILTIN_DETECTORS, resolveOverlaps, runDetectors } from "../policy/detectors/index.js";
import type { DetectorMatch } from "../policy/detectors/types.js";
import type { TextSegment } from "../policy/extract/types.js";
import type { Confidence } from "../policy/types.js";

function body(text: string): TextSegment {
  return { source: "body", kind: "body", text, original: text };
}

function kept(text: string): string[] {
  return runDetectors([body(text)], BUILTIN_DETECTORS).map((m) => `${m.detector}:${m.confidence}`);
}

function m(detector: string, span: [number, number], confidence: Confidence): DetectorMatch {
  return { detector, segment: 0, start: span[0], end: span[1], confidence, key: detector };
}

const STRENGTH = new Map([
  ["us-ssn", 4],
  ["npi", 3],
  ["mrn", 2],
  ["drug", 1],
]);

t.test(
  "a labelled identifier is not lost to a bare checksum match on the same digits",
  async (t) => {
    t.same(kept("MRN: 512441234"), ["mrn:high"], "SSN-shaped MRN");
    t.same(kept("Member ID: 498331276"), ["health-plan-id:high"], "SSN-shaped member ID");
    t.same(kept("MRN: 1234567893"), ["mrn:high"], "NPI-valid MRN");
    t.same(kept("Member ID: AB1234563"), ["health-plan-id:high"], "DEA-valid member ID");
  },
);

t.test(
  "a low match never removes a medium or high one, whatever the detectors' strength",
  async (t) => {
    const out = resolveOverlaps([m("us-ssn", [0, 9], "low"), m("mrn", [0, 9], "high")], STRENGTH);
    t.same(
      out.map((x) => x.detector),
      ["mrn"],
    );
    const medium = resolveOverlaps(
      [m("npi", [0, 10], "low"), m("mrn", [0, 10], "medium")],
      STRENGTH,
    );
    t.same(
      medium.map((x) => x.detector),
      ["mrn"],
    );
  },
);

t.test("at equal confidence the stronger evidence (a checksum) still wins", async (t) => {
  const out = resolveOverlaps([m("mrn", [0, 11], "high"), m("us-ssn", [0, 11], "high")], STRENGTH);
  t.same(
    out.map((x) => x.detector),
    ["us-ssn"],
  );
  t.same(kept("SSN: 512-44-1234"), ["us-ssn:high"]);
});

t.test("a dictionary word inside a longer identifier gives way even when it is high", async (t) => {
  const out = resolveOverlaps(
    [m("drug", [0, 6], "high"), m("us-ssn", [0, 11], "medium")],
    STRENGTH,
  );
  t.same(
    out.map((x) => x.detector),
    ["us-ssn"],
  );
});
