import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { simpleParser } from "mailparser";
import nodemailer from "nodemailer";
import { splitHostPort } from "../gateway/config/index.js";

/** deploy/samples, found from this file whether it runs from source or from dist/. */
function samplesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ["..", "../.."]) {
    const dir = path.resolve(here, up, "deploy", "samples");
    try {
      readdirSync(dir);
      return dir;
    } catch {
      // try the next candidate
    }
  }
  throw new Error("cannot find deploy/samples next to the sealgate installation");
}

export function registerSamplesCommand(program: Command): void {
  program
    .command("send-samples")
    .description("send the bundled sample messages (deploy/samples) to a running gateway")
    .option("--smtp <host:port>", "the gateway's SMTP address", "127.0.0.1:2525")
    .option("--dir <folder>", "send these .eml files instead of the bundled samples")
    .action(async (flags: { smtp: string; dir?: string }) => {
      const dir = flags.dir ?? samplesDir();
      const { host, port } = splitHostPort(flags.smtp);
      // The embedded default's certificate is self-signed: encrypt, but do not verify it here.
      const transport = nodemailer.createTransport({
        host,
        port,
        secure: false,
        tls: { rejectUnauthorized: false },
      });
      const files = readdirSync(dir)
        .filter((f) => f.endsWith(".eml"))
        .sort();
      try {
        for (const file of files) {
          const raw = readFileSync(path.join(dir, file));
          const parsed = await simpleParser(raw);
          const addresses = (field: typeof parsed.to) =>
            (Array.isArray(field) ? field : field ? [field] : []).flatMap((a) =>
              a.value.map((v) => v.address ?? ""),
            );
          const to = [...addresses(parsed.to), ...addresses(parsed.cc)].filter(Boolean);
          const from = parsed.from?.value[0]?.address ?? "";
          const info = (await transport.sendMail({ envelope: { from, to }, raw })) as {
            response: string;
          };
          const queueId = /queued as (\S+)/.exec(info.response)?.[1] ?? "?";
          process.stdout.write(`${file}  →  queued as ${queueId}\n`);
        }
        process.stdout.write(
          `sent ${files.length} messages; see them with: sealgate trace <queue id>\n`,
        );
      } finally {
        transport.close();
      }
    });
}
