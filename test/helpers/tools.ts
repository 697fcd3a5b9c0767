import { execFileSync } from "node:child_process";
import type { Test } from "tap";

/** Whether an external program is on PATH. */
export function hasTool(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns true when the tools are present. Otherwise the test is skipped on a developer's
 * machine, but fails when SEALGATE_REQUIRE_TOOLS=1 (as .ci/run sets) so no interop test can
 * quietly skip in CI.
 */
export function requireTools(t: Test, ...names: string[]): boolean {
  const missing = names.filter((n) => !hasTool(n));
  if (missing.length === 0) return true;
  const msg = `needs ${missing.join(", ")} (install with .ci/run)`;
  if (process.env.SEALGATE_REQUIRE_TOOLS === "1") {
    t.fail(`${msg}; SEALGATE_REQUIRE_TOOLS=1 forbids skipping`);
  } else {
    t.comment(`skipped: ${msg}`);
    t.pass(`skipped: ${msg}`, { skip: msg });
  }
  return false;
}
