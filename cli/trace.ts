import type { Command } from "commander";
import { openStore, type StoredEvent } from "../gateway/store/index.js";
import { ACCOUNT_EVENTS_ID } from "../gateway/portal/core.js";
import { rcptAddress } from "../gateway/store/privacy.js";
import { configFromFlags, withConfigFlags, type CommonFlags } from "./options.js";

/** Renders an event's data as key=value pairs; values are ids, codes, names and counts. */
function describe(data: Record<string, unknown> | undefined): string {
  if (!data) return "";
  return Object.entries(data)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => {
      if (k === "findings" && Array.isArray(v)) {
        const f = v as { detector: string; count: number; confidence: string }[];
        return `findings=${f.map((x) => `${x.detector}×${x.count}(${x.confidence})`).join(",") || "none"}`;
      }
      if (k === "reason" || k === "reply") return `${k}="${String(v)}"`;
      return `${k}=${Array.isArray(v) ? v.join(",") || "none" : String(v)}`;
    })
    .join(" ");
}

/**
 * Events name a recipient only by its position in the envelope (they hold no addresses); the
 * operator's timeline shows the address from the envelope stored with the message.
 */
function line(e: StoredEvent, rcptTo: readonly string[]): string {
  const time = e.at.toISOString().replace("T", " ").slice(0, 23);
  const who =
    e.rcpt === undefined ? "" : ` ${rcptAddress(rcptTo, e.rcpt) ?? `recipient #${e.rcpt}`}`;
  return `  ${time}  ${e.name.padEnd(17)}${who} ${describe(e.data)}`.trimEnd();
}

export function registerTraceCommand(program: Command): void {
  withConfigFlags(program.command("trace"))
    .argument("<id>", "queue id (from the 250 reply), Message-ID, or portal-accounts")
    .option("--json", "print the timeline as JSON")
    .description("print the timeline of a message: verdict, route per recipient, delivery")
    .action(async (id: string, flags: CommonFlags & { json?: boolean }) => {
      const { config } = configFromFlags(flags);
      const store = await openStore(config, { beside: true });
      try {
        const found = await store.findMessages(id);
        if (found.length === 0 && id === ACCOUNT_EVENTS_ID) {
          // Sign-in failures and password changes belong to an account, not to a message.
          const events = await store.events(id);
          process.stdout.write(
            flags.json
              ? `${JSON.stringify(events, null, 2)}\n`
              : `${[`${id}  portal account events`, ...events.map((e) => line(e, []))].join("\n")}\n`,
          );
          return;
        }
        if (found.length === 0) {
          process.stderr.write(`sealgate: no message with queue id or Message-ID ${id}\n`);
          process.exitCode = 1;
          return;
        }
        const out: unknown[] = [];
        for (const m of found) {
          const events = await store.events(m.id);
          const deliveries = await store.deliveries(m.id);
          const rcptTo = m.envelope.rcptTo;
          if (flags.json) {
            const resolved = events.map((e) => ({
              ...e,
              ...(e.rcpt === undefined ? {} : { recipient: rcptAddress(rcptTo, e.rcpt) }),
            }));
            out.push({ ...m, events: resolved, deliveries });
            continue;
          }
          const lines = [
            `${m.id}  Message-ID <${m.messageId ?? "none"}>  state ${m.state}` +
              (m.holdReason ? ` (${m.holdReason})` : ""),
            ...events.map((e) => line(e, rcptTo)),
          ];
          if (deliveries.length > 0) lines.push("  copies:");
          for (const d of deliveries) {
            lines.push(
              `    #${d.id} route=${d.route} next-hop=${d.nextHop} sensitive=${d.sensitive} ` +
                `state=${d.state} attempts=${d.attempts}` +
                (d.state === "pending" ? ` next=${d.nextAttemptAt.toISOString()}` : ""),
            );
            for (const r of d.recipients) {
              lines.push(`      ${r.address}  ${r.state}${r.reply ? `  ${r.reply}` : ""}`);
            }
          }
          process.stdout.write(`${lines.join("\n")}\n`);
        }
        if (flags.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } finally {
        await store.close();
      }
    });
}
