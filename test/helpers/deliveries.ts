import { configSchema, type Config } from "../../gateway/config/index.js";
import type { LeasedDelivery, RouteKind, StoredMessage } from "../../gateway/store/types.js";

/** Builders for delivery and queue tests: a configuration and a leased copy without a store. */

export const LOOP_SECRET = "test-loop-secret-0123456789";

/** A configuration from partial keys, validated by the real schema. */
export function testConfig(input: Record<string, unknown>, dataDir: string): Config {
  const config = configSchema.parse({ dataDir, ...input });
  config.delivery.outboxDir ??= `${dataDir}/outbox`;
  return config;
}

export function sampleRaw(extra: { headers?: string[]; body?: string } = {}): Buffer {
  const headers = [
    "From: Alice Sender <alice@sender.test>",
    "To: Bob <bob@recipient.test>",
    "Subject: Lab results for review",
    "Date: Thu, 03 Dec 2026 10:00:00 +0000",
    "Message-ID: <sample-1@sender.test>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=us-ascii",
    ...(extra.headers ?? []),
  ];
  return Buffer.from(`${headers.join("\r\n")}\r\n\r\n${extra.body ?? "Hello Bob.\r\n"}`, "latin1");
}

export interface LeasedOptions {
  raw?: Buffer;
  recipients?: string[];
  mailFrom?: string;
  route?: RouteKind;
  sensitive?: boolean;
  nextHop?: string;
  attempts?: number;
  receivedAt?: Date;
  origin?: StoredMessage["origin"];
  loop?: StoredMessage["loop"];
}

let nextId = 1;

export function leased(o: LeasedOptions = {}): LeasedDelivery {
  const raw = o.raw ?? sampleRaw();
  const recipients = o.recipients ?? ["bob@recipient.test"];
  const message: StoredMessage = {
    id: `01TESTQUEUE${String(nextId).padStart(6, "0")}`,
    envelope: { mailFrom: o.mailFrom ?? "alice@sender.test", rcptTo: recipients },
    raw,
    messageId: "sample-1@sender.test",
    connector: "test",
    clientIp: "127.0.0.1",
    origin: o.origin ?? "ingress",
    eightBit: false,
    smtpUtf8: false,
    loop: o.loop,
    state: "routed",
    receivedAt: o.receivedAt ?? new Date(),
    holdReason: null,
  };
  const id = nextId++;
  return {
    id,
    queueId: message.id,
    route: o.route ?? "clean",
    nextHop: o.nextHop ?? "recipient.test",
    sensitive: o.sensitive ?? false,
    state: "pending",
    attempts: o.attempts ?? 0,
    createdAt: message.receivedAt,
    nextAttemptAt: message.receivedAt,
    recipients: recipients.map((address) => ({ address, state: "pending", reply: null })),
    message,
    raw,
  };
}
