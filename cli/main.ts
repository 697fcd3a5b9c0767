import { Command } from "commander";
import { registerCertsCommands } from "./certs.js";
import { registerConfigCommands } from "./config.js";
import { registerKeysCommands } from "./keys.js";
import { registerPolicyCommands } from "./policy.js";
import { registerPortalCommands } from "./portal.js";
import { registerQueueCommands } from "./queue.js";
import { registerSamplesCommand } from "./samples.js";
import { registerStartCommand } from "./start.js";
import { registerTraceCommand } from "./trace.js";

/** The `sealgate` command. Each sub-command lives in its own file and registers itself. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name("sealgate")
    .description("Secure email gateway: scans outbound mail for PHI and encrypts it per recipient")
    .showHelpAfterError()
    .exitOverride((err) => {
      // commander has printed its message; map "help" and "version" to success.
      process.exit(err.exitCode);
    });

  registerStartCommand(program);
  registerTraceCommand(program);
  registerSamplesCommand(program);
  registerConfigCommands(program);
  registerPolicyCommands(program);
  registerCertsCommands(program);
  registerKeysCommands(program);
  registerPortalCommands(program);
  registerQueueCommands(program);

  await program.parseAsync(argv);
}
