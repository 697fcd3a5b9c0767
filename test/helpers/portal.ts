import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { simpleParser } from "mailparser";
import type { Test } from "tap";
import { startTestGateway, waitFor, type RawConfig, type TestGateway } from "./gateway.js";
import { issueCert, makeTestCa } from "./pki.js";
import { startSink, type ReceivedMessage, type Sink } from "./sink.js";

/**
 * A gateway whose portal is the only method for recipients without keys: it relays through a
 * smart host (the tenant) that the test runs as an SMTP sink with a certificate from a test
 * CA, and the sink is every mailbox the test reads (notices, codes, replies).
 */

export interface PortalSetup {
  gw: TestGateway;
  /** Every mailbox: the recipient's notices and codes, the sender's replies. */
  mail: Sink;
  /** http://127.0.0.1:<port> */
  base: string;
}

export async function startPortalGateway(t: Test, raw: RawConfig = {}): Promise<PortalSetup> {
  const ca = makeTestCa();
  const cert = issueCert(ca, { names: ["relay.clinic.test"] });
  const mail = await startSink({ tls: { certPem: cert.certPem, keyPem: cert.keyPem } });
  t.teardown(() => mail.close());
  const gw = await startTestGateway(t, {
    organisation: "Riverside Clinic",
    ...raw,
    delivery: {
      mode: "smarthost",
      smartHost: { host: "127.0.0.1", port: mail.port, servername: "relay.clinic.test" },
      tls: { caFile: ca.certFile },
      retrySchedule: [1],
      postmaster: "secure@clinic.test",
    },
    // No verified-TLS route to recipients: keys, or the portal.
    secure: { order: ["smime", "pgp", "portal"] },
  });
  return { gw, mail, base: `http://${gw.http.host}:${gw.http.port}` };
}

/** The first message to this address that matches, once it has arrived. */
export function mailTo(
  sink: Sink,
  address: string,
  match: RegExp,
  opts: { after?: number; timeoutMs?: number } = {},
): Promise<ReceivedMessage> {
  return waitFor(
    `mail to ${address} matching ${match.source}`,
    () =>
      sink.messages
        .slice(opts.after ?? 0)
        .find((m) => m.rcptTo.includes(address) && match.test(m.raw.toString("latin1"))),
    { timeoutMs: opts.timeoutMs ?? 30_000 },
  );
}

/** The portal link in a notice's plain-text part. */
export function linkIn(notice: ReceivedMessage): string {
  const m = /https?:\/\/\S+\/m\/[A-Za-z0-9_-]+/.exec(notice.raw.toString("latin1"));
  if (!m) throw new Error("no portal link in the notice");
  return m[0];
}

/** The one-time code in a code mail. */
export async function codeIn(mail: ReceivedMessage): Promise<string> {
  const parsed = await simpleParser(mail.raw);
  const m = /Your code is (\d{8})/.exec(parsed.text ?? "");
  if (!m?.[1]) throw new Error("no code in the code mail");
  return m[1];
}

/** Writes a file of random bytes (a stand-in PDF) and returns its path and bytes. */
export function binaryFile(name: string, size: number): { file: string; bytes: Buffer } {
  const bytes = Buffer.concat([Buffer.from("%PDF-1.4\n"), randomBytes(size)]);
  const file = path.join(mkdtempSync(path.join(tmpdir(), "sealgate-att-")), name);
  writeFileSync(file, bytes);
  return { file, bytes };
}
