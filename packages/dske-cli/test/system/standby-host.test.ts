/**
 * System: the standby node host (standby-host.ts), with the built bin as an operator runs it.
 * `start` spawns the node host before it reads the configuration and hands it the nodes; a start
 * that does not need one (nodes in separate processes) leaves no standby behind (one that fails:
 * operator-errors.test.ts, a port held by another program).
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { spawnStandbyHost, takeStandbyHost, TITLE_ROOM } from "../../src/standby-host";
import { eventually, standbysIn, SystemTopology, SYSTEM_TIMEOUT } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

interface LogLine {
  msg?: string;
  time: string;
  kind?: string;
  standby_host?: boolean;
}

function logLines(t: SystemTopology, node: string): LogLine[] {
  return readFileSync(path.join(t.stateDir, "logs", `${node}.log`), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as LogLine);
}

function startingLines(t: SystemTopology): { standby_host?: boolean }[] {
  return t.topology.nodes.map((n) => {
    const lines = readFileSync(path.join(t.stateDir, "logs", `${n.name}.log`), "utf8")
      .trim()
      .split("\n");
    const starting = lines.map((l) => JSON.parse(l) as { msg?: string; standby_host?: boolean }).filter((l) => l.msg === "starting");
    return starting[starting.length - 1];
  });
}

describe("the standby node host", () => {
  const shared = new SystemTopology(20500);
  afterAll(() => shared.cli("stop"), SYSTEM_TIMEOUT);

  it("start (shared, the default): the standby runs the nodes, shows their names and writes the host log", async () => {
    const r = await shared.bin("start");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(startingLines(shared).every((l) => l.standby_host === true)).toBe(true);
    // The hubs' local distributors start once the host's clients listen: their first reading of
    // each client's PSRD needs finds it (no refused connection, no warning, no backoff).
    const lines = shared.topology.nodes.map((n) => ({ node: n, lines: logLines(shared, n.name) }));
    const lastListening = Math.max(
      ...lines.filter((l) => l.node.kind === "client").map((l) => Date.parse(l.lines.find((x) => x.msg === "listening")?.time ?? "")),
    );
    for (const hub of lines.filter((l) => l.node.kind === "hub")) {
      const started = hub.lines.find((x) => x.msg === "local distributor started");
      expect(started).toBeDefined();
      expect(Date.parse(started?.time ?? "")).toBeGreaterThanOrEqual(lastListening);
      expect(hub.lines.filter((x) => x.msg === "reading the PSRD needs of client failed; retrying")).toEqual([]);
    }
    const hostPid = Number.parseInt(readFileSync(path.join(shared.stateDir, "pids", "hank.pid"), "utf8"), 10);
    const raw = readFileSync(`/proc/${hostPid}/cmdline`, "utf8");
    // Spawned with the room for its title, which now names every node.
    expect(raw.length).toBeGreaterThanOrEqual(TITLE_ROOM);
    const shown = raw.split(/[\0 ]/);
    expect(shared.topology.nodes.every((n) => shown.includes(n.name))).toBe(true);
    expect(shown.some((a) => a.endsWith(path.join("dist", "node-host.js")))).toBe(true);
    expect(standbysIn(shared.dir)).toEqual([]);
    // Its stdout and stderr go to the host log from the handover on (the file exists, empty or not).
    expect(readdirSync(path.join(shared.stateDir, "logs"))).toContain("host-hank.log");
    const s = await shared.bin("status", "--json");
    const docs = JSON.parse(s.stdout) as { name: string; overview: { state: string; pid: number } }[];
    expect(docs.map((d) => [d.name, d.overview.state, d.overview.pid])).toEqual(
      shared.topology.nodes.map((n) => [n.name, "online", hostPid]),
    );
    const stop = await shared.bin("stop");
    expect(stop.code).toBe(0);
    await eventually("the host exits after stop", () => Promise.resolve(!existsPid(hostPid)));
  });

  it("in process (runCli, as an embedding program would): a standby spawned first is the one that runs the nodes", async () => {
    const embedded = new SystemTopology(20530);
    try {
      spawnStandbyHost();
      const r = await embedded.cli("start");
      expect(r.code).toBe(0);
      expect(takeStandbyHost()).toBeUndefined(); // taken by the start
      expect(startingLines(embedded).every((l) => l.standby_host === true)).toBe(true);
      const hostPid = Number.parseInt(readFileSync(path.join(embedded.stateDir, "pids", "hank.pid"), "utf8"), 10);
      expect(readFileSync(`/proc/${hostPid}/cmdline`, "utf8").length).toBeGreaterThanOrEqual(TITLE_ROOM);
      const s = await embedded.cli("status", "--json");
      const docs = JSON.parse(s.stdout) as { overview: { state: string } }[];
      expect(docs.map((d) => d.overview.state)).toEqual(embedded.topology.nodes.map(() => "online"));
    } finally {
      await embedded.cli("stop");
    }
  });

  it("processes: separate in the configuration: the standby is let go, each node runs on its own", async () => {
    const separate = new SystemTopology(20510, { processes: "separate" });
    try {
      const r = await separate.bin("start");
      expect(r.code).toBe(0);
      expect(startingLines(separate).every((l) => l.standby_host === undefined)).toBe(true);
      await eventually("no standby left", () => Promise.resolve(standbysIn(separate.dir).length === 0));
    } finally {
      await separate.cli("stop");
    }
  });
});

function existsPid(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
