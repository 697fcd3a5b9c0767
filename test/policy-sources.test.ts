import t from "tap";
import type { AttachmentInfo } from "../policy/extract/types.js";
import { SourceLabels } from "../policy/sources.js";

function att(source: string, filename: string | null): AttachmentInfo {
  return { source, filename, contentType: "application/octet-stream", detectedType: null, size: 1 };
}

t.test("every source is shown by its place and extension, never by a part's name", async (t) => {
  const labels = new SourceLabels([
    att("attachment:Roe, Jane 1961.zip", "Roe, Jane 1961.zip"),
    att("attachment:Roe, Jane 1961.zip/records/Jane Roe.csv", "records/Jane Roe.csv"),
    att("attachment:Ledger Jane.xlsx", "Ledger Jane.xlsx"),
    att("message:Fwd Jane Roe.eml", "Fwd Jane Roe.eml"),
    att("message:Fwd Jane Roe.eml/attachment:scan 512441234.pdf", "scan 512441234.pdf"),
    att("attachment:part4", null),
  ]);
  const cases: [string, string][] = [
    ["subject", "subject"],
    ["body.html.2", "body.html.2"],
    ["attachment:Roe, Jane 1961.zip", "attachment#1 (.zip)"],
    ["attachment:Roe, Jane 1961.zip/records/Jane Roe.csv", "attachment#2 (.csv)"],
    ["attachment:Ledger Jane.xlsx#Roe J", "attachment#3 (.xlsx) sheet 1"],
    ["attachment:Ledger Jane.xlsx#Doe K", "attachment#3 (.xlsx) sheet 2"],
    ["attachment:Ledger Jane.xlsx::name", "attachment#3 (.xlsx) file name"],
    ["message:Fwd Jane Roe.eml/body", "message#4 (.eml)/body"],
    ["message:Fwd Jane Roe.eml/attachment:scan 512441234.pdf", "attachment#5 (.pdf)"],
    ["attachment:part4", "attachment:part4"],
    ["attachment:Roe Jane.pgp", "attachment#7 (.pgp)"],
    ["somewhere odd", "part"],
  ];
  for (const [raw, shown] of cases) t.equal(labels.label(raw), shown, shown);
  t.equal(labels.label("attachment:Ledger Jane.xlsx#Roe J"), "attachment#3 (.xlsx) sheet 1");
});

t.test("an extension that is only digits is not shown", async (t) => {
  const labels = new SourceLabels([att("attachment:Roe.512441234", "Roe.512441234")]);
  t.equal(labels.label("attachment:Roe.512441234"), "attachment#1");
});
