import { main } from "./main.js";

// `sealgate … | head` closes the pipe early: that is the reader's choice, not a failure.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

main(process.argv).catch((err: unknown) => {
  process.stderr.write(`sealgate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
