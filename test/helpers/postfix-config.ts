import path from "node:path";

/** main.cf and master.cf for a private Postfix instance (see postfix.ts). */

export interface PostfixOptions {
  /** Domain whose mail lands in the Maildir. Default "postfix.test". */
  domain?: string;
  /** Server certificate for STARTTLS. Default: no TLS offered. */
  tls?: { certFile: string; keyFile: string };
  /** Relay everything not for `domain` to this next hop (e.g. sealgate). Default: none. */
  relayHost?: { host: string; port: number };
  /** TLS level towards relayHost: none, may or encrypt. Default "may". */
  relayTls?: "none" | "may" | "encrypt";
  /** CA bundle the smtp client trusts when verifying the relay host. Default: none. */
  relayCaFile?: string;
  /** Extra main.cf settings, applied last. */
  settings?: Record<string, string>;
  /** Port for smtpd. Default: a free one. */
  port?: number;
}

export interface InstancePaths {
  dir: string;
  queueDir: string;
  domain: string;
  /** uid and gid that own the Maildir (the postfix user). */
  uid: number;
  gid: number;
}

export function mainCf(opts: PostfixOptions, p: InstancePaths): string {
  const main: Record<string, string> = {
    compatibility_level: "3.6",
    queue_directory: p.queueDir,
    data_directory: path.join(p.dir, "data"),
    mail_owner: "postfix",
    setgid_group: "postdrop",
    myhostname: "postfix.sealgate.test",
    mydomain: "sealgate.test",
    myorigin: "$myhostname",
    mydestination: "",
    inet_interfaces: "127.0.0.1",
    inet_protocols: "ipv4",
    mynetworks: "127.0.0.0/8",
    smtpd_relay_restrictions: "permit_mynetworks, reject_unauth_destination",
    alias_maps: "",
    alias_database: "",
    local_recipient_maps: "",
    biff: "no",
    // The system resolver knows nothing of test domains; every next hop here is an address.
    disable_dns_lookups: "yes",
    smtp_host_lookup: "native",
    maillog_file: path.join(p.dir, "maillog"),
    maillog_file_prefixes: p.dir,
    virtual_mailbox_domains: p.domain,
    virtual_mailbox_base: path.join(p.dir, "mail"),
    // A trailing slash makes virtual(8) write a Maildir.
    virtual_mailbox_maps: "static:inbox/",
    virtual_uid_maps: `static:${p.uid}`,
    virtual_gid_maps: `static:${p.gid}`,
    // Tests want a deferred message retried quickly, not after the default minutes.
    queue_run_delay: "1s",
    minimal_backoff_time: "1s",
    maximal_backoff_time: "2s",
    smtpd_banner: "$myhostname ESMTP",
  };
  if (opts.tls) {
    main.smtpd_tls_cert_file = opts.tls.certFile;
    main.smtpd_tls_key_file = opts.tls.keyFile;
    main.smtpd_tls_security_level = "may";
  } else {
    main.smtpd_tls_security_level = "none";
  }
  if (opts.relayHost) {
    main.relayhost = `[${opts.relayHost.host}]:${opts.relayHost.port}`;
  }
  main.smtp_tls_security_level = opts.relayTls ?? "may";
  if (opts.relayCaFile) main.smtp_tls_CAfile = opts.relayCaFile;
  Object.assign(main, opts.settings ?? {});

  return (
    Object.entries(main)
      .map(([k, v]) => `${k} = ${v}`)
      .join("\n") + "\n"
  );
}

export function masterCf(port: number): string {
  // chroot is off everywhere: a chrooted daemon would need copies of /etc files in the queue.
  const rows = [
    [`127.0.0.1:${port}`, "inet", "n", "-", "n", "-", "-", "smtpd"],
    ["pickup", "unix", "n", "-", "n", "60", "1", "pickup"],
    ["cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"],
    ["qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"],
    ["tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"],
    ["rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"],
    ["bounce", "unix", "-", "-", "n", "-", "0", "bounce"],
    ["defer", "unix", "-", "-", "n", "-", "0", "bounce"],
    ["trace", "unix", "-", "-", "n", "-", "0", "bounce"],
    ["verify", "unix", "-", "-", "n", "-", "1", "verify"],
    ["flush", "unix", "n", "-", "n", "1000?", "0", "flush"],
    ["proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"],
    ["proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap"],
    ["smtp", "unix", "-", "-", "n", "-", "-", "smtp"],
    ["relay", "unix", "-", "-", "n", "-", "-", "smtp"],
    ["showq", "unix", "n", "-", "n", "-", "-", "showq"],
    ["error", "unix", "-", "-", "n", "-", "-", "error"],
    ["retry", "unix", "-", "-", "n", "-", "-", "error"],
    ["discard", "unix", "-", "-", "n", "-", "-", "discard"],
    ["local", "unix", "-", "n", "n", "-", "-", "local"],
    ["virtual", "unix", "-", "n", "n", "-", "-", "virtual"],
    ["anvil", "unix", "-", "-", "n", "-", "1", "anvil"],
    ["scache", "unix", "-", "-", "n", "-", "1", "scache"],
    ["postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"],
  ];
  return rows.map((r) => r.join("\t")).join("\n") + "\n";
}
