import { spawn } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { HubApi } from "@dske/protocol";
import { CliUsageError, parseHubArgs, startHubServer } from "../src/bin/standalone";
import { destroyBundleFile, openBundle, readBundleFile } from "@dske/distributor";
import { bytes, clientMirror, decryptShare, encryptShare, installOpened, useTempDir } from "./helpers";
import { childProgram } from "../../../test/support/child-program";

const KEY = "5b0e4c8a-aaaa-4bbb-8ccc-000000000001";
const repoRoot = path.resolve(__dirname, "../../..");

describe("parseHubArgs", () => {
  test("defaults and explicit options", () => {
    const c = parseHubArgs(["hank", "--port", "8100"]);
    expect(c).toMatchObject({ name: "hank", port: 8100, host: "127.0.0.1", shareTimeoutSecs: 60, authSchemes: ["gf128"] });
    expect(c.stateDir).toBe(path.resolve(".dske/state/hank"));
    expect(c.psrdAuditLog).toBe(path.resolve(".dske/state/hank/psrd-audit.jsonl"));
    const d = parseHubArgs([
      "helen",
      "-p",
      "0",
      "--host",
      "::1",
      "--share-timeout-secs",
      "2.5",
      "--state-dir",
      "/tmp/x",
      "--auth-schemes",
      "hmac-sha256",
      "--psrd-audit-log",
      "/tmp/a.jsonl",
    ]);
    expect(d).toMatchObject({
      name: "helen",
      port: 0,
      host: "::1",
      shareTimeoutSecs: 2.5,
      stateDir: "/tmp/x",
      authSchemes: ["hmac-sha256"],
      psrdAuditLog: "/tmp/a.jsonl",
    });
  });

  test.each([
    [["hank"], /--port/],
    [[], /name/],
    [["hank", "--port", "abc"], /invalid --port "abc": give an integer from 0 to 65535/],
    [["hank", "--port", "70000"], /--port/],
    [["hank", "--port", "1", "--share-timeout-secs", "-1"], /--share-timeout-secs "-1": give a positive number/],
    [
      ["hank", "--port", "1", "--auth-schemes", "gf128,rot13"],
      /--auth-schemes "gf128,rot13": give a comma-separated list of gf128, hmac-sha256/,
    ],
    [["bad/name", "--port", "1"], /NAME "bad\/name"/],
    [["hank", "--port", "1", "--bogus"], /unknown option '--bogus'/],
    [["hank", "--port", "1", "--host", "0.0.0.0"], /--host 0\.0\.0\.0 is not a loopback address.*--allow-insecure-bind/],
    [["hank", "--port", "1", "--host", "10.1.2.3"], /--host 10\.1\.2\.3 is not a loopback address/],
  ])("%j → CliUsageError naming the option", (args, message) => {
    let err: unknown;
    try {
      parseHubArgs(args);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CliUsageError);
    expect((err as Error).message).toMatch(message);
  });
});

describe("management plane options", () => {
  const tmp = useTempDir("dske-hub-token-");
  const TOKEN = "c".repeat(64);

  test("--allow-insecure-bind admits a non-loopback --host; --operator-token-file is resolved", () => {
    const c = parseHubArgs(["hank", "--port", "0", "--host", "0.0.0.0", "--allow-insecure-bind", "--operator-token-file", "tok"]);
    expect(c).toMatchObject({ host: "0.0.0.0", allowInsecureBind: true, operatorTokenFile: path.resolve("tok") });
    expect(parseHubArgs(["hank", "--port", "0", "--host", "localhost"])).not.toHaveProperty("allowInsecureBind");
  });

  test.each([
    ["missing", undefined, undefined, /cannot read it/],
    ["group/world readable", 0o644, `${TOKEN}\n`, /readable by group or others \(mode 644\).*chmod 600 /],
    ["empty", 0o600, "", /the file is empty/],
  ])("a %s token file: the hub refuses to start (message names the file and the fix)", async (_what, mode, content, message) => {
    const file = path.join(tmp.path, "operator-token");
    if (content !== undefined) {
      writeFileSync(file, content, { mode });
      chmodSync(file, mode);
    }
    const state = path.join(tmp.path, "state");
    const config = parseHubArgs(["hank", "--port", "0", "--state-dir", state, "--operator-token-file", file]);
    const err = await startHubServer(config, { log: () => undefined }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliUsageError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(file);
    expect(existsSync(state)).toBe(false); // nothing created
  });
});

describe("standalone server with FileStore", () => {
  const tmp = useTempDir("dske-hub-server-");

  test("restart keeps registrations, pools and shares; logs one line per request without secrets", async () => {
    const lines: string[] = [];
    const TOKEN = "e".repeat(64);
    const config = { ...parseHubArgs(["hank", "--port", "0", "--state-dir", tmp.path]), operatorToken: TOKEN };
    let running = await startHubServer(config, { log: (l) => lines.push(l) });
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const carol = await clientMirror("carol", "gf128");
    const curtis = await clientMirror("curtis", "gf128");
    const apis = (url: string) => ({
      carol: new HubApi(`${url}/hub/hank`, { auth: { resolvePeer: () => carol.peerAuth } }),
      curtis: new HubApi(`${url}/hub/hank`, { auth: { resolvePeer: () => curtis.peerAuth } }),
    });
    let a = apis(running.url);
    const delivered: string[] = [];
    const operator = new HubApi(`${running.url}/hub/hank`, { operatorToken: TOKEN });
    for (const [api, mirror, name, sae] of [
      [a.carol, carol, "carol", "sam"],
      [a.curtis, curtis, "curtis", "sunny"],
    ] as const) {
      // The operator issues the first bundle into the hub's outbox; the "courier" carries the file
      // to the client, which installs it, confirms the hub-owned block and registers (signed).
      const issued = await operator.issueBundle({ client_name: name, client_owned_bytes: 4080, hub_owned_bytes: 4080 });
      expect(issued).toMatchObject({ hub_name: "hank", client_name: name, seq: 1, client_owned_bytes: 4080, hub_owned_bytes: 4080 });
      expect(path.dirname(issued.file)).toBe(path.join(tmp.path, "outbox"));
      const opened = openBundle(await readBundleFile(issued.file), { clientName: name, hubName: "hank", expectedSeq: 1 });
      await destroyBundleFile(issued.file);
      for (const b of opened.blocks) delivered.push(Buffer.from(b.data).toString("base64").slice(0, 24));
      const uuids = await installOpened(mirror, opened);
      expect(await api.confirmPsrd({ client_name: name, block_uuids: uuids.hub })).toEqual({ confirmed: 1 });
      await api.registerSigned({ client_name: name, encryptor_names: [sae], auth_scheme: "gf128" });
    }
    operator.close();
    const share = bytes(48, 77);
    const enc = await encryptShare(carol, share);
    await a.carol.postKeyShare({
      master_client_name: "carol",
      master_sae_id: "sam",
      slave_sae_id: "sunny",
      user_key_id: KEY,
      share_index: 2,
      ...enc,
    });
    a.carol.close();
    a.curtis.close();
    await running.stop();
    await running.stop(); // idempotent

    running = await startHubServer(config, { log: (l) => lines.push(l) });
    a = apis(running.url);
    const status = running.hub.status();
    expect(status.peer_clients.map((c) => c.client_name).sort()).toEqual(["carol", "curtis"]);
    expect(status.shares.map((s) => s.key_id)).toEqual([KEY]);
    const got = await a.curtis.getKeyShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY });
    expect(Buffer.from(await decryptShare(curtis, got.encryption_key_allocation, got.encrypted_share_value))).toEqual(Buffer.from(share));
    // Signing keeps working after the restart in both directions (consumed bytes stay consumed).
    const enc2 = await encryptShare(carol, bytes(48, 78));
    await a.carol.postKeyShare({
      master_client_name: "carol",
      master_sae_id: "sam",
      slave_sae_id: "sunny",
      user_key_id: "k2",
      share_index: 2,
      ...enc2,
    });
    a.carol.close();
    a.curtis.close();
    await running.stop();

    expect(lines).toContainEqual(expect.stringMatching(/^PUT \/hub\/hank\/dske\/oob\/v1\/registration 200 \d+\.\dms$/));
    expect(lines).toContainEqual(expect.stringMatching(/^GET \/hub\/hank\/dske\/api\/v1\/key-share 200 \d+\.\dms$/));
    const log = lines.join("\n");
    expect(log).not.toContain("client_name=");
    expect(log).not.toContain(TOKEN);
    for (const d of [...delivered, enc.encrypted_share_value, got.encrypted_share_value]) expect(log).not.toContain(d);
    expect(readFileSync(path.join(tmp.path, "psrd-audit.jsonl"), "utf8").length).toBeGreaterThan(0);
  });

  test("the bin prints its URL, answers, and exits 0 on SIGTERM and on mgmt stop (operator token only)", async () => {
    const TOKEN = "d".repeat(64);
    const tokenFile = path.join(tmp.path, "operator-token");
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const startProcess = async () => {
      const args = [
        childProgram("packages/dske-hub/src/bin/server.ts"),
        "hank",
        "--port",
        "0",
        "--state-dir",
        tmp.path,
        "--operator-token-file",
        tokenFile,
      ];
      const child = spawn(process.execPath, args, {
        cwd: repoRoot,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"listening"/.exec(out);
          if (m) resolve(m[1]);
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      return { child, url, exited, output: () => out };
    };

    const first = await startProcess();
    // Registration without a credential is refused; with the operator token it is accepted.
    const rogue = new HubApi(`${first.url}/hub/hank`);
    await expect(rogue.register({ client_name: "carol", encryptor_names: [], auth_scheme: "gf128" })).rejects.toMatchObject({
      status: 401,
    });
    rogue.close();
    const api = new HubApi(`${first.url}/hub/hank`, { bearerToken: TOKEN });
    expect((await api.register({ client_name: "carol", encryptor_names: [], auth_scheme: "gf128" })).hub_name).toBe("hank");
    api.close();
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/"method":"PUT","path":"\/hub\/hank\/dske\/oob\/v1\/registration","status":401/);
    expect(first.output()).toMatch(/"method":"PUT","path":"\/hub\/hank\/dske\/oob\/v1\/registration","status":200/);
    expect(first.output()).not.toContain(TOKEN);

    const second = await startProcess();
    const anonymous = new HubApi(`${second.url}/hub/hank`);
    await expect(anonymous.status()).rejects.toMatchObject({ status: 401 });
    await expect(anonymous.stop()).rejects.toMatchObject({ status: 401 });
    anonymous.close();
    // A web page's cross-site stop (text/plain, foreign Origin) and a text/plain stop with the token: refused.
    const stop = `${second.url}/hub/hank/mgmt/v1/stop`;
    const auth = { Authorization: `Bearer ${TOKEN}` };
    expect(
      (await fetch(stop, { method: "POST", headers: { Origin: "http://evil.example", "Content-Type": "text/plain" }, body: "{}" })).status,
    ).toBe(403);
    expect((await fetch(stop, { method: "POST", headers: { ...auth, "Content-Type": "text/plain" }, body: "{}" })).status).toBe(415);
    expect((await fetch(`${second.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${second.url}/metrics`, { headers: auth })).status).toBe(200);
    const api2 = new HubApi(`${second.url}/hub/hank`, { operatorToken: TOKEN });
    expect((await api2.status()).peer_clients.map((c) => c.client_name)).toEqual(["carol"]);
    expect(await api2.stop()).toEqual({ message: "hub hank is stopping" });
    api2.close();
    expect(await second.exited).toBe(0);
  });

  test("the bin reports bad options and exits 2", async () => {
    const child = spawn(process.execPath, [childProgram("packages/dske-hub/src/bin/server.ts"), "hank", "--port", "x"], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/dske-hub: invalid --port "x"/);
  });
});
