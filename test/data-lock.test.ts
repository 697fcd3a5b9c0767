import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";
import { LOCK_FILE, lockDataDir } from "../gateway/data-lock.js";
import { runCli, startChildGateway, writeGatewayConfig } from "./helpers/gateway.js";

/**
 * Two gateways on one embedded data folder would each void the other's leases and deliver
 * the same messages twice: the second one must refuse to start.
 */

t.test("a second gateway on the same data folder is refused, naming the first one", async (t) => {
  const files = writeGatewayConfig();
  t.teardown(() => rmSync(path.dirname(files.file), { recursive: true, force: true }));
  const first = await startChildGateway(t, files);
  const pid = first.process.pid ?? 0;

  const second = await runCli(["start", "--config", files.file], { timeoutMs: 60_000 });
  t.equal(second.code, 1, "the second gateway exits with status 1");
  t.match(second.stderr, path.resolve(files.dataDir), "the error names the data folder");
  t.match(second.stderr, `pid ${pid}`, "the error names the running gateway's pid");
  t.notMatch(second.stderr, /SMTP\s+127/, "the second gateway never listened");
  t.equal(first.process.exitCode, null, "the first gateway keeps running");
  t.equal(readFileSync(path.join(files.dataDir, LOCK_FILE), "utf8").trim(), String(pid));
});

t.test("a lock left by a process that is gone is taken over at start", async (t) => {
  const files = writeGatewayConfig();
  t.teardown(() => rmSync(path.dirname(files.file), { recursive: true, force: true }));
  // A pid that surely ran and surely ended: a child that has exited.
  const dead = Number(execFileSync(process.execPath, ["-p", "process.pid"]).toString().trim());
  mkdirSync(files.dataDir, { recursive: true });
  writeFileSync(path.join(files.dataDir, LOCK_FILE), `${dead}\n`);

  const gw = await startChildGateway(t, files);
  const owner = readFileSync(path.join(files.dataDir, LOCK_FILE), "utf8").trim();
  t.equal(owner, String(gw.process.pid), "the lock now names the new gateway");
  await gw.kill("SIGTERM");
  t.throws(
    () => readFileSync(path.join(files.dataDir, LOCK_FILE)),
    { code: "ENOENT" },
    "a gateway that stops removes its lock",
  );
});

t.test("one process cannot lock the same folder twice until it releases it", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-lock-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lock = lockDataDir(dir);
  t.throws(() => lockDataDir(dir), { code: "DATA_LOCKED" });
  lock.release();
  const again = lockDataDir(dir);
  t.pass("taken again after release");
  again.release();
});
