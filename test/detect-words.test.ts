import t from "tap";
import { BUILTIN_DETECTORS, ContextWords, runDetectors } from "../policy/detectors/index.js";
import { fold, unmatchable } from "../policy/detectors/words.js";
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

t.test("accented terms match with or without their accents, offsets unchanged", async (t) => {
  const words = new ContextWords(["diagnóstico", "niño enfermo", "numero de cuenta"]);
  t.ok(words.test(fold("El Diagnóstico del paciente")));
  t.ok(words.test(fold("el diagnostico")), "typed without the accent");
  t.ok(words.test(fold("NIÑO ENFERMO")));
  t.ok(words.test(fold("número de cuenta")), "the text has the accent, the term does not");
  const text = "Ärztin: Müller, Straße 5";
  t.equal(fold(text).length, text.length);
  t.equal(fold(text), "arztin: muller, straße 5", "ß has no one-letter fold and stays");
});

t.test("keywords with punctuation match as written", async (t) => {
  const words = new ContextWords(["dx:", "(confidential)", "acct:"]);
  t.ok(words.test("dx: flu"));
  t.ok(words.test("note (confidential) here"));
  t.notOk(words.test("dx flu"), "the colon is part of the keyword");
  t.ok(words.test("acct: a-654321"));
});

t.test("terms that can never match are named, not silently dropped", async (t) => {
  t.equal(unmatchable("diagnóstico"), undefined);
  t.equal(unmatchable("(confidential)"), undefined);
  t.match(unmatchable("Straße") ?? "", /U\+00DF cannot be matched/);
  t.match(unmatchable("[secure]") ?? "", /U\+005B/);
  t.match(unmatchable("   ") ?? "", /empty/);
});
