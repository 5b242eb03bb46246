import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ClientUsageError, parseClientArgs, startClientServer } from "../src/bin/standalone";
import { silentLogger } from "../src/logger";
import { EtsiApi } from "@dske/protocol";

const HUBS = ["http://127.0.0.1:9/hub/hank", "http://127.0.0.1:9/hub/helen", "http://127.0.0.1:9/hub/hilary"];

describe("dske-client arguments", () => {
  test("reference options with defaults", async () => {
    const c = await parseClientArgs(["carol", "--port", "8105", "--hubs", ...HUBS, "--encryptors", "sam"]);
    expect(c).toMatchObject({
      name: "carol",
      port: 8105,
      host: "127.0.0.1",
      hubs: HUBS,
      encryptors: ["sam"],
      startRequestPsrdThreshold: 500,
      stopRequestPsrdThreshold: 2000,
      getPsrdBlockSize: 1000,
      minNrShares: 3,
      stateDir: path.join(".dske", "state", "carol"),
    });
    const d = await parseClientArgs([
      "cindy",
      "--port=0",
      "--hubs",
      ...HUBS,
      "--start-request-psrd_threshold",
      "100",
      "--stop-request-psrd-threshold",
      "300",
      "--get-psrd-block-size",
      "64",
      "--min-nr-shares",
      "2",
      "--state-dir",
      "/tmp/x",
      "--encryptors",
    ]);
    expect(d).toMatchObject({
      encryptors: [],
      startRequestPsrdThreshold: 100,
      stopRequestPsrdThreshold: 300,
      getPsrdBlockSize: 64,
      minNrShares: 2,
    });
  });

  test.each([
    [["carol", "--port", "x", "--hubs", ...HUBS], /--port/],
    [["carol", "--port", "1"], /--hubs/],
    [["carol", "--hubs", "ftp://h/hub/x"], /--hubs/],
    [["carol", "--hubs", ...HUBS, "--min-nr-shares", "4"], /--min-nr-shares/],
    [
      ["carol", "--hubs", ...HUBS, "--start-request-psrd-threshold", "900", "--stop-request-psrd-threshold", "100"],
      /--stop-request-psrd-threshold/,
    ],
    [["bad name", "--hubs", ...HUBS], /NAME/],
    [["carol", "--hubs", ...HUBS, "--kme-directory", "/nonexistent/dir.json"], /--kme-directory/],
    [["carol", "--hubs", ...HUBS, "--bogus"], /unknown option/],
    [["carol", "--hubs", ...HUBS, "--host", "0.0.0.0"], /--host: not a loopback address.*--allow-insecure-bind/],
    [["carol", "--hubs", ...HUBS, "--host", "192.168.1.10"], /--host: not a loopback address/],
  ])("bad arguments %j → a message naming the option", async (argv, re) => {
    await expect(parseClientArgs(argv)).rejects.toThrow(ClientUsageError);
    await expect(parseClientArgs(argv)).rejects.toThrow(re);
  });
});

const TOKEN = "a".repeat(64);

async function writeToken(dir: string, mode = 0o600, content = `${TOKEN}\n`): Promise<string> {
  const file = path.join(dir, "operator-token");
  await fs.writeFile(file, content, { mode });
  await fs.chmod(file, mode);
  return file;
}

describe("management plane options", () => {
  test("loopback hosts need no flag; --allow-insecure-bind admits another one; --operator-token-file is resolved", async () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) {
      expect((await parseClientArgs(["carol", "--hubs", ...HUBS, "--host", host])).host).toBe(host);
    }
    const c = await parseClientArgs([
      "carol",
      "--hubs",
      ...HUBS,
      "--host",
      "0.0.0.0",
      "--allow-insecure-bind",
      "--operator-token-file",
      "tok",
    ]);
    expect(c).toMatchObject({ host: "0.0.0.0", allowInsecureBind: true, operatorTokenFile: path.resolve("tok") });
  });

  test.each([
    ["missing", (dir: string) => Promise.resolve(path.join(dir, "nope")), /--operator-token-file .*nope: cannot read it/],
    ["group/world readable", async (dir: string) => writeToken(dir, 0o644), /readable by group or others \(mode 644\).*chmod 600 /],
    ["empty", async (dir: string) => writeToken(dir, 0o600, "\n"), /the file is empty/],
    ["too short", async (dir: string) => writeToken(dir, 0o600, "abc\n"), /not a usable operator token/],
  ])("a %s token file: start refuses with a message naming the file and the fix", async (_what, make, re) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "dske-client-token-"));
    try {
      const file = await make(dir);
      const config = await parseClientArgs([
        "carol",
        "--port",
        "0",
        "--hubs",
        ...HUBS,
        "--state-dir",
        path.join(dir, "carol"),
        "--operator-token-file",
        file,
      ]);
      const err = await startClientServer(config, { logger: silentLogger }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ClientUsageError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).toContain(file);
      // Refused before anything was created.
      await expect(fs.stat(path.join(dir, "carol"))).rejects.toThrow();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

test("startClientServer: listens, serves ETSI and management (operator token), refuses cross-site and non-JSON stops, stops via mgmt stop", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "dske-client-server-"));
  try {
    await fs.writeFile(path.join(dir, "dir.json"), JSON.stringify({ sam: "carol", sunny: "curtis" }));
    const config = await parseClientArgs([
      "carol",
      "--port",
      "0",
      "--hubs",
      ...HUBS,
      "--encryptors",
      "sam",
      "--state-dir",
      path.join(dir, "carol"),
      "--kme-directory",
      path.join(dir, "dir.json"),
      "--operator-token-file",
      await writeToken(dir),
    ]);
    const running = await startClientServer(config, { logger: silentLogger });
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const api = new EtsiApi(running.url, "sam");
    const st = await api.getStatus("sunny");
    expect(st.target_KME_ID).toBe("curtis");
    api.close();
    const status = `${running.url}/client/carol/mgmt/v1/status`;
    const stop = `${running.url}/client/carol/mgmt/v1/stop`;
    const auth = { Authorization: `Bearer ${TOKEN}` };
    const json = { "Content-Type": "application/json" };
    expect((await fetch(status)).status).toBe(401);
    expect((await fetch(status, { headers: { Authorization: `Bearer ${"b".repeat(64)}` } })).status).toBe(403);
    const ok = await fetch(status, { headers: auth });
    expect(ok.status).toBe(200);
    expect(await ok.json()).not.toHaveProperty("insecure");
    // A cross-site page: text/plain with a foreign Origin, with and without the token: refused, still running.
    const foreign = await fetch(stop, {
      method: "POST",
      headers: { ...auth, Origin: "http://evil.example", "Content-Type": "text/plain" },
      body: "{}",
    });
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ message: "cross-site request refused" });
    const plain = await fetch(stop, { method: "POST", headers: { ...auth, "Content-Type": "text/plain" }, body: "{}" });
    expect(plain.status).toBe(415);
    expect((await fetch(stop, { method: "POST", headers: json, body: "{}" })).status).toBe(401);
    expect((await fetch(`${running.url}/client/carol/health`)).status).toBe(200);
    expect((await fetch(status, { headers: auth })).status).toBe(200); // still running
    // Same origin (the node itself) is fine.
    const res = await fetch(stop, { method: "POST", headers: { ...auth, ...json, Origin: running.url }, body: "{}" });
    expect(res.status).toBe(200);
    await running.stopped;
    await expect(fetch(status)).rejects.toThrow();
    const files = await fs.readdir(path.join(dir, "carol"));
    expect(files).toEqual(expect.arrayContaining(["psrd", "keys.jsonl"]));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
