/**
 * System: `processes: shared` (issue 16, lean nodes): the default topology in one node host
 * process, driven the way an operator does (the built bin): start, status (one pid, each node's
 * share of the RSS), keys between every pair of clients, one node stopped and started alone,
 * stop of the rest (the host exits), and a kill -9 of the host shown as a crash of every node.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { isNodeProcessAlive } from "../../src/pid-file";
import { isPortFree } from "../../src/ports";
import { eventually, keyPair, SystemTopology, SYSTEM_TIMEOUT } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

const t = new SystemTopology(20100);

afterAll(async () => {
  await t.cli("stop");
}, SYSTEM_TIMEOUT);

interface Overview {
  state: string;
  pid: number | null;
  rss_bytes: number | null;
  process_nodes?: number;
  process_rss_bytes?: number;
}
const overviews = async (): Promise<Map<string, Overview>> => {
  const r = await t.cli("status", "--json");
  expect(r.code).toBe(0);
  const docs = JSON.parse(r.stdout) as { name: string; overview: Overview }[];
  return new Map(docs.map((d) => [d.name, d.overview]));
};
const pidOf = (name: string): number => Number.parseInt(readFileSync(path.join(t.stateDir, "pids", `${name}.pid`), "utf8"), 10);
const names = t.topology.nodes.map((n) => n.name);

describe("processes: shared (one node host for the default topology)", () => {
  let hostPid = 0;

  it("start --processes shared (built bin): every node in one process, each with its own pid file, port and JSON log", async () => {
    const r = await t.bin("start", "--processes", "shared");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const host = r.out.find((l) => l.startsWith("Node host (pid "));
    expect(host).toMatch(/^Node host \(pid \d+\) runs .* in one process$/);
    hostPid = Number(/pid (\d+)/.exec(host ?? "")?.[1]);
    expect(r.out.filter((l) => / is up \(\d+ of 10\)$/.test(l))).toHaveLength(10);
    for (const n of t.topology.nodes) {
      expect(pidOf(n.name)).toBe(hostPid);
      expect(isNodeProcessAlive(hostPid, n.name)).toBe(true);
      expect(await isPortFree(n.port)).toBe(false);
      const lines = readFileSync(path.join(t.stateDir, "logs", `${n.name}.log`), "utf8")
        .trim()
        .split("\n");
      const parsed = lines.map((l) => JSON.parse(l) as { msg?: string; node?: string; host_pid?: number });
      expect(parsed.some((p) => p.msg === "listening" && p.host_pid === hostPid)).toBe(true);
    }
    // The host's command line: the node host script and every node's name.
    const cmdline = readFileSync(`/proc/${hostPid}/cmdline`, "utf8").split(/[\0 ]/);
    expect(cmdline.some((a) => a.endsWith(path.join("dist", "node-host.js")))).toBe(true);
    expect(names.every((n) => cmdline.includes(n))).toBe(true);
  });

  it("status: one process for all, online, each node showing its share of the RSS", async () => {
    const o = await overviews();
    for (const n of names) {
      const v = o.get(n);
      expect(v?.state).toBe("online");
      expect(v?.pid).toBe(hostPid);
      expect(v?.process_nodes).toBe(10);
      expect(v?.rss_bytes).toBeGreaterThan(0);
      // Each row's share times 10 is the process's RSS (as read for that row).
      expect(Math.abs((v?.rss_bytes ?? 0) * 10 - (v?.process_rss_bytes ?? 0))).toBeLessThanOrEqual(10);
    }
    const table = await t.cli("status");
    expect(table.out.some((l) => l.startsWith(`  pid ${hostPid}: one process for 10 nodes, `))).toBe(true);
    // Filtered to one node: still its share of a process of 10 nodes.
    const one = await t.cli("--hub", "hank", "status", "--json");
    const hank = (JSON.parse(one.stdout) as { overview: Overview }).overview;
    expect(hank.process_nodes).toBe(10);
    expect(Math.abs((hank.rss_bytes ?? 0) * 10 - (hank.process_rss_bytes ?? 0))).toBeLessThanOrEqual(10);
  });

  it("/docs, its offline Swagger UI files, /redoc and /openapi.json are served by the hosted nodes (the host is one bundled file)", async () => {
    for (const n of [t.topology.hubs[0], t.topology.clients[0]]) {
      const base = `http://127.0.0.1:${n.port}`;
      const page = await fetch(`${base}/docs`);
      expect(page.status).toBe(200);
      const html = await page.text();
      // The page names its own copies of Swagger UI's files, and each is there.
      const assets = [...html.matchAll(/(?:src|href)="([^"]*\/docs\/assets\/[^"]+)"/g)].map((m) => m[1]);
      expect(assets.some((a) => a.endsWith("swagger-ui-bundle.js"))).toBe(true);
      for (const a of assets) {
        const r = await fetch(`${base}${a}`);
        expect([a, r.status]).toEqual([a, 200]);
        expect((await r.arrayBuffer()).byteLength).toBeGreaterThan(0);
      }
      const bundle = await fetch(`${base}${assets.find((a) => a.endsWith("swagger-ui-bundle.js")) ?? ""}`);
      expect(bundle.headers.get("content-type")).toMatch(/javascript/);
      expect((await bundle.text()).length).toBeGreaterThan(100_000);
      expect((await fetch(`${base}/redoc`)).status).toBe(200);
      const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi?: string };
      expect(doc.openapi).toMatch(/^3\./);
    }
  });

  it("key pairs around every client that hosts an encryptor (each through its own KME)", async () => {
    const saes = t.topology.clients.flatMap((c) => c.encryptors.slice(0, 1));
    expect(saes.length).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < saes.length; i++) {
      const master = saes[i];
      const slave = saes[(i + 1) % saes.length];
      const { enc, dec } = await keyPair(t, master, slave, { number: 2 });
      expect(enc).toHaveLength(2);
      expect(dec[slave].map((k) => k.key)).toEqual(enc.map((k) => k.key));
    }
  });

  it("stop of one hub stops it alone: the host goes on with the others, and keys still flow", async () => {
    const r = await t.cli("--hub", "helen", "stop");
    expect(r.code).toBe(0);
    expect(existsSync(path.join(t.stateDir, "pids", "helen.pid"))).toBe(false);
    expect(await isPortFree(t.topology.hubs[1].port)).toBe(true);
    expect(isNodeProcessAlive(hostPid, "hank")).toBe(true);
    const o = await overviews();
    expect(o.get("helen")?.state).toBe("stopped");
    expect(o.get("hank")?.state).toBe("online");
    expect(o.get("hank")?.process_nodes).toBe(9);
    const [a, b] = t.topology.clients.map((c) => c.encryptors[0]);
    const { enc, dec } = await keyPair(t, a, b);
    expect(dec[b][0].key).toBe(enc[0].key);
    // Started again alone: its own process (one node needs no host), its state kept.
    const s = await t.cli("--hub", "helen", "start", "--processes", "shared");
    expect(s.code).toBe(0);
    expect(pidOf("helen")).not.toBe(hostPid);
    expect((await overviews()).get("helen")?.state).toBe("online");
  });

  it("stop of the rest: every node stops, the host exits, status says stopped (not crashed)", async () => {
    const r = await t.cli("stop");
    expect(r.code).toBe(0);
    await eventually("the node host to exit", () => Promise.resolve(!isNodeProcessAlive(hostPid, "hank")), 60_000);
    const o = await overviews();
    for (const n of names) expect(o.get(n)?.state).toBe("stopped");
  });

  it("kill -9 of the host: every node it ran shows as crashed", async () => {
    const r = await t.cli("start", "--processes", "shared");
    expect(r.code).toBe(0);
    const pid = pidOf("carol");
    expect(names.every((n) => pidOf(n) === pid)).toBe(true);
    process.kill(pid, "SIGKILL");
    await eventually("the node host to be gone", () => Promise.resolve(!isNodeProcessAlive(pid, "carol")), 60_000);
    const o = await overviews();
    for (const n of names) expect(o.get(n)?.state).toBe("crashed");
    // And a start brings them all back in a new host, with their state.
    const again = await t.cli("start", "--processes", "shared");
    expect(again.code).toBe(0);
    const [a, b] = t.topology.clients.map((c) => c.encryptors[0]);
    const { enc, dec } = await keyPair(t, a, b);
    expect(dec[b][0].key).toBe(enc[0].key);
  });

  it("a restart policy with shared processes is refused, naming the fix", async () => {
    const r = await t.cli("start", "--processes", "shared", "--restart", "on-failure");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--processes separate");
  });
});
