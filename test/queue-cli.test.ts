/**
 * `sealgate queue` through the real CLI, beside a running gateway (smart-host mode, a sink as
 * the tenant's relay): a message a policy rule quarantined is listed, released (encrypted by
 * default, or as clean when the admin says so) or dropped, and the gateway's queue runner
 * carries out the decision on its own next look at the queue.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";
import { requireTools } from "./helpers/tools.js";
import { runCli, startTestGateway, waitFor } from "./helpers/gateway.js";
import { startSink } from "./helpers/sink.js";
import { swaks } from "./helpers/swaks.js";

const SENDER = "alice@tenant.test";

// Nothing tells the gateway of a release: its runner looks at the queue at least every 30 s.
t.setTimeout(120_000);

t.test(
  "held mail is listed, released and dropped from the CLI while the gateway runs",
  async (t) => {
    if (!requireTools(t, "swaks")) return;
    const sink = await startSink();
    t.teardown(() => sink.close());
    const dir = mkdtempSync(path.join(tmpdir(), "sealgate-queue-cli-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const policyFile = path.join(dir, "policy.yaml");
    writeFileSync(
      policyFile,
      [
        "name: review",
        "default: allow",
        "rules:",
        "  - name: board-review",
        "    when: { keywords: [embargoed] }",
        "    then: [quarantine]",
        "",
      ].join("\n"),
    );
    const gw = await startTestGateway(t, {
      policy: { file: policyFile },
      delivery: {
        mode: "smarthost",
        smartHost: { host: sink.host, port: sink.port, requireTls: false },
        retrySchedule: [1],
      },
    });
    const cli = (...args: string[]) => runCli(["queue", ...args, "--config", gw.files.file]);

    const send = async (to: string, marker: string) => {
      const sent = await swaks({
        server: gw.smtp,
        from: SENDER,
        to: [to],
        headers: { Subject: `Board pack ${marker}` },
        body: `The figures are embargoed. ${marker}`,
      });
      t.equal(sent.exitCode, 0, "sealgate accepts the message");
      return sent.queueId ?? "";
    };
    const encrypted = await send("enc@partner.test", "MARK-ENC");
    const clean = await send("clean@partner.test", "MARK-CLEAN");
    const dropped = await send("drop@partner.test", "MARK-DROP");
    for (const id of [encrypted, clean, dropped]) {
      await waitFor(`${id} held`, async () =>
        (await gw.store.getMessage(id))?.state === "held" ? true : undefined,
      );
    }

    const listed = await cli("held", "--json");
    t.equal(listed.code, 0, "queue held succeeds");
    const held = JSON.parse(listed.stdout) as { id: string; reason: string; rules: string[] }[];
    t.same(
      held.map((m) => m.id),
      [dropped, clean, encrypted],
      "all three are listed, newest first",
    );
    t.same(held[0]?.rules, ["board-review"]);
    t.equal(held[0]?.reason, "quarantine");
    const text = await cli("held");
    t.match(text.stdout, new RegExp(`${encrypted}\\s+\\S+\\s+quarantine\\s+rules board-review`));
    for (const phi of ["partner.test", SENDER, "Board pack", "MARK-"]) {
      t.notOk((listed.stdout + text.stdout).includes(phi), `the list does not show ${phi}`);
    }

    const unknown = await cli("release", "0000000000000000Z");
    t.equal(unknown.code, 1, "an unknown id is refused");
    t.match(unknown.stderr, /no message 0000000000000000Z/);

    const r1 = await cli("release", encrypted, "--by", "ops-anna");
    t.equal(r1.code, 0, r1.stderr);
    t.match(r1.stdout, `released ${encrypted} as encrypt`);
    const r2 = await cli("release", clean, "--as", "clean", "--by", "ops-anna");
    t.equal(r2.code, 0, r2.stderr);
    const d = await cli("drop", dropped, "--by", "ops-anna");
    t.equal(d.code, 0, d.stderr);
    t.match(d.stdout, `dropped ${dropped}`);
    const again = await cli("drop", dropped);
    t.equal(again.code, 1, "a message no longer held is refused");
    t.match(again.stderr, `message ${dropped} is not held (it is done)`);

    // The gateway was not told: its runner finds the released messages on its next look.
    const toSink = (rcpt: string, marker: string) =>
      waitFor(
        `a message for ${rcpt}`,
        () =>
          sink.messages.find(
            (m) => m.rcptTo.includes(rcpt) && m.raw.toString("utf8").includes(marker),
          ),
        { timeoutMs: 60_000 },
      );
    const cleanCopy = await toSink("clean@partner.test", "MARK-CLEAN");
    t.match(cleanCopy.raw.toString("utf8"), /Subject: Board pack MARK-CLEAN/, "clean: unchanged");
    const dsn = await toSink(SENDER, "deleted by an administrator");
    const dsnText = dsn.raw.toString("utf8");
    t.match(dsnText, dropped, "the drop DSN names the reference");
    t.match(dsnText, /Status: 5\.7\.1/);
    t.notOk(/MARK-DROP|Board pack/.test(dsnText), "and carries no subject or content");
    t.equal((await gw.store.getMessage(dropped))?.raw, null, "the dropped message has no bytes");

    const copies = await waitFor(`${encrypted} routed`, async () => {
      const ds = await gw.store.deliveries(encrypted);
      return ds.length > 0 ? ds : undefined;
    });
    for (const c of copies) {
      t.not(c.route, "clean", `the released copy is not clean (${c.route})`);
      t.equal(c.sensitive, true);
    }
    t.equal((await gw.store.getMessage(encrypted))?.state, "routed", "not held again");
    t.notOk(
      sink.messages.some((m) => m.raw.toString("utf8").includes("MARK-ENC")),
      "the encrypt-released body never reached the relay in clear",
    );
    const events = await gw.store.events(encrypted);
    t.same(events.find((e) => e.name === "pipeline:released")?.data, {
      by: "ops-anna",
      as: "encrypt",
      reason: "quarantine",
    });

    const after = await cli("held");
    t.match(after.stdout, /no held messages/, "nothing is held any more");
  },
);
