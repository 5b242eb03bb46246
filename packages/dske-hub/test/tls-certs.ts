/**
 * Throwaway certificates for TLS tests, made with the openssl command line: a CA and leaf
 * certificates it signs (server certificates with chosen SANs, client certificates with a CN).
 * Everything lives in a temporary directory given by the caller; nothing is reused across runs.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** The files of one certificate (PEM) and their contents. */
export interface TestCertFiles {
  cert: string;
  key: string;
  certPem: Buffer;
  keyPem: Buffer;
}

export interface TestCa extends TestCertFiles {
  /** Issue a leaf: `sans` like `IP:127.0.0.1`, `DNS:localhost` (server) and/or a client CN. */
  issue(name: string, options?: { cn?: string; sans?: readonly string[] }): TestCertFiles;
}

function openssl(args: readonly string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function files(dir: string, name: string): TestCertFiles {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  return {
    cert,
    key,
    get certPem() {
      return readFileSync(cert);
    },
    get keyPem() {
      return readFileSync(key);
    },
  };
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** A new CA (P-256) named `name` in `dir`. */
export function makeTestCa(dir: string, name = "test-ca"): TestCa {
  const ca = files(dir, name);
  openssl([
    "req",
    "-x509",
    "-new",
    ...EC,
    "-keyout",
    ca.key,
    "-out",
    ca.cert,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return Object.assign(ca, {
    issue(leafName: string, options: { cn?: string; sans?: readonly string[] } = {}): TestCertFiles {
      const leaf = files(dir, `${name}-${leafName}`);
      const csr = path.join(dir, `${name}-${leafName}.csr`);
      const ext = path.join(dir, `${name}-${leafName}.ext`);
      openssl(["req", "-new", ...EC, "-keyout", leaf.key, "-out", csr, "-subj", `/CN=${options.cn ?? leafName}`]);
      const sans = options.sans ?? [];
      writeFileSync(
        ext,
        [
          "basicConstraints=CA:FALSE",
          "extendedKeyUsage=serverAuth,clientAuth",
          ...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []),
        ].join("\n") + "\n",
      );
      openssl([
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca.cert,
        "-CAkey",
        ca.key,
        "-set_serial",
        `0x${randomBytes(8).toString("hex")}`,
        "-days",
        "2",
        "-extfile",
        ext,
        "-out",
        leaf.cert,
      ]);
      return leaf;
    },
  });
}

/** The SANs of a server reached at 127.0.0.1 / localhost. */
export const LOOPBACK_SANS = ["IP:127.0.0.1", "DNS:localhost"] as const;
