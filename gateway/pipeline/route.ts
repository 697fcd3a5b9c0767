import type { EncryptMethod } from "../../policy/index.js";
import type { Config } from "../config/index.js";
import type { Choice, CopyBuilder, CopyDetail, RecipientSelector } from "../secure/index.js";
import type { DeliveryPlan, NewEvent, RouteKind } from "../store/index.js";

/**
 * Turns per-recipient choices into copies: an S/MIME or PGP copy per recipient (its own
 * bytes, so nobody sees another's key material or a Bcc), verified-TLS recipients grouped per
 * next hop as one SMTP transaction each, and portal recipients held.
 */

export function nextHop(config: Config, recipient: string): string {
  switch (config.delivery.mode) {
    case "outbox":
      return "outbox";
    case "smarthost":
      return config.delivery.smartHost?.host ?? "smarthost";
    case "mx":
      return recipient.slice(recipient.lastIndexOf("@") + 1).toLowerCase();
  }
}

/** Groups recipients that share route and next hop into one copy (one SMTP transaction). */
export function groupPlans(
  config: Config,
  recipients: string[],
  o: { route: RouteKind; sensitive: boolean; raw?: Buffer | undefined },
): DeliveryPlan[] {
  const byHop = new Map<string, string[]>();
  for (const rcpt of recipients) {
    const hop = nextHop(config, rcpt);
    byHop.set(hop, [...(byHop.get(hop) ?? []), rcpt]);
  }
  return [...byHop].map(([hop, rcpts]) => ({
    recipients: rcpts,
    route: o.route,
    nextHop: hop,
    sensitive: o.sensitive,
    raw: o.raw,
  }));
}

export interface RoutedCopies {
  plans: DeliveryPlan[];
  /** One secure:route event per recipient, portal ones included. */
  events: NewEvent[];
  /** Recipients no method could carry: held, the sender is told. */
  held: string[];
  /** Recipients per method, for the summary log line and the sender's notice. */
  counts: Record<Choice["method"], number>;
}

export interface RouteOptions {
  config: Config;
  selector: RecipientSelector;
  builder: CopyBuilder;
  queueId: string;
  method: EncryptMethod;
  /** The bytes differ from the stored original (policy added headers): TLS copies carry them. */
  modified: boolean;
  /** The portal is running: portal recipients get a portal copy instead of being held. */
  portal: boolean;
  /** The envelope sender: a sender's own S/MIME key signs only when From matches it. */
  mailFrom: string;
}

/** Lookups for different recipients run side by side, this many at a time. */
const PARALLEL = 8;

async function mapLimited<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return out;
}

/** The copy for one recipient, or the reason it falls to the portal hold. */
async function build(
  raw: Buffer,
  choice: Choice,
  o: { builder: CopyBuilder; mailFrom: string },
): Promise<{ choice: Choice; bytes?: Buffer; detail?: CopyDetail }> {
  const builder = o.builder;
  try {
    if (choice.method === "smime") {
      const copy = await builder.smimeCopy(raw, choice.certificate, { mailFrom: o.mailFrom });
      return { choice, ...copy };
    }
    if (choice.method === "pgp") return { choice, ...(await builder.pgpCopy(raw, choice.key)) };
    return { choice };
  } catch (err) {
    // A copy that cannot be encrypted is never sent another way the policy did not choose.
    const code = String((err as { code?: unknown }).code ?? (err as Error).name ?? "error");
    const reason = `portal: ${choice.method} copy could not be made (${code})`;
    return { choice: { method: "portal", reason } };
  }
}

export async function routeSensitive(
  recipients: string[],
  raw: Buffer,
  o: RouteOptions,
): Promise<RoutedCopies> {
  const built = await mapLimited(recipients, async (address) => {
    const choice = await o.selector.choose(address, o.method);
    return { address, ...(await build(raw, choice, o)) };
  });

  const plans: DeliveryPlan[] = [];
  const tls: string[] = [];
  const portal: string[] = [];
  const held: string[] = [];
  const counts = { smime: 0, pgp: 0, tls: 0, portal: 0 };
  for (const b of built) {
    counts[b.choice.method] += 1;
    if (b.choice.method === "tls") tls.push(b.address);
    else if (b.choice.method === "portal") (o.portal ? portal : held).push(b.address);
    else {
      plans.push({
        recipients: [b.address],
        route: b.choice.method,
        nextHop: nextHop(o.config, b.address),
        // Still sensitive: a DSN about it leaves the Subject out, and its trip requires TLS.
        sensitive: true,
        raw: b.bytes,
      });
    }
  }
  plans.push(
    ...groupPlans(o.config, tls, {
      route: "tls",
      sensitive: true,
      raw: o.modified ? raw : undefined,
    }),
  );

  if (portal.length > 0) {
    plans.push({
      recipients: portal,
      route: "portal",
      nextHop: "portal",
      sensitive: true,
      raw: o.modified ? raw : undefined,
    });
  }

  const hopOf = new Map(plans.flatMap((p) => p.recipients.map((r) => [r, p.nextHop] as const)));
  const events: NewEvent[] = built.map((b) => ({
    queueId: o.queueId,
    name: "secure:route",
    recipient: b.address,
    data: {
      route: b.choice.method,
      reason:
        b.choice.method === "portal" && !o.portal
          ? `${b.choice.reason}; portal not running, copy held`
          : b.choice.reason,
      // Which of our own keys the copy also carries (fingerprints only), and who signed.
      ...(b.detail ?? {}),
      ...(hopOf.has(b.address) ? { nextHop: hopOf.get(b.address) } : { held: true }),
    },
  }));
  return { plans, events, held, counts };
}
