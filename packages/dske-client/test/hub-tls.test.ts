/**
 * Clients and hubs over HTTPS, as real processes (the `dske-hub` and `dske-client` bins from their
 * sources): two hubs serving HTTPS (`--tls-cert/--tls-key/--tls-ca`) with their local
 * distributors, carol (ETSI over mutual TLS, so the distributors present the operator
 * certificate: `--distributor-tls-*`) and curtis (plain HTTP on loopback), both verifying the hubs
 * with `--hub-ca`. Also the client's command line: `--hub-ca` errors, and a plain `http://` hub
 * URL off loopback refused without `--allow-insecure-bind` (flagged in status when allowed).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { capturingLogger, EtsiApi } from "@dske/protocol";
import { ClientUsageError, parseClientArgs, startClientServer } from "../src/bin/standalone";
import { LOOPBACK_SANS, makeTestCa, type TestCa } from "../../dske-hub/test/tls-certs";
import { waitFor } from "./harness";
import { childProgram } from "../../../test/support/child-program";

const repoRoot = path.resolve(__dirname, "../../..");
const TOKEN = "c".repeat(64);
const dir = mkdtempSync(path.join(tmpdir(), "dske-client-hub-tls-"));
const tokenFile = path.join(dir, "operator-token");
const children: ChildProcess[] = [];
const apis: EtsiApi[] = [];
let ca: TestCa;

beforeAll(() => {
  ca = makeTestCa(dir, "topology-ca");
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
});

afterAll(() => {
  for (const a of apis) a.close();
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** A port free right now (the distribution plans name the clients' URLs before they start). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once("error", reject);
  });
}

/** Spawn a bin from its sources; resolves with the URL it prints once listening. */
function run(bin: "dske-hub" | "dske-client", args: readonly string[]): Promise<{ url: string; output: () => string }> {
  const child = spawn(process.execPath, [childProgram(`packages/${bin}/src/bin/server.ts`), ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(https?:\/\/[^"]+)","msg":"listening"/.exec(out);
      if (m) resolve({ url: m[1], output: () => out });
    });
    child.once("exit", (code) => reject(new Error(`${bin} exited ${code}: ${out}`)));
  });
}

describe("hubs on HTTPS, clients verifying them with --hub-ca (real processes)", () => {
  test("a key pair is established; the status shows every hub over TLS; the distributors deliver PSRD to an HTTPS client", async () => {
    const operator = ca.issue("operator", { cn: "dske-operator" });
    const sam = ca.issue("sam", { cn: "sam" });
    const carolCert = ca.issue("carol", { sans: LOOPBACK_SANS });
    const [carolPort, curtisPort] = [await freePort(), await freePort()];
    const clientUrl = (scheme: string, port: number, name: string) => `${scheme}://127.0.0.1:${port}/client/${name}`;
    const plan = path.join(dir, "plan.json");
    writeFileSync(
      plan,
      JSON.stringify({
        clients: [
          { name: "carol", url: clientUrl("https", carolPort, "carol"), inbox: path.join(dir, "carol", "inbox") },
          { name: "curtis", url: clientUrl("http", curtisPort, "curtis"), inbox: path.join(dir, "curtis", "inbox") },
        ],
      }),
    );
    const hubUrls: string[] = [];
    for (const name of ["hank", "helen"]) {
      const cert = ca.issue(name, { sans: LOOPBACK_SANS });
      const hub = await run("dske-hub", [
        name,
        "--port",
        "0",
        "--state-dir",
        path.join(dir, name),
        "--operator-token-file",
        tokenFile,
        "--tls-cert",
        cert.cert,
        "--tls-key",
        cert.key,
        "--tls-ca",
        ca.cert,
        "--distribution-plan",
        plan,
        "--distributor-tls-ca",
        ca.cert,
        "--distributor-tls-cert",
        operator.cert,
        "--distributor-tls-key",
        operator.key,
      ]);
      expect(hub.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      hubUrls.push(`${hub.url}/hub/${name}`);
    }
    const directory = path.join(dir, "kme-directory.json");
    writeFileSync(directory, JSON.stringify({ sam: "carol", sunny: "curtis" }));
    const common = ["--hubs", ...hubUrls, "--hub-ca", ca.cert, "--min-nr-shares", "2", "--kme-directory", directory];
    const carol = await run("dske-client", [
      "carol",
      "--port",
      String(carolPort),
      "--state-dir",
      path.join(dir, "carol"),
      "--encryptors",
      "sam",
      "--tls-cert",
      carolCert.cert,
      "--tls-key",
      carolCert.key,
      "--tls-ca",
      ca.cert,
      "--operator-token-file",
      tokenFile,
      ...common,
    ]);
    const curtis = await run("dske-client", [
      "curtis",
      "--port",
      String(curtisPort),
      "--state-dir",
      path.join(dir, "curtis"),
      "--encryptors",
      "sunny",
      "--operator-token-file",
      tokenFile,
      ...common,
    ]);
    const status = async (name: string, port: number, scheme: string) => {
      const res = await fetch(`${clientUrl(scheme, port, name)}/mgmt/v1/status`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      return (await res.json()) as { peer_hubs: { url: string; tls: boolean; registered: boolean }[]; insecure?: boolean };
    };
    // Registered with both hubs once their distributors delivered the first bundles (curtis: plain HTTP status).
    await waitFor(
      async () => (await status("curtis", curtisPort, "http")).peer_hubs.every((h) => h.registered),
      90_000,
      "curtis registered",
    );
    const curtisStatus = await status("curtis", curtisPort, "http");
    expect(curtisStatus.peer_hubs.map((h) => [h.url, h.tls])).toEqual(hubUrls.map((u) => [u, true]));
    expect(curtisStatus.insecure).toBeUndefined();

    const samApi = new EtsiApi(carol.url, "sam", { tls: { ca: ca.certPem, cert: sam.certPem, key: sam.keyPem } });
    const sunnyApi = new EtsiApi(curtis.url, "sunny");
    apis.push(samApi, sunnyApi);
    // carol registers too once its bundles arrived over HTTPS with the operator certificate; then keys flow.
    let got: Awaited<ReturnType<EtsiApi["getKey"]>> | undefined;
    await waitFor(
      async () => {
        got = await samApi.getKey("sunny").catch(() => undefined);
        return got !== undefined;
      },
      90_000,
      "a key from carol",
    );
    const id = got?.keys[0].key_ID ?? "";
    const back = await sunnyApi.getKeyWithKeyId("sam", id);
    expect(back.keys).toEqual(got?.keys);
    expect(carol.output()).not.toMatch(/TLS verification of the hub failed/);
  });
});

describe("client command line: --hub-ca and plain hub URLs off loopback", () => {
  test.each([
    [["--hub-ca", path.join(dir, "missing.pem")], /--hub-ca .*missing\.pem: cannot read \(ENOENT\); give the path/],
    [["--hub-ca", tokenFile], /--hub-ca .*: not a PEM CA certificate/],
  ])("%j → refused naming the option", async (extra, re) => {
    const argv = ["carol", "--hubs", "https://127.0.0.1:9/hub/hank", "--min-nr-shares", "1", ...extra];
    await expect(parseClientArgs(argv)).rejects.toThrow(ClientUsageError);
    await expect(parseClientArgs(argv)).rejects.toThrow(re);
  });

  test("a leaf certificate as --hub-ca is refused; the CA is read", async () => {
    const leaf = ca.issue("leaf", { sans: LOOPBACK_SANS });
    await expect(
      parseClientArgs(["carol", "--hubs", "https://h.example/hub/hank", "--min-nr-shares", "1", "--hub-ca", leaf.cert]),
    ).rejects.toThrow(/--hub-ca .*: not a PEM CA certificate.*CA:FALSE/);
    const c = await parseClientArgs(["carol", "--hubs", "https://h.example/hub/hank", "--min-nr-shares", "1", "--hub-ca", ca.cert]);
    expect(c.hubCa).toEqual({ file: ca.cert, ca: ca.certPem });
  });

  const REMOTE_PLAIN = "http://192.0.2.1:8100/hub/hank";
  test("a plain http:// hub URL off loopback is refused without --allow-insecure-bind", async () => {
    const argv = ["carol", "--hubs", "http://127.0.0.1:8101/hub/helen", REMOTE_PLAIN, "--min-nr-shares", "2"];
    await expect(parseClientArgs(argv)).rejects.toThrow(
      /--hubs: http:\/\/192\.0\.2\.1:8100\/hub\/hank: plain HTTP to a hub that is not on loopback.*https:\/\/ URL \(and --hub-ca CA_FILE.*--allow-insecure-bind/,
    );
    // Library use of the parsed config is refused the same way at start, before the state dir exists.
    const config = await parseClientArgs(["carol", "--hubs", "http://127.0.0.1:8101/hub/helen", "--min-nr-shares", "1"]);
    const stateDir = path.join(dir, "refused-carol");
    await expect(startClientServer({ ...config, hubs: [REMOTE_PLAIN], stateDir })).rejects.toThrow(/--hubs http:\/\/192\.0\.2\.1:8100/);
    expect(existsSync(stateDir)).toBe(false);
  });

  test("with --allow-insecure-bind it starts, warns, and the status says insecure (the hub at 192.0.2.1 is never contacted before a bundle)", async () => {
    const argv = ["carol", "--port", "0", "--hubs", REMOTE_PLAIN, "--min-nr-shares", "1", "--allow-insecure-bind"];
    const config = { ...(await parseClientArgs(argv)), stateDir: path.join(dir, "insecure-carol"), operatorToken: TOKEN };
    const logger = capturingLogger();
    const running = await startClientServer(config, { logger });
    try {
      expect(logger.lines).toContainEqual({
        level: "warn",
        message: "INSECURE: hub over plain HTTP off loopback (--allow-insecure-bind): registration and shares cross the network in clear",
        fields: { hub: "hank", url: REMOTE_PLAIN },
      });
      const res = await fetch(`${running.url}/client/carol/mgmt/v1/status`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      const status = (await res.json()) as { insecure?: boolean; peer_hubs: { url: string; tls: boolean; insecure?: boolean }[] };
      expect(status.insecure).toBe(true);
      expect(status.peer_hubs).toEqual([expect.objectContaining({ url: REMOTE_PLAIN, tls: false, insecure: true })]);
    } finally {
      await running.stop();
    }
  });
});
