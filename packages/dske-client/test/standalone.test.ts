import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ClientUsageError, parseClientArgs, startClientServer } from "../src/standalone";
import { silentLogger } from "../src/logger";
import { EtsiApi } from "../src/etsi-api";

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
    expect(d).toMatchObject({ encryptors: [], startRequestPsrdThreshold: 100, stopRequestPsrdThreshold: 300, getPsrdBlockSize: 64, minNrShares: 2 });
  });

  test.each([
    [["carol", "--port", "x", "--hubs", ...HUBS], /--port/],
    [["carol", "--port", "1"], /--hubs/],
    [["carol", "--hubs", "ftp://h/hub/x"], /--hubs/],
    [["carol", "--hubs", ...HUBS, "--min-nr-shares", "4"], /--min-nr-shares/],
    [["carol", "--hubs", ...HUBS, "--start-request-psrd-threshold", "900", "--stop-request-psrd-threshold", "100"], /--stop-request-psrd-threshold/],
    [["bad name", "--hubs", ...HUBS], /NAME/],
    [["carol", "--hubs", ...HUBS, "--kme-directory", "/nonexistent/dir.json"], /--kme-directory/],
    [["carol", "--hubs", ...HUBS, "--bogus"], /unknown option/],
  ])("bad arguments %j → a message naming the option", async (argv, re) => {
    await expect(parseClientArgs(argv as string[])).rejects.toThrow(ClientUsageError);
    await expect(parseClientArgs(argv as string[])).rejects.toThrow(re as RegExp);
  });
});

test("startClientServer: listens, serves ETSI and management, stops via mgmt stop", async () => {
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
    ]);
    const running = await startClientServer(config, { logger: silentLogger });
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const api = new EtsiApi(running.url, "sam");
    const st = await api.getStatus("sunny");
    expect(st.target_KME_ID).toBe("curtis");
    api.close();
    const res = await fetch(`${running.url}/client/carol/mgmt/v1/stop`, { method: "POST" });
    expect(res.status).toBe(200);
    await running.stopped;
    await expect(fetch(`${running.url}/client/carol/mgmt/v1/status`)).rejects.toThrow();
    const files = await fs.readdir(path.join(dir, "carol"));
    expect(files).toEqual(expect.arrayContaining(["psrd", "keys.jsonl"]));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
