import { readFileSync } from "node:fs";
import path from "node:path";
import t from "tap";
import { PolicyError, compilePolicy } from "../policy/index.js";
import { runDetectors } from "../policy/detectors/index.js";
import { luhn } from "../policy/detectors/validators.js";
import type { Extraction, TextSegment } from "../policy/extract/types.js";
import { UNSCANNABLE_FLOOR, type CompiledPolicy } from "../policy/rules/evaluate.js";
import type { Verdict } from "../policy/types.js";

function extraction(body: string, extra: Partial<Extraction> = {}): Extraction {
  const segments: TextSegment[] = [{ source: "body", kind: "body", text: body, original: body }];
  return {
    segments,
    unscannable: [],
    attachments: [],
    headers: [{ name: "Subject", value: "hello" }],
    ...extra,
  };
}

function run(
  policy: CompiledPolicy,
  x: Extraction,
  envelope = { mailFrom: "a@clinic.example.org", rcptTo: ["b@example.net"] },
): Verdict {
  return policy.evaluate({
    extraction: x,
    matches: runDetectors(x.segments, policy.detectors),
    ...envelope,
  });
}

function refused(source: string): PolicyError {
  try {
    compilePolicy(source, { file: "p.yaml" });
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error("policy was accepted");
}

t.test(
  "a policy with an unknown detector is refused with the line and column of the name",
  async (t) => {
    const err = refused(
      "rules:\n  - name: r\n    when:\n      detector: us-snn\n    then: [encrypt]\n",
    );
    t.equal(err.code, "policy-invalid");
    t.equal(err.line, 4);
    t.equal(err.column, 7);
    t.match(err.message, /rules\.0\.when \(line 4, column 7\): unknown detector us-snn/);
  },
);

t.test("broken YAML and wrong types are refused with their lines", async (t) => {
  const yaml = refused("rules:\n  - name: r\n    when: [oops\n    then: [encrypt]\n");
  t.equal(yaml.code, "policy-yaml");
  t.ok(yaml.line !== undefined && yaml.line >= 3, "points at the unclosed list or just after it");
  const err = refused(
    "rules:\n  - name: r\n    when: { detector: us-ssn, min: -1 }\n    then: [encrypt]\n",
  );
  t.equal(err.line, 3);
  t.match(err.problems[0]?.path, /rules\.0\.when/);
  const action = refused(
    "rules:\n  - name: r\n    when: { detector: us-ssn }\n    then: [shred]\n",
  );
  t.equal(action.line, 4);
});

t.test(
  "a backtracking regex construct is refused naming the detector, its rule and why",
  async (t) => {
    const err = refused(
      [
        "detectors:",
        "  twice:",
        "    pattern: '(\\d+)-\\1'",
        "rules:",
        "  - name: repeated-number",
        "    when: { detector: twice }",
        "    then: [encrypt]",
      ].join("\n"),
    );
    t.equal(err.code, "policy-regex");
    t.equal(err.line, 3);
    t.match(err.message, /detector twice \(used by rule repeated-number\): backreferences/);
    t.match(
      refused(
        "detectors:\n  a:\n    pattern: '(?<=x)y'\nrules:\n  - {name: r, when: {detector: a}, then: [allow]}\n",
      ).message,
      /lookahead and lookbehind/,
    );
    t.match(
      refused(
        "detectors:\n  a:\n    pattern: 'x*'\nrules:\n  - {name: r, when: {detector: a}, then: [allow]}\n",
      ).message,
      /empty string/,
    );
  },
);

t.test("a nested-quantifier pattern runs in linear time instead of hanging", async (t) => {
  const policy = compilePolicy(
    "detectors:\n  evil:\n    pattern: '(a+)+b'\nrules:\n  - {name: r, when: {detector: evil}, then: [block: no]}\n",
    { file: "p.yaml" },
  );
  const started = Date.now();
  const verdict = run(policy, extraction("a".repeat(200_000)));
  t.equal(verdict.action, "allow");
  t.ok(Date.now() - started < 5000, "finished quickly");
});

t.test("custom detectors apply their validator and context words", async (t) => {
  const policy = compilePolicy(
    [
      "detectors:",
      "  member-card:",
      "    pattern: 'RB(?P<value>\\d{12})'",
      "    validator: luhn",
      "    context: [member card]",
      "    confidence: low",
      "rules:",
      "  - name: member-card",
      "    when: { detector: member-card, confidence: medium }",
      "    then: [{ encrypt: portal }]",
    ].join("\n"),
    { file: "p.yaml" },
  );
  t.equal(run(policy, extraction("member card RB123456789015")).action, "encrypt");
  t.equal(run(policy, extraction("member card RB123456789016")).action, "allow", "Luhn fails");
  t.equal(
    run(policy, extraction("ref RB123456789015")).action,
    "allow",
    "no context, low confidence",
  );
  t.equal(run(policy, extraction("member card RB123456789015")).method, "portal");
});

const LAYERED = `
name: layered
groups:
  internal: [clinic.example.org, "*.clinic.example.org"]
dictionaries:
  oncology: [chemotherapy, oncology, radiation therapy]
rules:
  - name: internal-only
    priority: 100
    when: { recipient: [group:internal], match: all }
    then: [allow]
    stop: true
  - name: ssn
    when: { detector: us-ssn, min: 2 }
    then: [{ block: "Remove the SSNs and send again." }, notify-sender]
  - name: cancer-care
    when:
      all:
        - { dictionary: oncology, min: 2 }
        - not: { sender: [noreply@clinic.example.org] }
    then: [quarantine]
  - name: tagged
    when: { subjectTag: "[secure]" }
    then: [{ encrypt: smime }, { add-header: { name: X-Secure, value: "yes" } }]
  - name: zip-files
    when: { attachmentType: [".zip", "application/x-7z-compressed"] }
    then: [encrypt]
  - name: unreadable
    when: { unscannable: [password, encrypted] }
    then: [encrypt]
  - name: flagged
    when: { header: { name: X-Priority, value: "1" } }
    then: [encrypt]
`;

t.test("conditions, precedence and stop decide the verdict as written", async (t) => {
  const policy = compilePolicy(LAYERED, { file: "layered.yaml" });
  const ssns = "SSN 706-56-0759 and SSN 289-95-6268";
  const internal = {
    mailFrom: "a@clinic.example.org",
    rcptTo: ["x@clinic.example.org", "y@lab.clinic.example.org"],
  };
  const mixed = {
    mailFrom: "a@clinic.example.org",
    rcptTo: ["x@clinic.example.org", "z@example.net"],
  };

  const blocked = run(policy, extraction(ssns), mixed);
  t.equal(blocked.action, "block");
  t.equal(blocked.blockText, "Remove the SSNs and send again.");
  t.equal(blocked.notifySender, true);
  t.same(blocked.rules, ["ssn"]);
  t.same(run(policy, extraction(ssns), internal).rules, ["internal-only"], "stop ends evaluation");
  t.equal(run(policy, extraction(ssns), internal).action, "allow");

  t.equal(run(policy, extraction("SSN 706-56-0759 only")).action, "allow", "min count 2 unique");
  t.equal(
    run(policy, extraction("SSN 706-56-0759 and again 706-56-0759")).action,
    "allow",
    "repeats count once",
  );

  t.equal(run(policy, extraction("oncology referral for chemotherapy")).action, "quarantine");
  const noreply = { mailFrom: "noreply@clinic.example.org", rcptTo: ["b@example.net"] };
  t.equal(
    run(policy, extraction("oncology referral for chemotherapy"), noreply).action,
    "allow",
    "not",
  );

  const tagged = run(
    policy,
    extraction("hi", { headers: [{ name: "Subject", value: "Lab [SECURE] x" }] }),
  );
  t.equal(tagged.method, "smime");
  t.same(tagged.addHeaders, [{ name: "X-Secure", value: "yes" }]);
  for (const subject of ["[ secure ] lab", "RE: ［Secure］ lab", "[\tsecure] lab"]) {
    const x = extraction("hi", { headers: [{ name: "Subject", value: subject }] });
    t.equal(run(policy, x).method, "smime", `the tag as typed: ${subject}`);
  }
  const near = extraction("hi", { headers: [{ name: "Subject", value: "[secured] lab" }] });
  t.not(run(policy, near).method, "smime", "a longer word is not the tag");

  const zip = {
    source: "attachment:a.zip",
    filename: "a.zip",
    contentType: "application/zip",
    detectedType: null,
    size: 10,
  };
  t.equal(run(policy, extraction("hi", { attachments: [zip] })).action, "encrypt");
  t.equal(
    run(
      policy,
      extraction("hi", { unscannable: [{ source: "attachment:a.zip", reason: "password" }] }),
    ).action,
    "encrypt",
  );
  const unlisted = run(
    policy,
    extraction("hi", { unscannable: [{ source: "attachment:a.pdf", reason: "corrupt" }] }),
  );
  t.equal(unlisted.action, "quarantine", "reason not listed: no rule fires, the part is held");
  t.same(unlisted.rules, [UNSCANNABLE_FLOOR]);
  t.equal(
    run(policy, extraction("hi", { headers: [{ name: "X-Priority", value: " 1 " }] })).action,
    "encrypt",
  );
});

t.test("the most severe action of the fired rules wins", async (t) => {
  const policy = compilePolicy(
    "rules:\n  - {name: a, when: {keywords: [alpha]}, then: [encrypt]}\n  - {name: b, when: {keywords: [beta]}, then: [quarantine]}\n  - {name: c, when: {keywords: [gamma]}, then: [allow]}\n",
    { file: "p.yaml" },
  );
  t.equal(run(policy, extraction("alpha beta gamma")).action, "quarantine");
  t.same(run(policy, extraction("alpha gamma")).rules, ["a", "c"]);
  t.equal(run(policy, extraction("alpha gamma")).action, "encrypt");
  t.equal(run(policy, extraction("alphabet")).action, "allow", "keywords match whole words only");
});

t.test("a refused policy's error text does not echo the values written in the file", async (t) => {
  const err = refused("rules:\n  - name: r\n    when: { keywords: [] }\n    then: [encrypt]\n");
  t.equal(err.line, 3);
  const echoed = refused(
    'default: "706-56-0759"\nrules:\n  - {name: "Jane Roe", when: {detector: us-ssn}, then: [encrypt]}\n',
  );
  t.equal(echoed.problems.length, 2);
  t.notMatch(echoed.message, /706-56-0759|Jane Roe/);
});

t.test("the worked example in the policy authors' guide loads and does what it says", async (t) => {
  const guide = readFileSync(
    path.resolve(import.meta.dirname, "../policy/rules/README.md"),
    "utf8",
  );
  const yaml = /```yaml\n([\s\S]*?)```/.exec(guide)?.[1] ?? "";
  const policy = compilePolicy(yaml, { file: "riverbend.yaml" });
  const check = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].find((d) => luhn(`123456789${d}`));
  const referral = run(policy, extraction(`Referral RF-123456789${check}`));
  t.equal(referral.action, "encrypt");
  t.equal(referral.method, "portal");
  const internal = { mailFrom: "a@riverbend.example.org", rcptTo: ["b@lab.riverbend.example.org"] };
  t.same(run(policy, extraction(`Referral RF-123456789${check}`), internal).rules, [
    "internal-mail",
  ]);
});

t.test("encrypt with portalExpiryDays: the shortest of the rules that fired wins", async (t) => {
  const policy = compilePolicy(
    [
      "rules:",
      "  - {name: a, when: {detector: us-ssn}, then: [{encrypt: {method: portal, portalExpiryDays: 14}}]}",
      "  - {name: b, when: {detector: us-ssn}, then: [{encrypt: {portalExpiryDays: 7}}]}",
      "  - {name: c, when: {detector: us-ssn}, then: [encrypt]}",
    ].join("\n"),
    { file: "p.yaml" },
  );
  const v = run(policy, extraction("SSN 345-67-8901"));
  t.equal(v.action, "encrypt");
  t.equal(v.method, "portal", "a forced method is kept");
  t.equal(v.portalExpiryDays, 7, "the shorter lifetime wins");
  t.match(
    refused(
      "rules:\n  - {name: a, when: {detector: npi}, then: [{encrypt: {portalExpiryDays: 0}}]}\n",
    ).message,
    /line 2/,
    "a lifetime under one day is refused with its line",
  );
});

t.test("the policy example in the project README loads and does what it says", async (t) => {
  const readme = readFileSync(path.resolve(import.meta.dirname, "../README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## For policy authors"));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  const policy = compilePolicy(yaml, { file: "riverbend.yaml" });
  const ssn = extraction("Patient SSN 345-67-8901, please call.");
  const outside = run(policy, ssn, { mailFrom: "a@riverbend.example.org", rcptTo: ["x@lab.test"] });
  t.equal(outside.action, "encrypt", "an SSN to an outside address is encrypted");
  t.equal(outside.notifySender, true, "and the sender is told");
  const inside = { mailFrom: "a@riverbend.example.org", rcptTo: ["b@riverbend.example.org"] };
  t.same(run(policy, ssn, inside).rules, ["internal-mail"], "internal mail stops at its rule");
});

t.test("excluded values drop out as whole values, never as prefixes", async (t) => {
  const policy = compilePolicy(
    "exclude:\n  npi: ['1234-567-893']\nrules:\n  - {name: npi, when: {detector: npi, confidence: high}, then: [encrypt]}\n",
    { file: "p.yaml" },
  );
  t.equal(run(policy, extraction("our NPI 1234567893")).action, "allow", "the excluded NPI");
  t.equal(run(policy, extraction("NPI 1245319599")).action, "encrypt", "another NPI");
  const prefix = compilePolicy(
    "exclude:\n  npi: ['12345']\nrules:\n  - {name: npi, when: {detector: npi, confidence: high}, then: [encrypt]}\n",
    { file: "p.yaml" },
  );
  t.equal(run(prefix, extraction("NPI 1234567893")).action, "encrypt", "a prefix excludes nothing");
  t.match(
    refused("exclude:\n  nope: [x]\nrules:\n  - {name: r, when: {detector: npi}, then: [allow]}\n")
      .message,
    /exclude\.nope \(line 2.*unknown detector/,
  );
});

t.test("names, dates and phone numbers are excluded as the author writes them", async (t) => {
  const policy = compilePolicy(
    [
      "exclude:",
      '  patient-name: ["Mary Ann Smith", "Jane Roe"]',
      '  dob: ["03/14/1961"]',
      '  phone: ["+1 (217) 555-0130"]',
      "rules:",
      "  - {name: name, when: {detector: patient-name}, then: [encrypt]}",
      "  - {name: dob, when: {detector: dob, confidence: high}, then: [encrypt]}",
      "  - {name: phone, when: {detector: phone, confidence: low}, then: [encrypt]}",
      "",
    ].join("\n"),
    { file: "p.yaml" },
  );
  const listed = "Patient: Mary Ann Smith\nDOB: March 14, 1961\nCall 217-555-0130";
  t.same(run(policy, extraction(listed)).rules, [], "each written another way, all excluded");
  t.same(run(policy, extraction("Patient: Roe, Jane")).rules, [], "name order");
  t.same(run(policy, extraction("Patient: Mary Smith")).rules, ["name"], "a part is not the name");
  t.same(run(policy, extraction("DOB: 03/14/1962")).rules, ["dob"], "another date");
  t.same(run(policy, extraction("Call 217-555-0131")).rules, ["phone"], "another number");
});

t.test(
  "a keyword, dictionary term or context word that cannot match is refused at its line",
  async (t) => {
    const err = refused(
      [
        "dictionaries:",
        '  de: ["Straße"]',
        "rules:",
        '  - {name: a, when: {keywords: ["diagnóstico", "[secure]"]}, then: [encrypt]}',
        "detectors:",
        "  acct:",
        "    pattern: 'A-\\d{6}'",
        '    context: ["número de cuenta", "診断"]',
        "",
      ].join("\n"),
    );
    t.same(
      err.problems.map((p) => [p.path, p.line]),
      [
        ["rules.0.when.keywords.1", 4],
        ["dictionaries.de.0", 2],
        ["detectors.acct.context.1", 8],
      ],
    );
    t.notMatch(err.message, /Straße|secure|診断/, "the values themselves are not echoed");
    const policy = compilePolicy(
      'rules:\n  - {name: es, when: {keywords: ["diagnóstico", "(confidential)"], min: 2}, then: [encrypt]}\n',
      { file: "p.yaml" },
    );
    t.equal(run(policy, extraction("El DIAGNOSTICO (confidential)")).action, "encrypt");
  },
);

t.test("policy errors name the wrong key and what it may hold, never the value", async (t) => {
  const err = refused(
    [
      "rules:",
      "  - name: r1",
      "    when: { detector: us-ssn, confidence: hihg }",
      "    then: [encrypt]",
      "  - name: r2",
      "    when: { detectr: npi }",
      '    then: [{ encrypt: postal }, {blok: "Jane Roe"}]',
      "  - name: r3",
      "    when: { all: [{ detector: npi, confidense: high }], }",
      "    then: [encrypt]",
      "",
    ].join("\n"),
  );
  const byPath = Object.fromEntries(err.problems.map((p) => [p.path, `${p.line}: ${p.message}`]));
  t.match(byPath["rules.0.when.confidence"], /^3: confidence must be one of low, medium, high$/);
  t.match(byPath["rules.1.when"], /^6: unknown key detectr; not a known condition; .*detector/);
  t.match(byPath["rules.1.then.0.encrypt"], /^7: encrypt must be one of auto, portal, smime/);
  t.match(byPath["rules.1.then.1"], /^7: unknown key blok; not a known action/);
  t.match(byPath["rules.2.when.all.0"], /^9: unknown key confidense here$/);
  t.notMatch(err.message, /hihg|postal|Jane Roe/, "values are not echoed");
});

t.test("a bare block action blocks with the default text for the sender", async (t) => {
  const policy = compilePolicy(
    "name: b\nrules:\n  - name: no-ssn\n    when: { detector: us-ssn }\n    then: [block]\n",
    { file: "b.yaml" },
  );
  const v = run(policy, extraction("SSN 706-56-0759"));
  t.equal(v.action, "block");
  t.equal(v.blockText, "This message was blocked by policy.");
});
