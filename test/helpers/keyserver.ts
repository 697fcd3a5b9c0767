import type { TestCa } from "./pki.js";
import { HttpsFixture } from "./wkd-server.js";

/**
 * A keyserver on loopback answering both VKS (`/vks/v1/by-email/`) and HKP
 * (`/pks/lookup?op=get&options=mr&search=`) with armored keys.
 */
export class TestKeyserver {
  readonly fixture: HttpsFixture;

  private constructor(fixture: HttpsFixture) {
    this.fixture = fixture;
  }

  static async start(ca: TestCa, name = "keys.example.test"): Promise<TestKeyserver> {
    return new TestKeyserver(await HttpsFixture.start(ca, [name]));
  }

  publish(address: string, armored: string, opts: { delayMs?: number } = {}): void {
    const route = { body: armored, ...(opts.delayMs ? { delayMs: opts.delayMs } : {}) };
    this.fixture.routes.set(`/vks/v1/by-email/${encodeURIComponent(address)}`, route);
    const search = encodeURIComponent(address);
    this.fixture.routes.set(`/pks/lookup?op=get&options=mr&search=${search}`, route);
  }

  close(): Promise<void> {
    return this.fixture.close();
  }
}
