import t from "tap";
import { openStore } from "../gateway/store/index.js";
import { startChildGateway, writeGatewayConfig } from "./helpers/gateway.js";
import { requirePostfix, startPostfix } from "./helpers/postfix.js";
import { RawSmtpClient } from "./helpers/smtp-client.js";

/**
 * The durability promise, end to end: sealgate runs as its own process (the real CLI), is
 * killed with SIGKILL the instant it has answered 250, and is started again on the same data
 * folder. The next hop, a real Postfix, is down while this happens.
 */

t.test(
  "a message answered 250 survives SIGKILL and is delivered exactly once after restart",
  async (t) => {
    if (!requirePostfix(t)) return;
    const pf = await startPostfix(t);
    await pf.pause();
    const files = writeGatewayConfig({
      delivery: {
        mode: "smarthost",
        smartHost: { host: "127.0.0.1", port: pf.port, requireTls: false },
        retrySchedule: [1],
      },
    });

    const first = await startChildGateway(t, files);
    const client = await RawSmtpClient.connect({ port: first.smtp.port, timeoutMs: 15_000 });
    t.equal((await client.read()).code, 220, "greeting");
    t.equal((await client.command("EHLO client.sealgate.test")).code, 250, "EHLO");
    t.equal((await client.command("MAIL FROM:<alice@tenant.test>")).code, 250, "MAIL");
    t.equal((await client.command("RCPT TO:<bob@postfix.test>")).code, 250, "RCPT");
    t.equal((await client.command("DATA")).code, 354, "DATA");
    client.write(
      [
        "From: alice@tenant.test",
        "To: bob@postfix.test",
        "Subject: survives a crash",
        "Message-ID: <crash-test-1@tenant.test>",
        "",
        "This message was acknowledged just before the gateway died.",
        ".",
        "",
      ].join("\r\n"),
    );
    const accepted = await client.read();
    first.process.kill("SIGKILL");
    await first.kill("SIGKILL");
    await client.close();
    t.equal(accepted.code, 250, "the message was accepted before the kill");
    const queueId = /queued as (\S+)/i.exec(accepted.text)?.[1] ?? accepted.text.split(/\s+/).pop();
    t.ok(queueId, "the 250 reply names the queue id");
    t.equal(first.process.signalCode, "SIGKILL", "the first gateway died by SIGKILL");

    const second = await startChildGateway(t, files);
    await pf.resume();
    try {
      await pf.waitForMessages(1, 60_000);
    } catch (err) {
      t.comment(second.output().split("\n").slice(-20).join("\n"));
      throw err;
    }
    // Give a duplicate every chance to show up: several retry periods.
    await new Promise((r) => setTimeout(r, 4000));
    t.equal(pf.messages().length, 1, "Postfix received the message exactly once");
    t.match(
      pf.messages()[0]?.toString("latin1") ?? "",
      /acknowledged just before the gateway died/,
    );
    await second.kill("SIGTERM");

    const store = await openStore(files.config);
    t.teardown(() => store.close());
    const found = await store.findMessages("crash-test-1@tenant.test");
    t.equal(found.length, 1, "the store holds the message once");
    const events = await store.events(found[0]?.id ?? "");
    t.equal(events.filter((e) => e.name === "deliver:sent").length, 1, "one delivery is recorded");
    t.equal(found[0]?.state, "done", "and the message is done");
  },
);
