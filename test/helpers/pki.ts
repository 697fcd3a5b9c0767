import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** A throwaway certificate authority made with the openssl command, for TLS tests. */
export interface TestCa {
  dir: string;
  certFile: string;
  keyFile: string;
  certPem: string;
}

export interface IssuedCert {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

export function makeTestCa(name = "sealgate test CA"): TestCa {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-ca-"));
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "30",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  const certFile = path.join(dir, "ca.pem");
  return {
    dir,
    certFile,
    keyFile: path.join(dir, "ca.key"),
    certPem: readFileSync(certFile, "utf8"),
  };
}

export interface IssueOptions {
  /** DNS names (and IP addresses, prefixed "IP:") for the subjectAltName. */
  names: string[];
  /** Days valid; negative makes an already expired certificate. Default 30. */
  days?: number;
  /** Extended key usage. Default serverAuth,clientAuth. */
  extendedKeyUsage?: string;
}

let serial = 1;

/** Issues a leaf certificate signed by the CA. The first name becomes the subject CN. */
export function issueCert(ca: TestCa, opts: IssueOptions): IssuedCert {
  const base = `leaf-${process.pid}-${serial++}`;
  const san = opts.names.map((n) => (n.startsWith("IP:") ? n : `DNS:${n}`)).join(",");
  const days = opts.days ?? 30;
  const ext = path.join(ca.dir, `${base}.ext`);
  writeFileSync(
    ext,
    [
      `subjectAltName=${san}`,
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      `extendedKeyUsage=${opts.extendedKeyUsage ?? "serverAuth,clientAuth"}`,
    ].join("\n"),
  );
  const cn = (opts.names[0] ?? "localhost").replace(/^IP:/, "");
  openssl(
    [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      `${base}.key`,
      "-out",
      `${base}.csr`,
    ],
    ca.dir,
  );
  const sign = [
    "x509",
    "-req",
    "-in",
    `${base}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-extfile",
    ext,
    "-out",
    `${base}.pem`,
  ];
  if (days < 0) {
    // OpenSSL 3.0's x509 cannot back-date; `openssl ca` takes explicit start and end dates.
    const end = new Date(Date.now() + days * 86400_000);
    const start = new Date(end.getTime() - 30 * 86400_000);
    const fmt = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
    writeFileSync(path.join(ca.dir, "index.txt"), "", { flag: "a" });
    writeFileSync(path.join(ca.dir, "serial.txt"), `${randomBytes(8).toString("hex")}\n`);
    writeFileSync(
      path.join(ca.dir, "ca.cnf"),
      [
        "[ca]",
        "default_ca=d",
        "[d]",
        "dir=.",
        "database=index.txt",
        "new_certs_dir=.",
        "certificate=ca.pem",
        "private_key=ca.key",
        "default_md=sha256",
        "policy=p",
        "serial=serial.txt",
        "unique_subject=no",
        "[p]",
        "commonName=supplied",
      ].join("\n"),
    );
    openssl(
      [
        "ca",
        "-batch",
        "-notext",
        "-config",
        "ca.cnf",
        "-startdate",
        fmt(start),
        "-enddate",
        fmt(end),
        "-in",
        `${base}.csr`,
        "-extfile",
        ext,
        "-out",
        `${base}.pem`,
      ],
      ca.dir,
    );
  } else {
    sign.push("-days", String(days));
    openssl(sign, ca.dir);
  }
  const certFile = path.join(ca.dir, `${base}.pem`);
  const keyFile = path.join(ca.dir, `${base}.key`);
  return {
    certFile,
    keyFile,
    certPem: readFileSync(certFile, "utf8"),
    keyPem: readFileSync(keyFile, "utf8"),
  };
}

/** A self-signed certificate that no CA vouches for. */
export function selfSigned(names: string[]): IssuedCert {
  const dir = mkdtempSync(path.join(tmpdir(), "sealgate-self-"));
  const san = names.map((n) => (n.startsWith("IP:") ? n : `DNS:${n}`)).join(",");
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "30",
      "-subj",
      `/CN=${names[0]}`,
      "-keyout",
      "self.key",
      "-out",
      "self.pem",
      "-addext",
      `subjectAltName=${san}`,
    ],
    dir,
  );
  const certFile = path.join(dir, "self.pem");
  const keyFile = path.join(dir, "self.key");
  return {
    certFile,
    keyFile,
    certPem: readFileSync(certFile, "utf8"),
    keyPem: readFileSync(keyFile, "utf8"),
  };
}
