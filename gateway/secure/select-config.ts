import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { KeyDiscovery, type HttpOptions } from "../../certs/discovery/index.js";
import type { KeyRepository } from "../../certs/types.js";
import type { Config } from "../config/index.js";
import { RecipientSelector, type TlsLookup } from "./select.js";

/** The selector could not be built from configuration (a trust file that cannot be read). */
export class SelectorConfigError extends Error {
  override readonly name = "SelectorConfigError";
  readonly code = "secure-config";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Time for the key store's own reads on top of the network sources' bounds. */
const STORE_MARGIN_MS = 1000;

export interface SelectorWiring {
  repository: KeyRepository;
  /** The deliverer's prober (shared MTA-STS cache); null outside mode mx. */
  prober: TlsLookup | null;
  /** TLS trust and host resolution for WKD and keyserver lookups. Default: system. */
  http?: HttpOptions | undefined;
}

/**
 * A selector as `secure.*` and `delivery.*` describe it. Recipient certificates are trusted
 * when they chain to secure.smime.trustAnchorsFile or to the organisation's own CA: the one in
 * <dataDir>/ca (read at start) or in the key store (read on every choice).
 */
export function createSelector(config: Config, wiring: SelectorWiring): RecipientSelector {
  const s = config.secure;
  let fileAnchors: string[] = [];
  if (s.smime.trustAnchorsFile) {
    try {
      fileAnchors = [readFileSync(s.smime.trustAnchorsFile, "utf8")];
    } catch (err) {
      throw new SelectorConfigError(
        `cannot read secure.smime.trustAnchorsFile ${s.smime.trustAnchorsFile}`,
        { cause: err },
      );
    }
  }
  // The CA `sealgate certs ca init|import` keeps in the data folder issues staff certificates.
  const ownCaFile = path.join(config.dataDir, "ca", "ca.pem");
  if (existsSync(ownCaFile)) fileAnchors.push(readFileSync(ownCaFile, "utf8"));
  const { repository } = wiring;
  const usesPgp = s.order.includes("pgp");
  // secure.pgp.timeout bounds each source; the whole lookup gets room for every enabled one
  // plus the store, so a WKD that uses its full time still leaves the keyserver its turn.
  const perSourceMs = s.pgp.timeout * 1000;
  const sources = Number(s.pgp.wkd) + Number(s.pgp.keyserver.enabled);
  const pgpTimeoutMs = perSourceMs * Math.max(1, sources) + STORE_MARGIN_MS;
  const discovery = usesPgp
    ? new KeyDiscovery({
        repository,
        wkd: { enabled: s.pgp.wkd, timeoutMs: perSourceMs },
        keyserver: {
          enabled: s.pgp.keyserver.enabled,
          url: s.pgp.keyserver.url,
          protocol: s.pgp.keyserver.protocol,
          timeoutMs: perSourceMs,
        },
        ...(wiring.http ? { http: wiring.http } : {}),
      })
    : null;
  return new RecipientSelector({
    repository,
    trustAnchors: async () => {
      const own = await repository.listKeys(["ca"]);
      return [...fileAnchors, ...own.map((k) => k.material)];
    },
    discovery,
    prober: config.delivery.mode === "mx" ? wiring.prober : null,
    mode: config.delivery.mode,
    smartHost: config.delivery.smartHost?.host,
    order: s.order,
    pgpTimeoutMs,
  });
}
