import { ContextWords, hasContext } from "../detectors/context.js";
import { raise, type Detector } from "../detectors/types.js";
import { NAMED_VALIDATORS } from "../detectors/validators.js";
import { SafeRegex } from "./regex.js";
import type { CustomDetectorSpec } from "./schema.js";

/** A detector a policy author defined: an RE2 pattern, an optional validator, context words. */
export function customDetector(name: string, spec: CustomDetectorSpec): Detector {
  const regex = new SafeRegex(spec.pattern, { ignoreCase: spec.ignoreCase });
  const validate = spec.validator === undefined ? undefined : NAMED_VALIDATORS[spec.validator];
  const words = spec.context.length > 0 ? new ContextWords(spec.context) : undefined;
  return {
    name,
    strength: spec.validator === undefined ? 2 : 3,
    detect(view, out) {
      regex.forEach(view.text, (start, end, value) => {
        if (validate !== undefined && !validate(value)) return;
        const context =
          words !== undefined &&
          hasContext(view, { start, end }, { words, proximity: spec.proximity });
        if (spec.requireContext && !context) return;
        const confidence = context ? raise(spec.confidence) : spec.confidence;
        const key = value.toUpperCase().replace(/[^\p{L}\p{N}]/gu, "");
        out.push({ detector: name, segment: view.index, start, end, confidence, key });
      });
    },
  };
}
