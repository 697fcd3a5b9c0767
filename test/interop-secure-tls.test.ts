import t from "tap";
import { startDnsServer } from "./helpers/dns-server.js";
import { runCli, startTestGateway, waitForEvent } from "./helpers/gateway.js";
import { issueCert, makeTestCa, selfSigned } from "./helpers/pki.js";
import { requirePostfix, startPostfix } from "./helpers/postfix.js";
import { swaks } from "./helpers/swaks.js";

/**
 * The promise that matters most: a sensitive message never leaves over a connection whose
 * certificate does not verify. The next hop is a real Postfix, first with a self-signed
 * certificate, then with one from the CA sealgate trusts.
 */

const ca = makeTestCa();

t.test(
  "sensitive mail waits while the next hop's certificate does not verify, and goes once it does",
  async (t) => {
    if (!requirePostfix(t, "swaks")) return;
    // The tenant's smart host is the one next hop there is: a sensitive copy waits for it to
    // prove itself rather than go anywhere else. (In mx mode an MX that cannot prove itself
    // sends the copy to the portal instead: secure-select-fallback.test.ts.)
    const pf = await startPostfix(t, { tls: selfSigned(["mx.postfix.test"]) });
    const gw = await startTestGateway(t, {
      delivery: {
        mode: "smarthost",
        // requireTls off: clean mail may use the unverified hop, so only the sensitive route
        // can be what holds the two sensitive messages back.
        smartHost: {
          host: "127.0.0.1",
          port: pf.port,
          servername: "mx.postfix.test",
          requireTls: false,
        },
        tls: { caFile: ca.certFile },
        retrySchedule: [1],
      },
    });

    const tagged = await swaks({
      server: gw.smtp,
      from: "nurse@clinic.test",
      to: ["bob@postfix.test"],
      headers: { Subject: "[secure] lab results" },
      body: "Results attached in the portal.",
    });
    const ssn = await swaks({
      server: gw.smtp,
      from: "billing@clinic.test",
      to: ["carol@postfix.test"],
      headers: { Subject: "claim" },
      body: "Member SSN 524-71-3986, claim number 7781.",
    });
    const clean = await swaks({
      server: gw.smtp,
      from: "staff@clinic.test",
      to: ["dave@postfix.test"],
      headers: { Subject: "lunch on friday" },
      body: "Nothing sensitive here.",
    });
    t.equal(clean.exitCode, 0, "the clean message is accepted");
    t.equal(tagged.exitCode, 0, "the [secure] message is accepted");
    t.equal(ssn.exitCode, 0, "the message with an SSN is accepted");
    const ids = [tagged.queueId, ssn.queueId].filter((x): x is string => Boolean(x));
    t.equal(ids.length, 2, "both 250 replies carry a queue id");

    for (const id of ids) {
      const events = await waitForEvent(gw.store, id, "deliver:deferred");
      const route = events.find((e) => e.name === "secure:route");
      t.equal(route?.data?.route, "tls", `${id} is routed to verified TLS`);
      const [delivery] = await gw.store.deliveries(id);
      t.equal(delivery?.sensitive, true, `${id} is marked sensitive`);
      t.equal(delivery?.state, "pending", `${id} stays queued`);
    }
    const early = await pf.waitForMessages(1, 30_000);
    t.equal(early.length, 1, "only the clean message reached the mailbox");
    t.match(early[0]?.toString("latin1") ?? "", /Nothing sensitive here/);
    t.equal(pf.messages().length, 1, "neither sensitive message reached Postfix");

    await pf.reconfigure({ tls: issueCert(ca, { names: ["mx.postfix.test"] }) });

    const arrived = (await pf.waitForMessages(3, 30_000)).slice(1);
    t.equal(arrived.length, 2, "both messages arrive once the certificate verifies");
    for (const id of ids) {
      const events = await waitForEvent(gw.store, id, "deliver:sent");
      const sent = events.find((e) => e.name === "deliver:sent");
      t.equal(sent?.data?.tlsVerified, true, `${id} went out over verified TLS`);
      t.match(sent?.data?.tls, /^TLSv1\.[23]$/, `${id} used TLS 1.2 or newer`);
      t.ok(
        events.findIndex((e) => e.name === "deliver:deferred") <
          events.findIndex((e) => e.name === "deliver:sent"),
        `${id}'s trace shows the deferral before the delivery`,
      );
    }
    for (const msg of arrived) {
      t.match(msg.toString("latin1"), /with ESMTPS id/, "Postfix recorded the hop as TLS");
    }

    await gw.stop();
    const trace = await runCli(["trace", ssn.queueId ?? "", "--config", gw.files.file]);
    t.equal(trace.code, 0, "sealgate trace succeeds");
    t.match(
      trace.stdout,
      /policy:verdict .*findings=us-ssn/,
      "the trace shows the verdict by detector",
    );
    t.match(trace.stdout, /secure:route\s+carol@postfix\.test .*route=tls/, "and the TLS route");
    t.match(trace.stdout, /deliver:deferred[^]*deliver:sent/, "a deferral, then the delivery");
    t.notMatch(trace.stdout, /524-71-3986|524713986/, "never the matched SSN");
  },
);

t.test("clean mail goes out over opportunistic TLS to the same unverified next hop", async (t) => {
  if (!requirePostfix(t, "swaks")) return;
  const pf = await startPostfix(t, { tls: selfSigned(["mx.postfix.test"]) });
  const dns = await startDnsServer({
    "postfix.test": { mx: [{ preference: 10, exchange: "mx.postfix.test" }] },
    "mx.postfix.test": { a: ["127.0.0.1"] },
  });
  t.teardown(() => dns.close());
  const gw = await startTestGateway(t, {
    delivery: { mode: "mx", mxPort: pf.port, dnsServers: [dns.address], retrySchedule: [1] },
  });

  const sent = await swaks({
    server: gw.smtp,
    from: "staff@clinic.test",
    to: ["bob@postfix.test"],
    headers: { Subject: "lunch on friday" },
    body: "Nothing sensitive here.",
  });
  t.equal(sent.exitCode, 0, "swaks reports success");
  const [msg] = await pf.waitForMessages(1);
  t.ok(msg, "the clean message is delivered without waiting");
  t.match(msg?.toString("latin1") ?? "", /with ESMTPS/, "and Postfix saw it over TLS");
});
