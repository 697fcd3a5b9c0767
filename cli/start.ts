import type { Command } from "commander";
import { startGateway } from "../gateway/app.js";
import { configFromFlags, withConfigFlags, type CommonFlags } from "./options.js";

export function registerStartCommand(program: Command): void {
  withConfigFlags(program.command("start"))
    .description("run the gateway (SMTP ingress, queue, delivery, HTTP)")
    .action(async (flags: CommonFlags) => {
      const { config, file } = configFromFlags(flags);
      const gw = await startGateway(config);
      const c = gw.config;
      const where =
        c.delivery.mode === "outbox"
          ? `delivering into ${c.delivery.outboxDir} (one .eml per copy)`
          : c.delivery.mode === "smarthost"
            ? `relaying to smart host ${c.delivery.smartHost?.host}:${c.delivery.smartHost?.port}`
            : "delivering to each recipient domain's MX";
      const lines = [
        `sealgate started ${file ? `with ${file}` : "on its embedded default (no --config given)"}`,
        `  SMTP  ${gw.smtp.host}:${gw.smtp.port}  (connectors: ${c.smtp.connectors.map((x) => x.name).join(", ")})`,
        `  HTTP  ${c.portal.tls ? "https" : "http"}://${gw.http.host}:${gw.http.port}/healthz`,
        gw.portal
          ? `  portal ${gw.portal.baseUrl()}/portal` +
            (c.portal.tls ? "" : "  (plain HTTP: for loopback testing only; set portal.tls)")
          : "  portal off (portal.enabled: false): recipients without a key are held",
        `  store ${c.store.kind === "sqlite" ? `SQLite in ${c.dataDir}` : "PostgreSQL"}`,
        `  ${where}`,
        `  trace a message: sealgate trace <queue id or Message-ID>${flags.data ? ` --data ${flags.data}` : ""}`,
      ];
      process.stderr.write(`${lines.join("\n")}\n`);

      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`sealgate: ${signal} received, finishing in-flight work\n`);
        await gw.stop();
        process.exit(0);
      };
      process.on("SIGINT", () => void stop("SIGINT"));
      process.on("SIGTERM", () => void stop("SIGTERM"));
      process.on("SIGHUP", () => {
        void gw.reloadPolicy().then((r) => {
          process.stderr.write(
            r.ok
              ? `sealgate: policy reloaded (${r.name})\n`
              : `sealgate: policy kept: ${r.error}\n`,
          );
        });
      });
    });
}
