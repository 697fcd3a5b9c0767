import { simpleParser } from "mailparser";
import type { PolicyEngine, PolicyInput, Verdict } from "./types.js";

/**
 * The walking skeleton's policy step: a message is sensitive when its subject carries the
 * tag or its text holds a U.S. SSN that passes the SSN validity rules. The real engine
 * replaces it through the same PolicyEngine interface.
 */

// Numbers published as examples (Woolworth wallet card, ads) that are never real PHI.
const SAMPLE_SSNS = new Set(["078051120", "219099999", "457555462"]);

/** SSA rules: no area 000, 666 or 9xx; no group 00; no serial 0000. */
export function isValidSsn(digits: string): boolean {
  if (!/^\d{9}$/.test(digits)) return false;
  const area = digits.slice(0, 3);
  const group = digits.slice(3, 5);
  const serial = digits.slice(5);
  if (area === "000" || area === "666" || area.startsWith("9")) return false;
  if (group === "00" || serial === "0000") return false;
  return !SAMPLE_SSNS.has(digits);
}

const SSN_PATTERN = /(?<![\d-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\d-])/g;

export function countSsns(text: string): number {
  const found = new Set<string>();
  for (const m of text.matchAll(SSN_PATTERN)) {
    const digits = `${m[1]}${m[3]}${m[4]}`;
    if (isValidSsn(digits)) found.add(digits);
  }
  return found.size;
}

export class PlaceholderPolicy implements PolicyEngine {
  readonly name = "placeholder";
  readonly #tag: string;

  constructor(options: { subjectTag: string }) {
    this.#tag = options.subjectTag.toLowerCase();
  }

  async evaluate(input: PolicyInput): Promise<Verdict> {
    const parsed = await simpleParser(input.raw, { skipImageLinks: true, skipTextLinks: true });
    const rules: string[] = [];
    const findings: Verdict["findings"] = [];
    if ((parsed.subject ?? "").toLowerCase().includes(this.#tag)) rules.push("subject-tag");

    const texts = [parsed.subject ?? "", parsed.text ?? ""];
    for (const att of parsed.attachments) {
      if (/^text\//.test(att.contentType)) texts.push(att.content.toString("utf8"));
    }
    const ssns = countSsns(texts.join("\n"));
    if (ssns > 0) {
      rules.push("us-ssn");
      findings.push({ detector: "us-ssn", count: ssns, confidence: "high" });
    }
    return rules.length > 0
      ? { action: "encrypt", method: "auto", rules, findings }
      : { action: "allow", rules, findings };
  }
}
