import {
  ContextWords,
  digitsContinue,
  digitsContinueUnlabelled,
  hasContext,
  inOtherRole,
} from "./context.js";
import type { Detector, DetectorMatch, SegmentView } from "./types.js";
import {
  isValidAbaRouting,
  isValidCard,
  isValidDea,
  isValidMbi,
  isValidNpi,
  isValidSsn,
} from "./validators.js";
import type { Confidence } from "../types.js";

/**
 * Identifiers with a validator: the shape alone is weak evidence, the validator removes most
 * random numbers, and context words or a column header raise the confidence.
 */

const SSN_CONTEXT = new ContextWords([
  "ssn",
  "ssn#",
  "ss#",
  "ss #",
  "social security",
  "social security number",
  "social sec",
  "soc sec",
  "ssa",
  "ss no",
]);
const SSN_RE = /(?<!\d)(\d{3})([-. ]?)(\d{2})\2(\d{4})(?!\d)/g;

export const ssnDetector: Detector = {
  name: "us-ssn",
  strength: 4,
  detect(view, out) {
    const text = view.text;
    for (const m of text.matchAll(SSN_RE)) {
      const start = m.index;
      const end = start + m[0].length;
      if (digitsContinueUnlabelled(view, { start, end }, SSN_CONTEXT)) continue;
      const digits = `${m[1]}${m[3]}${m[4]}`;
      if (!isValidSsn(digits) || inOtherRole(view, start, { context: SSN_CONTEXT })) continue;
      const context = hasContext(view, { start, end }, { words: SSN_CONTEXT });
      // Dots are a version's or an address's separators as often as an SSN's: context only.
      const dashed = m[2] === "-";
      const confidence: Confidence = context ? "high" : dashed ? "medium" : "low";
      push(out, view, { start, end, confidence, key: digits }, this.name);
    }
  },
};

const MBI_CONTEXT = new ContextWords(["mbi", "medicare", "beneficiary", "medicare number", "hicn"]);
const MBI_RE =
  /(?<![A-Za-z0-9-])([1-9][A-Za-z][A-Za-z0-9]\d)(-?)([A-Za-z][A-Za-z0-9]\d)\2([A-Za-z]{2}\d{2})(?![A-Za-z0-9-])/g;

export const mbiDetector: Detector = {
  name: "medicare-mbi",
  strength: 4,
  detect(view, out) {
    for (const m of view.text.matchAll(MBI_RE)) {
      const value = `${m[1]}${m[3]}${m[4]}`.toUpperCase();
      if (!isValidMbi(value)) continue;
      const start = m.index;
      const end = start + m[0].length;
      const context = hasContext(view, { start, end }, { words: MBI_CONTEXT });
      push(
        out,
        view,
        { start, end, confidence: context ? "high" : "medium", key: value },
        this.name,
      );
    }
  },
};

const NPI_CONTEXT = new ContextWords(["npi", "national provider", "provider id", "prescriber id"]);
const TEN_DIGITS = /(?<!\d)[12]\d{9}(?!\d)/g;

export const npiDetector: Detector = {
  name: "npi",
  strength: 3,
  detect(view, out) {
    const text = view.text;
    for (const m of text.matchAll(TEN_DIGITS)) {
      const start = m.index;
      const end = start + 10;
      if (!isValidNpi(m[0])) continue;
      if (digitsContinueUnlabelled(view, { start, end }, NPI_CONTEXT)) continue;
      if (inOtherRole(view, start, { context: NPI_CONTEXT })) continue;
      const context = hasContext(view, { start, end }, { words: NPI_CONTEXT, proximity: 30 });
      push(out, view, { start, end, confidence: context ? "high" : "low", key: m[0] }, this.name);
    }
  },
};

const DEA_CONTEXT = new ContextWords(["dea", "dea#", "dea number", "dea registration"]);
const DEA_RE = /(?<![A-Za-z0-9])[A-Za-z][A-Za-z9]\d{7}(?![A-Za-z0-9])/g;

export const deaDetector: Detector = {
  name: "dea",
  strength: 4,
  detect(view, out) {
    for (const m of view.text.matchAll(DEA_RE)) {
      if (!isValidDea(m[0])) continue;
      const start = m.index;
      const end = start + m[0].length;
      const context = hasContext(view, { start, end }, { words: DEA_CONTEXT, proximity: 30 });
      const key = m[0].toUpperCase();
      push(out, view, { start, end, confidence: context ? "high" : "low", key }, this.name);
    }
  },
};

const CARD_CONTEXT = new ContextWords([
  "card",
  "credit card",
  "debit card",
  "visa",
  "mastercard",
  "amex",
  "american express",
  "discover",
  "cc#",
  "card number",
  "card no",
  "cvv",
  "exp",
  "expiry",
  "expiration",
]);
const CARD_RE = /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])/g;

export const cardDetector: Detector = {
  name: "payment-card",
  strength: 4,
  detect(view, out) {
    const text = view.text;
    for (const m of text.matchAll(CARD_RE)) {
      const digits = m[0].replace(/\D/g, "");
      if (!isValidCard(digits)) continue;
      const start = m.index;
      const end = start + m[0].length;
      if (digitsContinue(text, start, end)) continue;
      const grouped = /^\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}$|^\d{4}([ -])\d{6}\2\d{5}$/.test(m[0]);
      if (!grouped && /[ -]/.test(m[0])) continue;
      if (inOtherRole(view, start, { context: CARD_CONTEXT })) continue;
      const context = hasContext(view, { start, end }, { words: CARD_CONTEXT });
      const confidence: Confidence = context ? "high" : grouped ? "medium" : "low";
      push(out, view, { start, end, confidence, key: digits }, this.name);
    }
  },
};

const ROUTING_CONTEXT = new ContextWords([
  "routing",
  "routing number",
  "aba",
  "rtn",
  "transit",
  "routing #",
  "bank",
]);
const NINE_DIGITS = /(?<!\d)\d{9}(?!\d)/g;

export const routingDetector: Detector = {
  name: "aba-routing",
  strength: 3,
  detect(view, out) {
    const text = view.text;
    for (const m of text.matchAll(NINE_DIGITS)) {
      const start = m.index;
      const end = start + 9;
      if (!isValidAbaRouting(m[0]) || digitsContinue(text, start, end)) continue;
      if (!hasContext(view, { start, end }, { words: ROUTING_CONTEXT, proximity: 40 })) continue;
      push(out, view, { start, end, confidence: "high", key: m[0] }, this.name);
    }
  },
};

export function push(
  out: DetectorMatch[],
  view: SegmentView,
  found: Omit<DetectorMatch, "detector" | "segment">,
  detector: string,
): void {
  out.push({ detector, segment: view.index, ...found });
}
