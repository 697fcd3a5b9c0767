import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** A throwaway GnuPG home with helpers to make keys the way a recipient would. */
export class GpgHome {
  readonly dir: string;

  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), "sealgate-gpg-"));
  }

  run(args: string[], input?: Uint8Array | string): Buffer {
    return execFileSync("gpg", ["--homedir", this.dir, "--batch", "--yes", ...args], {
      input,
      stdio: ["pipe", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
  }

  /** Generates a key and returns its fingerprint. `algo` as --quick-gen-key takes it. */
  generate(uid: string, algo: string, usage: string, expire = "never", fakedTime?: string): string {
    const faked = fakedTime ? ["--faked-system-time", fakedTime] : [];
    this.run([...faked, "--passphrase", "", "--quick-gen-key", uid, algo, usage, expire]);
    return this.fingerprint(uid);
  }

  /** RSA as many users have it: a signing primary and an encryption subkey. */
  rsa(uid: string, bits = 2048): string {
    const fpr = this.generate(uid, `rsa${bits}`, "sign");
    this.run(["--passphrase", "", "--quick-add-key", fpr, `rsa${bits}`, "encr", "never"]);
    return fpr;
  }

  /** Ed25519 primary with a cv25519 encryption subkey (GnuPG's future-default). */
  curve25519(uid: string): string {
    return this.generate(uid, "future-default", "default");
  }

  fingerprint(uid: string): string {
    const out = this.run(["--with-colons", "--list-keys", uid]).toString();
    const fpr = out.split("\n").find((l) => l.startsWith("fpr:"));
    if (!fpr) throw new Error("gpg made no key");
    return fpr.split(":")[9] ?? "";
  }

  exportPublic(fpr: string, armor = true): Buffer {
    return this.run([...(armor ? ["--armor"] : []), "--export", fpr]);
  }

  /** Revokes a key with the revocation certificate GnuPG wrote when it made the key. */
  revoke(fpr: string): void {
    const dir = path.join(this.dir, "openpgp-revocs.d");
    const file = readdirSync(dir).find((f) => f.startsWith(fpr));
    if (!file) throw new Error("no revocation certificate");
    // GnuPG prefixes the armor line with ":" so the file is not imported by accident.
    const cert = readFileSync(path.join(dir, file), "utf8").replace(/^:-----BEGIN/m, "-----BEGIN");
    this.run(["--import"], cert);
  }

  decrypt(message: Uint8Array): Buffer {
    return this.run(["--decrypt"], message);
  }

  /** Stops the gpg-agent this home started and deletes the folder. */
  remove(): void {
    try {
      execFileSync("gpgconf", ["--homedir", this.dir, "--kill", "gpg-agent"], { stdio: "ignore" });
    } catch {
      // No agent was started.
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
