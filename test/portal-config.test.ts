/**
 * The portal's listener settings: plain HTTP is refused off loopback unless an HTTPS proxy is
 * named, and behind a trusted proxy the sign-in rate limits count each real client.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t, { type Test } from "tap";
import { loadConfig } from "../gateway/config/index.js";
import { compilePolicy } from "../policy/index.js";
import type { Extraction } from "../policy/extract/types.js";
import type { CompiledPolicy } from "../policy/rules/evaluate.js";
import { startPortalGateway } from "./helpers/portal.js";

function configFile(t: Test, yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-portal-config-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "sealgate.yaml");
  writeFileSync(file, yaml);
  return file;
}

t.test("plain HTTP on a non-loopback address is refused, naming portal.baseUrl", async (t) => {
  const open = configFile(t, "httpListen: 0.0.0.0:8080\n");
  t.throws(() => loadConfig(open), /portal\.baseUrl.*plain HTTP on a non-loopback httpListen/);
  const v6 = configFile(t, 'httpListen: "[2001:db8::1]:8080"\n');
  t.throws(() => loadConfig(v6), /portal\.baseUrl/);

  const proxied = configFile(
    t,
    "httpListen: 0.0.0.0:8080\nportal:\n  baseUrl: https://portal.example.org\n",
  );
  t.equal(loadConfig(proxied).config.portal.baseUrl, "https://portal.example.org");
  const off = configFile(t, "httpListen: 0.0.0.0:8080\nportal:\n  enabled: false\n");
  t.equal(loadConfig(off).config.portal.enabled, false, "no portal, nothing to refuse");
  for (const host of ["127.0.0.1:8080", "[::1]:8080", "localhost:8080"]) {
    const loop = configFile(t, `httpListen: "${host}"\n`);
    t.equal(loadConfig(loop).config.httpListen, host, `${host} may serve plain HTTP`);
  }
});

/** POSTs a sign-in form (refused for its CSRF token) as the client `from`. */
async function attempt(base: string, from: string): Promise<number> {
  const res = await fetch(`${base}/portal/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": from },
    body: "_csrf=x&address=a%40b.test&password=p",
  });
  await res.arrayBuffer();
  return res.status;
}

t.test("behind a trusted proxy, sign-in limits count each real client", async (t) => {
  const s = await startPortalGateway(t, { portal: { trustProxy: ["127.0.0.1"] } });
  const statuses = [];
  for (let i = 0; i < 21; i++) statuses.push(await attempt(s.base, "198.51.100.7"));
  t.equal(statuses.filter((x) => x === 403).length, 20, "twenty tries a minute are answered");
  t.equal(statuses.at(-1), 429, "the twenty-first from that client is limited");
  t.equal(await attempt(s.base, "203.0.113.9"), 403, "another client behind the proxy is not");
});

t.test("without trustProxy, X-Forwarded-For is not believed", async (t) => {
  const s = await startPortalGateway(t);
  for (let i = 0; i < 20; i++) await attempt(s.base, `198.51.100.${i + 1}`);
  t.equal(await attempt(s.base, "203.0.113.9"), 429, "a forged header does not escape the limit");
});

t.test("a policy names where a portal passphrase is kept, never the passphrase", async (t) => {
  const rules = (encrypt: string) =>
    compilePolicy(
      [
        "rules:",
        `  - {name: a, when: {subjectTag: "[secure]"}, then: [{encrypt: ${encrypt}}]}`,
        `  - {name: b, when: {subjectTag: "[secure]"}, then: [{encrypt: {showSubject: true}}]}`,
      ].join("\n"),
      { file: "p.yaml" },
    );
  const tagged: Extraction = {
    segments: [],
    unscannable: [],
    attachments: [],
    headers: [{ name: "Subject", value: "[secure] results" }],
  };
  const verdict = (policy: CompiledPolicy) =>
    policy.evaluate({
      extraction: tagged,
      matches: [],
      mailFrom: "a@b.test",
      rcptTo: ["c@d.test"],
    });

  const env = verdict(
    rules("{method: portal, passphrase: {env: CLINIC_PASS}, showSubject: false}"),
  );
  t.same(env.portalPassphrase, { env: "CLINIC_PASS" }, "the variable's name reaches the verdict");
  t.equal(env.portalShowSubject, false, "a rule's showSubject false wins over another's true");
  const file = verdict(rules("{passphrase: {file: /etc/sealgate/pass}}"));
  t.same(file.portalPassphrase, { file: "/etc/sealgate/pass" });
  t.equal(file.portalShowSubject, true);
  t.throws(() => rules('{passphrase: "hunter2-literal"}'), /line 2/, "a literal is refused");
  t.throws(() => rules("{passphrase: {env: 'not a name'}}"), /variable name/);
});
