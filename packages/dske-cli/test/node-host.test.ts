/**
 * The node host (node-host.ts) in process: hubs started from the command lines dske-cli gives
 * them, one stopped through its management API while the other goes on (its pid file removed),
 * the host ending when the last one stopped, a node that cannot start taking the host down with
 * the reason in its log, and spec files that are not what the host expects.
 * (shared-processes.test.ts drives the same through `dske-cli start --processes shared`.)
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseConfig } from "../src/config";
import { probeNode, requestStop } from "../src/mgmt";
import { distributionPlan, nodeArgs } from "../src/node-command";
import { runNodeHost } from "../src/node-host";
import { readNodeHostSpec, type NodeHostSpec } from "../src/node-host-spec";
import { ensureOperatorToken } from "../src/operator-token";
import { isPortFree } from "../src/ports";
import { StateDir } from "../src/state-dir";
import { Topology } from "../src/topology";

jest.setTimeout(120_000);

const BASE = 20140;

function fixture(hubPorts?: number[]) {
  const dir = mkdtempSync(path.join(tmpdir(), "dske-node-host-"));
  const yaml = `base_port: ${BASE}\nmin_nr_shares: 2\nhubs:\n  - name: h1\n  - name: h2\nclients:\n  - name: c1\n    encryptors:\n      - name: s1\n`;
  const topology = new Topology(parseConfig(yaml, "host.yaml"));
  const state = new StateDir(path.join(dir, "state"));
  state.ensure();
  const token = ensureOperatorToken(state.root).token;
  state.writeKmeDirectory(topology.kmeDirectory());
  state.writeDistributionPlan(distributionPlan(topology, state));
  const hubs = topology.hubs.map((h, i) => ({ ...h, port: hubPorts?.[i] ?? h.port }));
  const spec: NodeHostSpec = {
    nodes: hubs.map((h) => ({ name: h.name, kind: "hub", args: nodeArgs(h, topology, state), pidFile: state.pidFile(h.name) })),
  };
  const specFile = path.join(dir, "spec.json");
  writeFileSync(specFile, JSON.stringify(spec));
  for (const n of spec.nodes) writeFileSync(n.pidFile, `${process.pid}\n`);
  return { dir, state, hubs, token, specFile };
}

const waitFor = async (what: string, check: () => Promise<boolean> | boolean) => {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe("the node host", () => {
  it("runs several nodes; one stopped over its API stops alone; the host ends after the last", async () => {
    const f = fixture();
    const codes: number[] = [];
    await runNodeHost([f.specFile, "h1", "h2"], { exit: (c) => codes.push(c), processHandlers: false });
    const cred = { token: f.token };
    for (const h of f.hubs) expect((await probeNode(h, 5000, cred)).state).toBe("up");
    expect(await requestStop(f.hubs[0], 5000, cred)).toBe(true);
    await waitFor("h1's pid file to be removed", () => !existsSync(f.state.pidFile("h1")));
    await waitFor("h1's port to be free", () => isPortFree(f.hubs[0].port));
    expect((await probeNode(f.hubs[1], 5000, cred)).state).toBe("up");
    expect(existsSync(f.state.pidFile("h2"))).toBe(true);
    expect(codes).toEqual([]);
    expect(await requestStop(f.hubs[1], 5000, cred)).toBe(true);
    await waitFor("the host to end", () => codes.length > 0);
    expect(codes).toEqual([0]);
    const lines = readFileSync(f.state.logFile("h1"), "utf8").trim().split("\n");
    const msgs = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toContain("listening");
    expect(msgs).toContain("stopped; the node host goes on with the others");
  });

  it("a node that cannot start: the others are stopped, the host ends with 1, the reason is in that node's log", async () => {
    // Both hubs on one port: the second cannot bind.
    const f = fixture([BASE + 5, BASE + 5]);
    const codes: number[] = [];
    const stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await runNodeHost([f.specFile, "h1", "h2"], { exit: (c) => codes.push(c), processHandlers: false });
    } finally {
      stderr.mockRestore();
    }
    expect(codes).toEqual([1]);
    expect(await isPortFree(BASE + 5)).toBe(true);
    const logs = ["h1", "h2"].map((n) => readFileSync(f.state.logFile(n), "utf8"));
    const fatal = logs
      .flatMap((t) => t.trim().split("\n"))
      .map((l) => JSON.parse(l) as { level: string | number; msg: string; error?: string })
      .filter((l) => l.msg === "cannot start");
    expect(fatal).toHaveLength(1);
    expect(fatal[0].error).toContain(`--port ${BASE + 5} is already in use`);
    // The hub that started was stopped before its local distributor was due (once the host's
    // clients listen): it never started one.
    expect(logs.join("")).not.toContain("local distributor started");
  });

  it("a spec file that is not JSON, or lacks its nodes: the error names the file and the field", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "dske-node-host-spec-"));
    const bad = path.join(dir, "bad.json");
    writeFileSync(bad, "{nodes:");
    expect(() => readNodeHostSpec(bad)).toThrow(new RegExp(`node host spec ${bad}: .*JSON`));
    const empty = path.join(dir, "empty.json");
    writeFileSync(empty, JSON.stringify({ nodes: [{ name: "h1", kind: "hub", args: [] }] }));
    expect(() => readNodeHostSpec(empty)).toThrow(`node host spec ${empty}: nodes.0.pidFile:`);
  });
});
