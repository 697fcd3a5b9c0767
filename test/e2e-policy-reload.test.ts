import { writeFileSync } from "node:fs";
import path from "node:path";
import t from "tap";
import { startChildGateway, waitFor, writeGatewayConfig } from "./helpers/gateway.js";

/** SIGHUP reloads the policy only after the new file validates; a broken file keeps the old. */

const POLICY_TAG = (tag: string) => `name: reload-test
default: allow
rules:
  - name: tagged
    when: { subjectTag: "${tag}" }
    then: [encrypt]
`;

t.test(
  "SIGHUP applies a valid policy and keeps the old one when the new file is broken",
  async (t) => {
    const base = writeGatewayConfig();
    const policyFile = path.join(path.dirname(base.file), "policy.yaml");
    writeFileSync(policyFile, POLICY_TAG("[first]"));
    const files = writeGatewayConfig({ dataDir: base.dataDir, policy: { file: policyFile } });
    const gw = await startChildGateway(t, files);

    writeFileSync(
      policyFile,
      "name: broken\nrules:\n  - name: x\n    when: { detector: no-such-detector }\n    then: [encrypt]\n",
    );
    gw.process.kill("SIGHUP");
    const kept = await waitFor(
      "policy kept",
      () => /policy kept: ([\s\S]*)/.exec(gw.output())?.[1],
    );
    t.match(kept, /line \d+/, "the refusal names the line of the error");

    writeFileSync(policyFile, POLICY_TAG("[second]"));
    gw.process.kill("SIGHUP");
    const reloaded = await waitFor(
      "policy reloaded",
      () => /policy reloaded \((.*)\)/.exec(gw.output())?.[1],
    );
    t.equal(reloaded, "reload-test");
    t.equal(gw.process.exitCode, null, "the gateway kept running throughout");
  },
);
