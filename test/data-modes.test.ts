import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import nodemailer from "nodemailer";
import t from "tap";
import { startTestGateway, waitForEvent } from "./helpers/gateway.js";

/**
 * The data folder holds PHI (the queue, delivered copies) and key material. Whatever the
 * process umask, nobody but the gateway's own user may read any of it.
 */

function mode(file: string): string {
  return (statSync(file).mode & 0o777).toString(8).padStart(3, "0");
}

t.test("the data folder, database, WAL, outbox copies, TLS key and KEK are private", async (t) => {
  const previous = process.umask(0o022);
  t.teardown(() => void process.umask(previous));
  const gw = await startTestGateway(t);
  const transport = nodemailer.createTransport({
    host: gw.smtp.host,
    port: gw.smtp.port,
    secure: false,
    tls: { rejectUnauthorized: false },
  });
  t.teardown(() => transport.close());
  const info = (await transport.sendMail({
    from: "staff@clinic.example.org",
    to: "someone@example.net",
    subject: "modes",
    text: "hello",
  })) as { response: string };
  const queueId = /queued as (\S+)/.exec(info.response)?.[1] ?? "";
  await waitForEvent(gw.store, queueId, "deliver:sent");

  const data = gw.files.dataDir;
  t.equal(mode(data), "700", "the data folder is 0700");
  const files = readdirSync(data);
  for (const name of ["sealgate.db", "sealgate.db-wal", "sealgate.db-shm"]) {
    t.ok(files.includes(name), `${name} exists`);
    t.equal(mode(path.join(data, name)), "600", `${name} is 0600`);
  }
  const outbox = gw.config.delivery.outboxDir ?? "";
  t.equal(mode(outbox), "700", "the outbox folder is 0700");
  const copies = readdirSync(outbox);
  t.equal(copies.length, 1, "one copy was delivered");
  t.equal(mode(path.join(outbox, copies[0] ?? "")), "600", "the delivered copy is 0600");
  t.equal(mode(path.join(data, "tls", "smtp-key.pem")), "600", "the STARTTLS key is 0600");
  t.ok(files.includes("key-encryption-key"), "a key-encryption key was made");
  t.equal(mode(path.join(data, "key-encryption-key")), "600", "the key-encryption key is 0600");
});
