import type { TextSegment } from "../extract/types.js";
import type { Confidence, Finding } from "../types.js";
import {
  cptDetector,
  drugDetector,
  icd10Detector,
  labResultDetector,
  medicalTermDetector,
} from "./clinical.js";
import {
  cardDetector,
  deaDetector,
  mbiDetector,
  npiDetector,
  routingDetector,
  ssnDetector,
} from "./ids.js";
import {
  bankAccountDetector,
  claimNumberDetector,
  healthPlanIdDetector,
  mrnDetector,
} from "./labelled.js";
import { patientNameDetector } from "./names.js";
import { addressDetector, dobDetector, emailDetector, phoneDetector } from "./personal.js";
import {
  CONFIDENCE_RANK,
  SegmentView,
  atLeast,
  type Detector,
  type DetectorMatch,
} from "./types.js";

export { ContextWords, DEFAULT_PROXIMITY, hasContext } from "./context.js";
export { Dictionary, dictionaryDetector } from "./clinical.js";
export { maskValue } from "./mask.js";
export * from "./types.js";
export { NAMED_VALIDATORS, type ValidatorName } from "./validators.js";

/** Every built-in detector, by the name rules use. */
export const BUILTIN_DETECTORS: readonly Detector[] = [
  ssnDetector,
  mbiDetector,
  npiDetector,
  deaDetector,
  cardDetector,
  routingDetector,
  healthPlanIdDetector,
  mrnDetector,
  claimNumberDetector,
  bankAccountDetector,
  icd10Detector,
  cptDetector,
  drugDetector,
  medicalTermDetector,
  labResultDetector,
  dobDetector,
  patientNameDetector,
  phoneDetector,
  emailDetector,
  addressDetector,
];

export const BUILTIN_DETECTOR_NAMES: ReadonlySet<string> = new Set(
  BUILTIN_DETECTORS.map((d) => d.name),
);

/** Runs the detectors over every segment and resolves overlapping claims on the same span. */
export function runDetectors(
  segments: readonly TextSegment[],
  detectors: readonly Detector[],
): DetectorMatch[] {
  const strength = new Map(detectors.map((d) => [d.name, d.strength]));
  const all: DetectorMatch[] = [];
  segments.forEach((segment, index) => {
    const view = new SegmentView(segment, index);
    const found: DetectorMatch[] = [];
    for (const detector of detectors) detector.detect(view, found);
    for (const m of resolveOverlaps(found, strength)) all.push(m);
  });
  return all;
}

/**
 * When several detectors claim overlapping spans of one segment, the best evidence wins: first
 * confidence (a labelled or in-context match beats a bare shape, so "MRN: 512441234" stays an
 * MRN and is not lost to a low SSN guess), then the detector's strength (checksum > label >
 * dictionary), then length. A low match therefore never removes a medium or high one.
 * Matches of the same detector never displace each other. Dictionary words inside a longer
 * identifier are dropped; separate spans are kept.
 */
export function resolveOverlaps(
  matches: DetectorMatch[],
  strength: ReadonlyMap<string, number>,
): DetectorMatch[] {
  if (matches.length < 2) return matches;
  const score = (m: DetectorMatch): number =>
    CONFIDENCE_RANK[m.confidence] * 1000 +
    (strength.get(m.detector) ?? 1) * 10 +
    Math.min(9, (m.end - m.start) / 4);
  const sorted = [...matches].sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: DetectorMatch[] = [];
  // Sweep clusters of mutually reachable spans; only within one cluster can claims clash.
  let i = 0;
  while (i < sorted.length) {
    let j = i + 1;
    let clusterEnd = (sorted[i] as DetectorMatch).end;
    while (j < sorted.length && (sorted[j] as DetectorMatch).start < clusterEnd) {
      clusterEnd = Math.max(clusterEnd, (sorted[j] as DetectorMatch).end);
      j++;
    }
    if (j - i === 1) kept.push(sorted[i] as DetectorMatch);
    else resolveCluster(sorted.slice(i, j), { score, strength }, kept);
    i = j;
  }
  return kept;
}

function resolveCluster(
  cluster: DetectorMatch[],
  rank: { score: (m: DetectorMatch) => number; strength: ReadonlyMap<string, number> },
  out: DetectorMatch[],
): void {
  const weak = (m: DetectorMatch): boolean => (rank.strength.get(m.detector) ?? 1) <= 1;
  // A dictionary word inside a longer identifier of medium or high confidence is part of that
  // identifier, not a word of its own, whatever its own confidence.
  const inside = new Set(
    cluster.filter(
      (m) =>
        weak(m) &&
        cluster.some(
          (n) =>
            !weak(n) &&
            n.confidence !== "low" &&
            n.start <= m.start &&
            m.end <= n.end &&
            n.end - n.start > m.end - m.start,
        ),
    ),
  );
  const score = (m: DetectorMatch): number => rank.score(m) - (inside.has(m) ? 10_000 : 0);
  const ranked = cluster.sort((a, b) => score(b) - score(a));
  const kept: DetectorMatch[] = [];
  for (const m of ranked) {
    const clash = kept.some((k) => k.detector !== m.detector && k.start < m.end && m.start < k.end);
    if (!clash) kept.push(m);
  }
  kept.sort((a, b) => a.start - b.start);
  for (const m of kept) out.push(m);
}

/** Unique values per detector at or above a confidence. */
export function countUnique(
  matches: readonly DetectorMatch[],
  detector: string,
  min: Confidence,
): number {
  const keys = new Set<string>();
  for (const m of matches) {
    if (m.detector === detector && atLeast(m.confidence, min)) keys.add(m.key);
  }
  return keys.size;
}

/** Findings for the verdict: per detector, unique values at medium or above, best confidence. */
export function summarise(matches: readonly DetectorMatch[]): Finding[] {
  const byDetector = new Map<string, { keys: Set<string>; best: Confidence }>();
  for (const m of matches) {
    if (!atLeast(m.confidence, "medium")) continue;
    const entry = byDetector.get(m.detector) ?? { keys: new Set<string>(), best: "low" };
    entry.keys.add(m.key);
    if (CONFIDENCE_RANK[m.confidence] > CONFIDENCE_RANK[entry.best]) entry.best = m.confidence;
    byDetector.set(m.detector, entry);
  }
  return [...byDetector].map(([detector, e]) => ({
    detector,
    count: e.keys.size,
    confidence: e.best,
  }));
}
