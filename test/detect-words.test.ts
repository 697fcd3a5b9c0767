import t from "tap";
import { BUILTIN_DETECTORS, ContextWords, runDetectors } from "../policy/detectors/index.js";
import type { TextSegment } from "../policy/extract/types.js";

function body(text: string): TextSegment {
  return { source: "body", kind: "body", text, original: text };
}

function found(detector: string, text: string): string[] {
  return runDetectors([body(text)], BUILTIN_DETECTORS)
    .filter((m) => m.detector === detector)
    .map((m) => `${text.slice(m.start, m.end)}:${m.confidence}`);
}

t.test("context words match their plurals, but short words do not grow into others", async (t) => {
  const words = new ContextWords(["ssn", "mrn", "hi", "it", "case"]);
  t.ok(words.test("here are the ssns you asked for"));
  t.ok(words.test("mrns: 1234"));
  t.ok(words.test("open cases"));
  t.notOk(words.test("his chart"), "hi is not found in his");
  t.notOk(words.test("its label"), "it is not found in its");
  t.notOk(words.test("ssnsx"), "a plural is still a whole word");
});

t.test("context words match written with abbreviation dots", async (t) => {
  const words = new ContextWords(["soc sec", "ssn", "date of birth"]);
  t.ok(words.test("soc. sec. no. 512441234"));
  t.ok(words.test("s.s.n. 512441234"));
  t.notOk(words.test("soc.. sec"), "one dot, not any run of punctuation");
});

t.test("an SSN is found after plural, dotted and glued labels and with dots", async (t) => {
  t.same(found("us-ssn", "Here are the SSNs you asked for:\n512441234\n498331276\n"), [
    "512441234:high",
    "498331276:high",
  ]);
  t.same(found("us-ssn", "Soc. Sec. No. 512441234 for the claimant."), ["512441234:high"]);
  t.same(found("us-ssn", "Patient form: SSN512-44-1234 on file."), ["512-44-1234:high"]);
  t.same(found("us-ssn", "Employee benefits: SSN 512.44.1234 please update."), [
    "512.44.1234:high",
  ]);
  t.same(found("us-ssn", "firmware 512.44.1234 released"), ["512.44.1234:low"], "dots alone: low");
  t.same(found("us-ssn", "part AB512-44-1234"), [], "letters that are no label still join");
  t.same(found("npi", "NPI1234567893 on the claim"), ["1234567893:high"]);
});

t.test("a label in front of a list labels every value of it", async (t) => {
  t.same(found("mrn", "Please pull these MRNs: 51244123, 49833127 and 77712345."), [
    "51244123:high",
    "49833127:high",
    "77712345:high",
  ]);
  t.same(found("mrn", "MRN: 51244123, see the chart"), ["51244123:high"]);
});
