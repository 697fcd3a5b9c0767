import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { extract } from "../policy/extract/index.js";

/**
 * Runs extraction over the shared labelled corpus (../shared/corpus beside the repository, as
 * CI lays it out). Every message must come back without throwing; those labelled as holding an
 * unreadable part must say so, and the others must not claim any.
 */

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const corpus = [
  process.env.SEALGATE_CORPUS,
  path.resolve(repo, "../shared/corpus"),
  "/work/shared/corpus",
].find((d): d is string => !!d && existsSync(path.join(d, "labels.tsv")));

t.test("every corpus message extracts, and unscannable labels match", async (t) => {
  if (!corpus) {
    t.pass("skipped: no shared corpus beside the repository", { skip: "no corpus" });
    return;
  }
  const labels = new Map<string, string[]>();
  for (const line of readFileSync(path.join(corpus, "labels.tsv"), "utf8").split("\n").slice(1)) {
    const [file, , kinds] = line.split("\t");
    if (file && kinds !== undefined) labels.set(file, kinds.split(","));
  }
  const files = readdirSync(corpus).filter((f) => f.endsWith(".eml"));
  t.ok(files.length > 0, "the corpus has messages");

  for (const file of files) {
    const x = await extract(readFileSync(path.join(corpus, file)));
    t.ok(x.segments.length > 0, `${file}: text was extracted`);
    const expectUnscannable = labels.get(file)?.includes("unscannable") ?? false;
    if (expectUnscannable) {
      t.ok(x.unscannable.length > 0, `${file}: an unscannable part is reported`);
    } else {
      t.same(x.unscannable, [], `${file}: no part is reported unscannable`);
    }
  }
});

t.test("the corpus's encrypted PDF and password ZIP get their own reasons", async (t) => {
  if (!corpus) {
    t.pass("skipped: no shared corpus beside the repository", { skip: "no corpus" });
    return;
  }
  const pdf = await extract(readFileSync(path.join(corpus, "19-encrypted-pdf-unscannable.eml")));
  t.same(
    pdf.unscannable.map((u) => u.reason),
    ["encrypted"],
  );
  const zip = await extract(readFileSync(path.join(corpus, "26-password-zip-unscannable.eml")));
  t.same(
    zip.unscannable.map((u) => u.reason),
    ["password"],
  );
});

t.test("PHI that sits only in attachments and nested messages reaches the text", async (t) => {
  if (!corpus) {
    t.pass("skipped: no shared corpus beside the repository", { skip: "no corpus" });
    return;
  }
  const cases: [string, RegExp][] = [
    ["01-xlsx-phi-on-second-sheet.eml", /#/],
    ["06-zip-with-phi-csv.eml", /^attachment:[^/]+\.zip\/.+\.csv$/],
    ["07-forwarded-rfc822-pdf-inside.eml", /^message:.+\/attachment:.+\.pdf$/],
    ["10-docx-discharge-summary.eml", /^attachment:.+\.docx$/],
    ["44-eob-pdf.eml", /^attachment:.+\.pdf$/],
    ["45-eligibility-xlsx.eml", /^attachment:.+\.xlsx#/],
  ];
  for (const [file, source] of cases) {
    const x = await extract(readFileSync(path.join(corpus, file)));
    const seg = x.segments.find((s) => source.test(s.source));
    t.ok(seg && seg.text.length > 100, `${file}: ${source} has text`);
  }
});
