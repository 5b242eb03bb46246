/**
 * System: errors that say what to do, through the built binaries as an operator runs them.
 * A KME or hub that is down is named with the command that starts it (and that command works);
 * get-key-pair draws no key while the slave's KME is down; a port held by another program fails
 * `start` at once and names the program; `stop` says what is not running; a hub that cannot bind
 * leaves no state directory; usage errors give the right usage. Ports 19760-19779.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { isPortFree } from "../../src/ports";
import { BIN, eventually, REPO_ROOT, standbysIn, SystemTopology, SYSTEM_TIMEOUT, type CliResult } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

const t = new SystemTopology(19760);
const HUB_BIN = path.join(REPO_ROOT, "packages/dske-hub/dist/server.js");
const CLIENT_BIN = path.join(REPO_ROOT, "packages/dske-client/dist/server.js");

afterAll(async () => {
  await t.cli("stop");
}, SYSTEM_TIMEOUT);

/** Run a program (node script) and collect its exit code and output. */
function run(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: t.dir, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, out: stdout.split("\n").filter((l) => l !== ""), stdout, stderr });
    });
  });
}

/** carol's key counters (issued by its ETSI API, held for slaves). */
async function carolKeys(): Promise<{ issued: number; held: number }> {
  return (await t.status("carol")).keys as { issued: number; held: number };
}

/** The `dske-cli ... start` command of an error message, run as the user would paste it. */
async function runHint(stderr: string): Promise<CliResult> {
  const m = /start it with: (dske-cli [^\n]+ start)$/m.exec(stderr);
  if (m === null) throw new Error(`no start command in: ${stderr}`);
  const words = m[1].split(" ");
  return run([BIN, ...words.slice(1)]);
}

/** A program of another kind holding `port`, started by the test. */
async function holdPort(port: number): Promise<ChildProcess> {
  const holder = spawn(
    process.execPath,
    ["-e", `require("net").createServer().listen(${port}, "127.0.0.1"); setInterval(() => {}, 1000)`, "port-squatter"],
    { stdio: "ignore" },
  );
  await eventually(`port ${port} held`, async () => !(await isPortFree(port)));
  return holder;
}

async function release(holder: ChildProcess, port: number): Promise<void> {
  holder.kill("SIGKILL");
  await eventually(`port ${port} free`, () => isPortFree(port));
}

describe("errors that say what to do", () => {
  it("start of a topology that never ran waits for nothing to be stopped", async () => {
    const r = await t.bin("start");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.out.filter((l) => l.endsWith("to be stopped"))).toEqual([]);
    expect(r.out[0]).toBe("Starting hub hank on port 19760");
  });

  it("get-key-pair with the slave's KME down: names it with its start command, draws no key", async () => {
    expect((await t.bin("--client", "curtis", "stop")).code).toBe(0);
    const before = await carolKeys();
    const r = await t.bin("etsi-qkd", "sam", "sunny", "get-key-pair");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `dske-cli: client curtis (KME of sunny) is not running at 127.0.0.1:19769: ` +
        `start it with: dske-cli --config ${t.configFile} --state-dir ${t.stateDir} --client curtis start\n`,
    );
    expect(r.stderr).not.toContain("unexpected error");
    // The master's KME was not asked for a key.
    expect(r.stdout).not.toContain("Get Key API");
    expect(await carolKeys()).toEqual(before);
  });

  it("a port held by another program: start fails at once naming the program; stop says the node is not running", async () => {
    const holder = await holdPort(19769);
    try {
      // --timeout 600: the failure must not come from waiting out the time limit.
      const r = await t.bin("--timeout", "600", "start");
      expect(r.code).toBe(1);
      expect(r.out.filter((l) => l.includes("to be stopped"))).toEqual([]);
      expect(r.out.filter((l) => l.startsWith("Starting "))).toEqual([]);
      expect(r.stderr).toContain("cannot start: a port of the topology is held by another program:");
      expect(r.stderr).toMatch(
        new RegExp(`client curtis: port 19769 \\(127\\.0\\.0\\.1:19769\\) is in use by pid ${holder.pid} \\(.*port-squatter\\)`),
      );
      expect(r.stderr).toContain("stop that program, or move the topology to free ports");
      // The standby node host bin.ts spawned for this start (standby-host.ts) ends with it.
      await eventually("no standby node host left", () => Promise.resolve(standbysIn(t.dir).length === 0));

      const s = await t.bin("--client", "curtis", "stop");
      expect(s.code).toBe(0);
      expect(s.out).toHaveLength(1);
      expect(s.out[0]).toMatch(
        new RegExp(`^Nothing to stop: client curtis is not running \\(its port 19769 is held by another program: pid ${holder.pid} `),
      );
    } finally {
      await release(holder, 19769);
    }
  });

  it("the printed start command starts the KME; then get-key-pair works", async () => {
    const down = await t.bin("etsi-qkd", "sam", "sunny", "get-key-pair");
    const start = await runHint(down.stderr);
    expect(start.stderr).toBe("");
    expect(start.code).toBe(0);
    expect(start.out).toContain("Client curtis is up (1 of 1)");
    const pair = await t.bin("etsi-qkd", "sam", "sunny", "get-key-pair");
    expect(pair.stderr).toBe("");
    expect(pair.out).toContain("Key values match");
  });

  it("get-status with the master's KME down names it", async () => {
    expect((await t.bin("--client", "carol", "stop")).code).toBe(0);
    const r = await t.bin("etsi-qkd", "sam", "sunny", "get-status");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("dske-cli: client carol (KME of sam) is not running at 127.0.0.1:19765: start it with: dske-cli");
    expect(r.stderr).toContain("--client carol start");
    expect((await runHint(r.stderr)).code).toBe(0);
  });

  it("a management call on a hub that is down names it with its start command", async () => {
    expect((await t.bin("--hub", "hank", "stop")).code).toBe(0);
    const r = await t.bin("psrd", "issue", "hank", "carol");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `dske-cli: hub hank is not running at 127.0.0.1:19760: ` +
        `start it with: dske-cli --config ${t.configFile} --state-dir ${t.stateDir} --hub hank start\n`,
    );
    expect((await runHint(r.stderr)).code).toBe(0);
  });

  it("stop says which nodes are not running, and 'Nothing to stop' when none is", async () => {
    expect((await t.bin("--client", "cindy", "stop")).code).toBe(0);
    const some = await t.bin("--client", "cindy", "--client", "celia", "stop");
    expect(some.code).toBe(0);
    expect(some.out).toEqual([
      "Client cindy is not running",
      "Stopping client celia on port 19766",
      "Waiting for client celia to be stopped",
    ]);
    const all = await t.bin("stop");
    expect(all.code).toBe(0);
    expect(all.out.filter((l) => l.startsWith("Stopping "))).toHaveLength(8);
    expect(all.out.filter((l) => l.endsWith("is not running"))).toEqual(["Client cindy is not running", "Client celia is not running"]);
    const again = await t.bin("stop");
    expect(again.code).toBe(0);
    expect(again.out).toEqual(["Nothing to stop: no node of the topology is running"]);
  });
});

describe("node binaries", () => {
  it("a hub that cannot bind its port fails at once and leaves no state directory", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(19779, "127.0.0.1", r));
    try {
      const stateDir = path.join(mkdtempSync(path.join(tmpdir(), "dske-hub-bind-")), "hank");
      const r = await run([HUB_BIN, "hank", "--port", "19779", "--state-dir", stateDir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("--port 19779 is already in use on 127.0.0.1");
      expect(existsSync(stateDir)).toBe(false);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it("bad client options are named with what is expected, not zod's wording", async () => {
    const r = await run([CLIENT_BIN, "carol", "--hubs", "http://127.0.0.1:19778/hub/hank", "--min-nr-shares", "1", "--port", "70000"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("dske-client: invalid arguments:\n  --port: expected an integer from 0 to 65535, got '70000'\n");
    const e = await run([
      CLIENT_BIN,
      "carol",
      "--hubs",
      "http://127.0.0.1:19778/hub/hank",
      "--min-nr-shares",
      "1",
      "--psrd-delivery",
      "usb",
    ]);
    expect(e.stderr).toContain("--psrd-delivery: expected one of bundle, network, got 'usb'");
    expect(e.stderr + r.stderr).not.toMatch(/Too big|Too small|Invalid option|Invalid input/);
  });
});

describe("node binaries' help", () => {
  it("shows defaults as typed, without quotes", async () => {
    for (const bin of [HUB_BIN, CLIENT_BIN]) {
      const r = await run([bin, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/--host <host>\s+[^\n]*\(default: 127\.0\.0\.1\)/);
      expect(r.stdout).not.toMatch(/default: "/);
    }
  });
});

describe("usage", () => {
  it("etsi-qkd MASTER SLAVE with a misspelt operation gives the right usage and the nearest operation", async () => {
    const r = await t.bin("etsi-qkd", "sam", "sunny", "get-keys");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("dske-cli: etsi-qkd: unknown operation 'get-keys' (did you mean get-key?)");
    expect(r.stderr).toContain(
      "usage: dske-cli etsi-qkd MASTER_SAE SLAVE_SAE get-status|get-key|get-key-with-key-ids|get-key-pair [options]",
    );
    expect(r.stderr).not.toContain("unknown command 'sam'");
    const missing = await t.bin("etsi-qkd", "sam", "sunny");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing operation after 'sam sunny'");
  });

  it("etsi-qkd --help lists the operations as they are typed, SAEs first", async () => {
    const r = await t.bin("etsi-qkd", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s+MASTER_SAE SLAVE_SAE get-key \[options\]\s+invoke/m);
    expect(r.stdout).toMatch(/^\s+MASTER_SAE SLAVE_SAE get-key-with-key-ids KEY_ID\.\.\.\s+invoke/m);
    const op = await t.bin("etsi-qkd", "sam", "sunny", "get-key-with-key-ids", "--help");
    const args = op.out.slice(op.out.indexOf("Arguments:") + 1, op.out.indexOf("Arguments:") + 6).map((l) => l.trim().split(/\s+/)[0]);
    expect(args.filter((a) => /^[A-Z_]+$/.test(a))).toEqual(["MASTER_SAE", "SLAVE_SAE", "KEY_ID"]);
  });

  it("--help shows defaults as typed, without quotes or empty lists", async () => {
    const r = await t.bin("--help");
    expect(r.stdout).toContain("(default: dske-config.yaml)");
    expect(r.stdout).not.toContain('"dske-config.yaml"');
    expect(r.stdout).not.toContain("(default: [])");
    const p = await t.bin("psrd", "issue", "--help");
    expect(p.stdout).toMatch(/--client-owned-bytes <n>\s+usable bytes for the client-owned pool \(default:\s+65536\)/);
  });
});
