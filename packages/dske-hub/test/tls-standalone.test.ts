/**
 * The standalone hub over HTTPS, as real processes (the `dske-hub` bin from its sources):
 * `--tls-cert/--tls-key` serve TLS 1.2+, `--tls-ca` admits the operator certificate on the
 * management routes beside the operator token, bad TLS options are refused at start naming the
 * option and the fix, without creating the state directory. Certificates: a throwaway CA made
 * with openssl (tls-certs.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { HubApi, HubApiError } from "@dske/protocol";
import { parseHubArgs } from "../src/bin/standalone";
import { LOOPBACK_SANS, makeTestCa, type TestCa, type TestCertFiles } from "./tls-certs";
import { childProgram } from "../../../test/support/child-program";

const repoRoot = path.resolve(__dirname, "../../..");
const TOKEN = "f".repeat(64);

let dir: string;
let ca: TestCa;
let other: TestCa;
let hank: TestCertFiles;
let operator: TestCertFiles;
let sam: TestCertFiles;
let strangerOperator: TestCertFiles;
let tokenFile: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "dske-hub-tls-"));
  ca = makeTestCa(dir, "topology-ca");
  other = makeTestCa(dir, "other-ca");
  hank = ca.issue("hank", { sans: LOOPBACK_SANS });
  operator = ca.issue("operator", { cn: "dske-operator" });
  sam = ca.issue("sam", { cn: "sam" });
  strangerOperator = other.issue("operator", { cn: "dske-operator" });
  tokenFile = path.join(dir, "operator-token");
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

interface HubProcess {
  url: string;
  exited: Promise<number | null>;
  stderr: () => string;
}

/** Run the hub bin; resolves with its URL once it listens, or with its exit code and stderr if it exits first. */
function runHub(args: readonly string[]): Promise<HubProcess | { code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [childProgram("packages/dske-hub/src/bin/server.ts"), ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(https?:\/\/127\.0\.0\.1:\d+)","msg":"listening"/.exec(out);
      if (m) resolve({ url: m[1], exited, stderr: () => err });
    });
    void exited.then((code) => resolve({ code, stderr: err }));
  });
}

async function startHub(args: readonly string[]): Promise<HubProcess> {
  const r = await runHub(args);
  if (!("url" in r)) throw new Error(`hub exited ${r.code}: ${r.stderr}`);
  return r;
}

const tlsArgs = (withCa: boolean) => ["--tls-cert", hank.cert, "--tls-key", hank.key, ...(withCa ? ["--tls-ca", ca.cert] : [])];

/** One GET over HTTPS with `options` (CA, client certificate, TLS versions); status, or the error code and message. */
function get(url: string, options: https.RequestOptions): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.request(url, { ...options, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", (err: NodeJS.ErrnoException) => resolve(`${err.code ?? ""} ${err.message}`));
    req.end();
  });
}

describe("the hub served over HTTPS", () => {
  test("--tls-cert/--tls-key/--tls-ca: HTTPS only, TLS 1.2+; management with the operator certificate or the operator token", async () => {
    const hub = await startHub([
      "hank",
      "--port",
      "0",
      "--state-dir",
      path.join(dir, "hank"),
      "--operator-token-file",
      tokenFile,
      ...tlsArgs(true),
    ]);
    expect(hub.url).toMatch(/^https:\/\//);
    const base = `${hub.url}/hub/hank`;
    // Verified against the topology CA: health answers; TLS 1.1 and a client trusting another CA are refused.
    expect(await get(`${hub.url}/health`, { ca: ca.certPem })).toBe(200);
    expect(await get(`${hub.url}/health`, { ca: ca.certPem, maxVersion: "TLSv1.2" })).toBe(200);
    // A client offering TLS 1.1 at most (and willing to: security level 0) gets the hub's protocol-version alert.
    expect(
      await get(`${hub.url}/health`, { ca: ca.certPem, maxVersion: "TLSv1.1", minVersion: "TLSv1", ciphers: "DEFAULT@SECLEVEL=0" }),
    ).toMatch(/alert protocol version/);
    expect(await get(`${hub.url}/health`, { ca: other.certPem })).toMatch(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN) /);
    // Plain HTTP on the TLS port gets no hub answer.
    await expect(fetch(`${hub.url.replace("https:", "http:")}/health`)).rejects.toThrow();

    const status = async (tls: https.AgentOptions, token?: string): Promise<string | number> => {
      const api = new HubApi(base, { tls, ...(token ? { operatorToken: token } : {}) });
      try {
        return (await api.status()).name;
      } catch (e) {
        return e instanceof HubApiError ? e.status : String(e);
      } finally {
        api.close();
      }
    };
    expect(await status({ ca: ca.certPem, cert: operator.certPem, key: operator.keyPem })).toBe("hank");
    expect(await status({ ca: ca.certPem }, TOKEN)).toBe("hank");
    expect(await status({ ca: ca.certPem })).toBe(401);
    // Another client certificate of the CA (an SAE's) is not the operator's; the operator CN from another CA does not verify.
    expect(await status({ ca: ca.certPem, cert: sam.certPem, key: sam.keyPem })).toBe(403);
    expect(await status({ ca: ca.certPem, cert: strangerOperator.certPem, key: strangerOperator.keyPem })).toBe(401);
    // Metrics at the root: the operator certificate too.
    expect(await get(`${hub.url}/metrics`, { ca: ca.certPem, cert: operator.certPem, key: operator.keyPem })).toBe(200);
    expect(await get(`${hub.url}/metrics`, { ca: ca.certPem })).toBe(401);

    const stop = new HubApi(base, { tls: { ca: ca.certPem, cert: operator.certPem, key: operator.keyPem } });
    expect(await stop.stop()).toEqual({ message: "hub hank is stopping" });
    stop.close();
    expect(await hub.exited).toBe(0);
  });

  test("without --tls-ca the operator certificate is not asked for: the operator token only", async () => {
    const hub = await startHub([
      "hank",
      "--port",
      "0",
      "--state-dir",
      path.join(dir, "hank-noca"),
      "--operator-token-file",
      tokenFile,
      ...tlsArgs(false),
    ]);
    const base = `${hub.url}/hub/hank`;
    const withCert = new HubApi(base, { tls: { ca: ca.certPem, cert: operator.certPem, key: operator.keyPem } });
    await expect(withCert.status()).rejects.toMatchObject({ status: 401 });
    withCert.close();
    const api = new HubApi(base, { tls: { ca: ca.certPem }, operatorToken: TOKEN });
    expect((await api.status()).name).toBe("hank");
    await api.stop();
    api.close();
    expect(await hub.exited).toBe(0);
  });

  test("a non-loopback --host needs no --allow-insecure-bind with TLS; without TLS it still does", () => {
    expect(parseHubArgs(["hank", "--port", "0", "--host", "0.0.0.0", ...tlsArgs(true)])).toMatchObject({
      host: "0.0.0.0",
      tls: { cert: hank.cert, key: hank.key, ca: ca.cert },
    });
    expect(() => parseHubArgs(["hank", "--port", "0", "--host", "0.0.0.0"])).toThrow(
      /--host 0\.0\.0\.0 is not a loopback address: without --tls-cert .*serve HTTPS \(--tls-cert FILE --tls-key FILE.*--allow-insecure-bind/,
    );
  });

  const missing = () => path.join(dir, "no-such.pem");
  test.each([
    ["--tls-cert without --tls-key", () => ["--tls-cert", hank.cert], /--tls-cert needs --tls-key: give both/, 2],
    ["--tls-key without --tls-cert", () => ["--tls-key", hank.key], /--tls-key needs --tls-cert: give both/, 2],
    ["--tls-ca without a certificate", () => ["--tls-ca", ca.cert], /--tls-ca needs --tls-cert and --tls-key/, 2],
    [
      "a missing certificate file",
      () => ["--tls-cert", missing(), "--tls-key", hank.key],
      /--tls-cert .*no-such\.pem: cannot read \(ENOENT\); give the path/,
      1,
    ],
    ["a key that is not a key", () => ["--tls-cert", hank.cert, "--tls-key", hank.cert], /--tls-key .*: not a PEM private key/, 1],
    [
      "the key of another certificate",
      () => ["--tls-cert", hank.cert, "--tls-key", operator.key],
      /--tls-key .*: does not belong to the certificate in --tls-cert .*; give the key issued with it/,
      1,
    ],
    [
      "a certificate file that is not PEM",
      () => ["--tls-cert", tokenFile, "--tls-key", hank.key],
      /--tls-cert .*: not a PEM certificate/,
      1,
    ],
    [
      "a --tls-ca that is not a CA",
      () => [...tlsArgs(false), "--tls-ca", hank.cert],
      /--tls-ca .*: not a PEM CA certificate.*give the topology CA/,
      1,
    ],
  ])("%s: refused at start naming the option and the fix, no state directory", async (_what, extra, re, exitCode) => {
    const stateDir = path.join(dir, `refused-${Math.random().toString(36).slice(2)}`);
    const r = await runHub(["hank", "--port", "0", "--state-dir", stateDir, ...extra()]);
    expect("code" in r && r.code).toBe(exitCode);
    expect("stderr" in r && typeof r.stderr === "string" ? r.stderr : "").toMatch(re);
    expect(existsSync(stateDir)).toBe(false);
  });
});
