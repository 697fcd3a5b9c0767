import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { repoRoot } from "./helpers/gateway.js";

/**
 * nodemailer 10 maps its deep imports through an `exports` map with both `./lib/*.js` and
 * `./lib/*` patterns. Node picks the longer pattern; ts-node (tap's default TypeScript
 * loader on a fresh install) picked `./lib/*` and looked for `index.js.js`. A subpath that is
 * an exact key of the map resolves the same under every loader.
 */

const run = promisify(execFile);

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== "node_modules" && entry.name !== "fixtures") {
      out.push(...sources(full));
    } else if (entry.isFile() && entry.name.endsWith(".ts")) {
      out.push(full);
    }
  }
  return out;
}

function deepImports(): { file: string; spec: string }[] {
  const found: { file: string; spec: string }[] = [];
  for (const top of ["cli", "gateway", "policy", "certs", "test"]) {
    for (const file of sources(path.join(repoRoot, top))) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/from\s+"(nodemailer\/[^"]+)"/g)) {
        found.push({ file: path.relative(repoRoot, file), spec: m[1] as string });
      }
    }
  }
  return found;
}

const pkg = JSON.parse(
  readFileSync(path.join(repoRoot, "node_modules/nodemailer/package.json"), "utf8"),
) as { exports: Record<string, unknown> };

t.test("every deep nodemailer import names a subpath its exports map lists exactly", async (t) => {
  const imports = deepImports();
  t.ok(imports.length > 0, "the sources import nodemailer's deep modules");
  for (const { file, spec } of imports) {
    const key = `./${spec.slice("nodemailer/".length)}`;
    t.ok(Object.hasOwn(pkg.exports, key), `${file}: ${spec} is an exact exports key`);
  }
});

t.test("every deep nodemailer import loads under plain node and under tsx", async (t) => {
  const specs = [...new Set(deepImports().map((i) => i.spec))];
  for (const spec of specs) {
    const mod = (await import(spec)) as { default?: unknown };
    t.equal(typeof mod.default, "function", `${spec} under tsx`);
  }
  // Plain node is how the compiled build (bin/sealgate.js → dist/) resolves them.
  const script = specs
    .map(
      (s) => `if (typeof (await import(${JSON.stringify(s)})).default !== "function") {
      throw new Error(${JSON.stringify(s)}); }`,
    )
    .join("\n");
  const { stdout } = await run(
    process.execPath,
    ["--input-type=module", "-e", `${script}\nconsole.log("ok")`],
    { cwd: repoRoot },
  );
  t.equal(stdout.trim(), "ok", "plain node resolves them all");
});
