import { z } from "zod";
import { rangeProblem, rangeWidth } from "../smtp/connectors.js";

/**
 * The one configuration schema. Every key has a documented default here and in
 * deploy/sealgate.example.yaml; `sealgate config print` shows the effective values.
 * Durations are seconds unless the key name says otherwise.
 */

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, "expected HOST:PORT, e.g. 127.0.0.1:2525")
  .refine((v) => Number(v.slice(v.lastIndexOf(":") + 1)) <= 65535, "the port must be 0 to 65535");

const cidr = z.string().superRefine((text, ctx) => {
  const problem = rangeProblem(text);
  if (problem) ctx.addIssue({ code: "custom", message: `"${text}" ${problem}, e.g. 10.0.0.0/8` });
});

export const connectorSchema = z
  .object({
    /** Name used in logs, events and traces. */
    name: z.string().min(1),
    /** Client IP ranges allowed to relay through this connector (CIDR or single addresses). */
    ipRanges: z.array(cidr).min(1),
    /**
     * Microsoft 365 tenant id (GUID) that Exchange Online stamps in
     * X-MS-Exchange-CrossTenant-Id. Needed because Microsoft's sending ranges are shared by
     * every tenant. Default: not checked.
     */
    m365TenantId: z.string().uuid().optional(),
    /** Sender (MAIL FROM) domains this connector may relay for. Default: any. */
    senderDomains: z.array(z.string().min(1)).optional(),
    /** Required subject CN (or DNS SAN) of the client's TLS certificate. Default: none. */
    clientCertSubject: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Open to a large part of the Internet, only a client certificate tells the tenant from
    // anyone else: a tenant id or sender domain is text in the message, which any client can
    // write. The widest ranges Microsoft and Google publish are /14 (IPv4) and /32 (IPv6).
    if (c.clientCertSubject) return;
    c.ipRanges.forEach((r, i) => {
      const width = rangeWidth(r);
      if (!width || width.bits >= (width.family === "ipv4" ? 8 : 16)) return;
      ctx.addIssue({
        code: "custom",
        path: ["ipRanges", i],
        message: `"${r}" admits a large part of the Internet (an open relay) without clientCertSubject; list the tenant's sending ranges`,
      });
    });
  });

export const smtpSchema = z
  .object({
    /** Where the ingress listens. Default 127.0.0.1:2525. */
    listen: hostPort.default("127.0.0.1:2525"),
    /** Name announced in the greeting and EHLO. Default: the machine's host name. */
    hostname: z.string().min(1).optional(),
    /** PEM certificate chain for STARTTLS. Default: a self-signed one kept in the data folder. */
    tlsCertFile: z.string().optional(),
    /** PEM private key for STARTTLS. */
    tlsKeyFile: z.string().optional(),
    /** PEM CA bundle used to verify client certificates (connector clientCertSubject). */
    clientCaFile: z.string().optional(),
    /** Refuse MAIL FROM until STARTTLS has been negotiated. Default false. */
    requireTls: z.boolean().default(false),
    /** Largest message accepted, in bytes (SIZE). Default 50 MiB. */
    maxMessageBytes: z
      .number()
      .int()
      .positive()
      .default(50 * 1024 * 1024),
    /** Most recipients in one transaction. Default 500. */
    maxRecipients: z.number().int().positive().default(500),
    /** Longest line in DATA, in octets without CRLF (RFC 5322 says 998). Default 998. */
    maxLineOctets: z.number().int().positive().default(998),
    /** Idle time before a session is closed with 421. Default 60. */
    idleTimeout: z.number().positive().default(60),
    /** Concurrent connections across all clients. Default 200. */
    maxConnections: z.number().int().positive().default(200),
    /** Concurrent connections from one client IP. Default 50. */
    maxConnectionsPerIp: z.number().int().positive().default(50),
    /** Connectors allowed to relay. Default: loopback only (embedded default). */
    connectors: z
      .array(connectorSchema)
      .min(1)
      .default([{ name: "loopback", ipRanges: ["127.0.0.0/8", "::1/128"] }]),
  })
  .strict();

export const tlsClientSchema = z
  .object({
    /** PEM CA bundle trusted when verifying next hops, added to Node's roots. Default: none. */
    caFile: z.string().optional(),
    /** Oldest TLS version accepted when TLS is required. Default TLSv1.2. */
    minVersion: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2"),
    /** PEM client certificate presented to next hops (M365 inbound connector). Default: none. */
    clientCertFile: z.string().optional(),
    /** PEM key for clientCertFile. */
    clientKeyFile: z.string().optional(),
  })
  .strict();

export const smartHostSchema = z
  .object({
    host: z.string().min(1),
    /** Default 25. */
    port: z.number().int().min(1).max(65535).default(25),
    /** Name the certificate must carry. Default: host. */
    servername: z.string().optional(),
    /** Require STARTTLS even for clean copies (recommended for tenant smart hosts). Default true. */
    requireTls: z.boolean().default(true),
    /** SMTP AUTH user (Google's relay on 587). Password from SEALGATE_SMARTHOST_PASSWORD. */
    user: z.string().optional(),
    password: z.string().optional(),
  })
  .strict();

export const tlsProbeSchema = z
  .object({
    /** Seconds for one MX host's probe (connect, EHLO, STARTTLS, handshake). Default 10. */
    timeout: z.number().positive().default(10),
    /** Seconds a "verified" answer for a domain is kept. Default 3600. */
    cacheTtl: z.number().positive().default(3600),
    /** Seconds a "not verified" answer is kept, shorter so a fixed server is seen. Default 300. */
    negativeCacheTtl: z.number().positive().default(300),
    /** Count TLS as verified only under an MTA-STS policy in enforce mode. Default false. */
    requireMtaSts: z.boolean().default(false),
  })
  .strict();

export const mtaStsSchema = z
  .object({
    /** Look up MTA-STS policies (RFC 8461) for probes and sends in mode mx. Default true. */
    enabled: z.boolean().default(true),
    /** Seconds for the TXT lookup and for the HTTPS policy fetch, each. Default 10. */
    timeout: z.number().positive().default(10),
  })
  .strict();

export const deliverySchema = z
  .object({
    /**
     * outbox: write each copy as an .eml file into `outboxDir` (embedded default);
     * smarthost: relay everything to `smartHost`; mx: look up each recipient domain's MX.
     */
    mode: z.enum(["outbox", "smarthost", "mx"]).default("outbox"),
    /** Default: <dataDir>/outbox. */
    outboxDir: z.string().optional(),
    smartHost: smartHostSchema.optional(),
    /** TCP port used on MX hosts. Default 25 (tests point it elsewhere). */
    mxPort: z.number().int().min(1).max(65535).default(25),
    /** DNS servers as HOST or HOST:PORT. Default: the system resolver. */
    dnsServers: z.array(z.string()).optional(),
    /** Name sent in EHLO. Default: smtp.hostname. */
    heloName: z.string().optional(),
    tls: tlsClientSchema.default({ minVersion: "TLSv1.2" }),
    /** Seconds to wait between attempts; the last value repeats. */
    retrySchedule: z.array(z.number().positive()).min(1).default([60, 300, 900, 1800, 3600, 7200]),
    /** Give up and bounce after this many seconds in the queue. Default 5 days. */
    maxLifetime: z
      .number()
      .positive()
      .default(5 * 24 * 3600),
    /**
     * Seconds a held (quarantined, unparseable, blocked) message keeps its bytes for review;
     * then they are cleared and the message is done (pipeline:hold-expired). Default 30 days.
     */
    holdRetention: z
      .number()
      .positive()
      .default(30 * 24 * 3600),
    /**
     * Messages being scanned plus copies being delivered at once, per node. Each delivery
     * opens its own connection (no reuse yet), so a delivery spends most of its time waiting
     * on the next hop; 50 keeps a busy queue moving. Default 50.
     */
    concurrency: z.number().int().positive().default(50),
    /** Connection and greeting timeout per attempt. Default 30. */
    connectTimeout: z.number().positive().default(30),
    /** From address of DSNs and notices; their envelope sender is always the null sender <>. */
    postmaster: z.string().default("postmaster@localhost"),
    /** Verified-TLS probing of recipient MX hosts (the selector's "tls" method). */
    tlsProbe: tlsProbeSchema.default(tlsProbeSchema.parse({})),
    /** MTA-STS: an enforce policy counts as proof and its MX patterns are honoured. */
    mtaSts: mtaStsSchema.default(mtaStsSchema.parse({})),
  })
  .strict();

export const loopGuardSchema = z
  .object({
    /** Header stamped on every copy that leaves. Default X-Sealgate-Loop. */
    header: z.string().default("X-Sealgate-Loop"),
    /** HMAC secret; SEALGATE_LOOP_SECRET overrides. Default: generated and kept in the data folder. */
    secret: z.string().min(16).optional(),
    /** A stamp older than this many seconds counts for nothing. Default 86400. */
    maxAge: z.number().positive().default(86400),
    /** Times a stamped message may come back before it is refused as a loop. Default 3. */
    maxHops: z.number().int().positive().default(3),
  })
  .strict();

export const dkimSchema = z
  .object({
    domain: z.string().min(1),
    selector: z.string().min(1),
    /** PEM private key (RSA or Ed25519). SEALGATE_DKIM_KEY (PEM text) overrides. */
    privateKeyFile: z.string().optional(),
  })
  .strict();

export const policySchema = z
  .object({
    /** Policy file (rule language). Default: the shipped default policy. */
    file: z.string().optional(),
  })
  .strict();

export const storeSchema = z
  .object({
    /** sqlite (embedded default) or postgres (cluster). */
    kind: z.enum(["sqlite", "postgres"]).default("sqlite"),
    /** PostgreSQL connection string; SEALGATE_DATABASE_URL overrides. */
    url: z.string().optional(),
  })
  .strict();

export const keysSchema = z
  .object({
    /**
     * File holding the key-encryption key (32 bytes, base64) that seals private keys at rest;
     * SEALGATE_KEK (base64) overrides. Default: made once in the data folder (SQLite only:
     * PostgreSQL nodes must share one, so cluster mode requires this or SEALGATE_KEK).
     */
    kekFile: z.string().min(1).optional(),
  })
  .strict();

/** How sensitive copies are protected per recipient (the selector, gateway/secure/select.ts). */
export const secureSchema = z
  .object({
    /**
     * Methods tried per recipient, first that applies wins. Default smime, pgp, tls, portal.
     * Whatever the order, a copy no method can carry is held, never sent in clear.
     */
    order: z
      .array(z.enum(["smime", "pgp", "tls", "portal"]))
      .min(1)
      .default(["smime", "pgp", "tls", "portal"]),
    /** Subject shown outside S/MIME and PGP copies; the real one travels inside. */
    neutralSubject: z.string().min(1).default("Secure message"),
    smime: z
      .object({
        /**
         * PEM bundle of CAs whose recipient certificates are trusted. The organisation's own
         * CA (sealgate certs) is always trusted too. Default: none besides it.
         */
        trustAnchorsFile: z.string().min(1).optional(),
        /** Default aes-256-cbc (every client); aes-256-gcm writes AuthEnvelopedData. */
        contentEncryption: z.enum(["aes-256-cbc", "aes-256-gcm"]).default("aes-256-cbc"),
        /** RSA key transport. Default pkcs1v15 (Outlook, Apple Mail); oaep is stronger. */
        rsaPadding: z.enum(["pkcs1v15", "oaep"]).default("pkcs1v15"),
        /**
         * Sign before encrypting: with the sender's own key (keys import --staff, certs issue
         * --store) when stored, else the organisation's (keys import --org). Default false.
         */
        signWithOrganisation: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    pgp: z
      .object({
        /** Look keys up in the recipient domain's Web Key Directory. Default true. */
        wkd: z.boolean().default(true),
        /** Keyserver lookups (VKS or HKP). Default: off. */
        keyserver: z
          .object({
            enabled: z.boolean().default(false),
            /** Default https://keys.openpgp.org. */
            url: z.string().url().default("https://keys.openpgp.org"),
            /** Default vks (verified addresses); hkp for servers such as Hockeypuck. */
            protocol: z.enum(["vks", "hkp"]).default("vks"),
          })
          .strict()
          .prefault({}),
        /**
         * Seconds each source (WKD, keyserver) may take; one recipient's whole lookup is
         * bounded by their sum plus one second for the key store. Default 10.
         */
        timeout: z.number().positive().default(10),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** The recipient portal (gateway/portal): notices, sign-in limits, lifetime of messages. */
export const portalSchema = z
  .object({
    /** Serve the portal and send recipients without a key there. Default true. */
    enabled: z.boolean().default(true),
    /** Public address of the portal in notice links. Default http://<httpListen>. */
    baseUrl: z.string().url().optional(),
    /** From address of notices and code mail. Default: delivery.postmaster. */
    noticeFrom: z.string().min(3).optional(),
    /** Logo shown in the notice e-mail (an https URL the mail client loads). Default: none. */
    organisationLogoUrl: z.string().url().optional(),
    /** Logo file (PNG, JPEG or SVG) shown on the portal's pages. Default: the name in text. */
    logoFile: z.string().min(1).optional(),
    /** Largest reply upload, all files together, in bytes. Default 25 MiB. */
    maxReplyBytes: z
      .number()
      .int()
      .positive()
      .default(25 * 1024 * 1024),
    /** Days a portal message can be read unless policy says otherwise. Default 30. */
    expiryDays: z.number().int().positive().default(30),
    /** Minutes a one-time code is valid. Default 15. */
    codeTtlMinutes: z.number().int().positive().default(15),
    /** Wrong codes before the address is locked. Default 5. */
    maxCodeAttempts: z.number().int().positive().default(5),
    /** Wrong passwords before the address is locked. Default 5. */
    maxPasswordAttempts: z.number().int().positive().default(5),
    /** Code mails one address can be sent per hour, whoever asks. Default 5. */
    maxCodeMailsPerHour: z.number().int().positive().default(5),
    /** Minutes an address stays locked after too many wrong tries. Default 15. */
    lockMinutes: z.number().int().positive().default(15),
    /** Hours a portal session lasts. Default 12. */
    sessionHours: z.number().positive().default(12),
    /** Send the sender a copy of the notice the recipient got. Default false. */
    copySenderOnNotice: z.boolean().default(false),
    /** Show the original subject in notices and the inbox. Default false (neutral subject). */
    showSubject: z.boolean().default(false),
    /** Minutes between sweeps deleting expired bodies and their keys. Default 60. */
    sweepMinutes: z.number().positive().default(60),
    /**
     * Proxies in front of the HTTP listener whose X-Forwarded-For to believe, so rate limits
     * count each real client: a list of addresses or CIDR ranges, or true (every hop: only
     * when nothing but the proxy can reach the listener). Default false.
     */
    trustProxy: z.union([z.boolean(), z.array(z.string().min(1)).min(1)]).default(false),
    /** PEM certificate and key for the portal's HTTPS. Default: plain HTTP (loopback only). */
    tls: z
      .object({ certFile: z.string().min(1), keyFile: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();

export const configSchema = z
  .object({
    /** Folder for the SQLite file, generated keys and the outbox. Default ./data. */
    dataDir: z.string().default("./data"),
    /** Organisation name used in notices and DSNs. */
    organisation: z.string().default("sealgate"),
    /** Where the HTTP listener (health, API, portal) listens. Default 127.0.0.1:8080. */
    httpListen: hostPort.default("127.0.0.1:8080"),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
    smtp: smtpSchema.default(smtpSchema.parse({})),
    delivery: deliverySchema.default(deliverySchema.parse({})),
    loopGuard: loopGuardSchema.default(loopGuardSchema.parse({})),
    dkim: dkimSchema.optional(),
    policy: policySchema.default(policySchema.parse({})),
    store: storeSchema.default(storeSchema.parse({})),
    keys: keysSchema.default(keysSchema.parse({})),
    secure: secureSchema.default(secureSchema.parse({})),
    portal: portalSchema.default(portalSchema.parse({})),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.delivery.mode === "smarthost" && !cfg.delivery.smartHost) {
      ctx.addIssue({
        code: "custom",
        path: ["delivery", "smartHost"],
        message: "required when delivery.mode is smarthost",
      });
    }
    const httpHost = cfg.httpListen.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
    const loopback = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i.test(httpHost);
    const httpsBase = cfg.portal.baseUrl?.toLowerCase().startsWith("https:") ?? false;
    if (cfg.portal.enabled && !cfg.portal.tls && !loopback && !httpsBase) {
      // Codes, passwords and messages would cross the network in clear.
      ctx.addIssue({
        code: "custom",
        path: ["portal", "baseUrl"],
        message:
          "the portal would serve plain HTTP on a non-loopback httpListen: set portal.tls, " +
          "or portal.baseUrl to the https:// address of the proxy in front of it",
      });
    }
    if (Boolean(cfg.smtp.tlsCertFile) !== Boolean(cfg.smtp.tlsKeyFile)) {
      ctx.addIssue({
        code: "custom",
        path: ["smtp", cfg.smtp.tlsCertFile ? "tlsKeyFile" : "tlsCertFile"],
        message: "tlsCertFile and tlsKeyFile go together",
      });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type ConnectorConfig = z.infer<typeof connectorSchema>;
export type DeliveryConfig = z.infer<typeof deliverySchema>;
export type SmtpConfig = z.infer<typeof smtpSchema>;
export type SecureConfig = z.infer<typeof secureSchema>;
export type PortalConfig = z.infer<typeof portalSchema>;
