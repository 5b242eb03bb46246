/**
 * System: the status table, crash detection and the restart policy, the way an operator meets
 * them: the default topology started with the built bin; a client killed with -9 shows `crashed`
 * and its stale pid file is cleaned by `start`; with `start --restart on-failure` (limits from
 * `restart:` in the YAML) the supervisor brings a killed client back (restarts 1, online, keys
 * flow), and a client killed again and again is given up after max_restarts and shows `crashed`.
 * Ports 19740-19749.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { readPidFile } from "../../src/pid-file";
import { eventually, keyPair, SystemTopology, SYSTEM_TIMEOUT } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

const t = new SystemTopology(19740, { restart: "{max_restarts: 2, backoff_ms: 200, max_backoff_ms: 1000}" });

afterAll(async () => {
  await t.cli("stop");
}, SYSTEM_TIMEOUT);

interface Row {
  name: string;
  kind: string;
  state: string;
  pid: string;
  restarts: number;
}

/** `dske-cli status` (built bin) as rows, plus its lines. */
async function table(): Promise<{ rows: Map<string, Row>; lines: string[] }> {
  const r = await t.bin("status");
  expect(r.code).toBe(0);
  const lines = r.out;
  expect(lines[0]).toMatch(/^NAME\s+KIND\s+STATE\s+PID\s+UPTIME\s+RSS\s+RESTARTS\s+KEYS\/S\s+PSRD MIN$/);
  const rows = new Map<string, Row>();
  for (const l of lines.slice(1).filter((x) => !x.startsWith(" "))) {
    const [name, kind, state, pid, , , restarts] = l.split(/\s+/);
    rows.set(name, { name, kind, state, pid, restarts: Number(restarts) });
  }
  return { rows, lines };
}

const pidOf = (name: string): number => {
  const pid = readPidFile(path.join(t.stateDir, "pids", `${name}.pid`));
  if (pid === undefined) throw new Error(`no pid file for ${name}`);
  return pid;
};

async function expectKeys(): Promise<void> {
  await eventually("a key pair sam → sunny", async () => {
    const { enc, dec } = await keyPair(t, "sam", "sunny");
    return enc.length === 1 && JSON.stringify(dec.sunny) === JSON.stringify(enc);
  });
}

test("status: one row per node within 100 columns, every node online with its pid, uptime, RSS and PSRD headroom", async () => {
  const start = await t.bin("start");
  expect(start.code).toBe(0);
  expect(start.out.join("\n")).not.toMatch(/Supervisor/); // restart policy `no` by default: no supervisor
  await expectKeys();
  const { rows, lines } = await table();
  expect([...rows.keys()]).toEqual(t.topology.nodes.map((n) => n.name));
  for (const l of lines) expect([l, l.length <= 100]).toEqual([l, true]);
  for (const n of t.topology.nodes) {
    const row = rows.get(n.name);
    expect([n.name, row?.kind, row?.state, row?.pid, row?.restarts]).toEqual([n.name, n.kind, "online", String(pidOf(n.name)), 0]);
  }
  // The same facts in --json: one document, each node's status with an `overview`.
  const json = await t.bin("status", "--json");
  const docs = JSON.parse(json.stdout) as { name: string; running: boolean; overview: Record<string, unknown> }[];
  for (const d of docs) {
    expect(d.running).toBe(true);
    expect(d.overview).toMatchObject({ state: "online", pid: pidOf(d.name), restarts: 0 });
    for (const k of ["rss_bytes", "uptime_s", "psrd_headroom_bytes"])
      expect([d.name, k, typeof d.overview[k]]).toEqual([d.name, k, "number"]);
  }
  // One node: its document itself (as before), with the overview added.
  const one = JSON.parse((await t.bin("--client", "carol", "status", "--json")).stdout) as { name: string; overview: { state: string } };
  expect([one.name, one.overview.state]).toEqual(["carol", "online"]);
});

test("kill -9 without a restart policy: status shows crashed (not stopped); start cleans the stale pid file", async () => {
  const pid = pidOf("carol");
  process.kill(pid, "SIGKILL");
  await eventually("carol shown as crashed", async () => (await table()).rows.get("carol")?.state === "crashed");
  const { lines } = await table();
  expect(lines).toContain(`  carol: crashed: process ${pid} is gone, not stopped by dske-cli (exit status unknown)`);
  const start = await t.bin("--client", "carol", "start");
  expect(start.code).toBe(0);
  expect(start.out[0]).toBe(`Removed stale pid file of client carol: process ${pid} is gone (crashed: exit status unknown)`);
  expect((await table()).rows.get("carol")?.state).toBe("online");
});

test("start --restart on-failure: a client killed with -9 comes back (restarts 1, online) and keys still work", async () => {
  const start = await t.bin("start", "--restart", "on-failure");
  expect(start.code).toBe(0);
  expect(start.out.at(-1)).toMatch(/^Supervisor started \(pid \d+\): crashed nodes are restarted; log: /);
  const pid = pidOf("carol");
  process.kill(pid, "SIGKILL");
  await eventually("carol restarted and online", async () => {
    const row = (await table()).rows.get("carol");
    return row?.state === "online" && row.restarts === 1 && row.pid !== String(pid);
  });
  await expectKeys();
  const log = readFileSync(path.join(t.stateDir, "logs", "supervisor.log"), "utf8")
    .trim()
    .split("\n");
  const events = log.map((l) => JSON.parse(l) as { msg: string; node?: string });
  expect(events.filter((e) => e.node === "carol").map((e) => e.msg)).toEqual(["node crashed: restart scheduled", "node restarted"]);
});

test("a client that keeps crashing is given up after max_restarts (2) and shows crashed with its exit", async () => {
  // Second crash: the supervisor restarted this process, so it knows how it ended.
  const second = pidOf("carol");
  process.kill(second, "SIGKILL");
  await eventually("carol restarted a second time", async () => {
    const row = (await table()).rows.get("carol");
    return row?.state === "online" && row.restarts === 2 && row.pid !== String(second);
  });
  process.kill(pidOf("carol"), "SIGKILL");
  await eventually("carol given up", async () => (await table()).rows.get("carol")?.state === "crashed");
  const { rows, lines } = await table();
  expect(rows.get("carol")?.restarts).toBe(2);
  expect(lines).toContain("  carol: crashed: killed by SIGKILL; gave up after 2 restarts");
  const doc = JSON.parse((await t.bin("--client", "carol", "status", "--json")).stdout) as {
    overview: { state: string; last_exit: { signal: string; known: boolean } };
  };
  expect(doc.overview).toMatchObject({ state: "crashed", last_exit: { signal: "SIGKILL", known: true } });
  // The other nodes were never touched.
  for (const [name, row] of rows) if (name !== "carol") expect([name, row.state, row.restarts]).toEqual([name, "online", 0]);
});

test("stop: every node stopped, the supervisor ends by itself", async () => {
  const stop = await t.bin("stop");
  expect(stop.code).toBe(0);
  const supervisorPid = path.join(t.stateDir, "supervisor", "supervisor.pid");
  await eventually("the supervisor to exit", () => Promise.resolve(readPidFile(supervisorPid) === undefined));
  const { rows } = await table();
  for (const [name, row] of rows) expect([name, row.state]).toEqual([name, "stopped"]);
});
