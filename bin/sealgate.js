#!/usr/bin/env node
// The published command runs the compiled CLI; `npm install` builds it (prepare).
import { main } from "../dist/cli/main.js";

main(process.argv).catch((err) => {
  process.stderr.write(`sealgate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
