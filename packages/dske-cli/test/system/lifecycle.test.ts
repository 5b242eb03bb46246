/**
 * System: start/stop/status of the default topology through the CLI (the built bin and
 * in-process), filters, restart of single nodes with their state intact.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { isPortFree } from "../../src/ports";
import { eventually, keyPair, SystemTopology, SYSTEM_TIMEOUT, UUID_RE, type EtsiKey } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

// processes: separate: the reference's way, one process per node (shared-processes.test.ts covers the default).
const t = new SystemTopology(18100, { processes: "separate" });
const ports = Array.from({ length: 10 }, (_, i) => 18100 + i);

afterAll(async () => {
  await t.cli("stop");
}, SYSTEM_TIMEOUT);

describe("the default topology through dske-cli", () => {
  it("start (built bin): the reference's progress lines, one process per node, pid and log files", async () => {
    const r = await t.bin("start");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // No "Waiting for all nodes to be stopped": no node of this topology ever ran.
    expect(r.out.slice(0, 11)).toEqual([
      "Starting hub hank on port 18100",
      "Starting hub helen on port 18101",
      "Starting hub hilary on port 18102",
      "Starting hub holly on port 18103",
      "Starting hub hugo on port 18104",
      "Starting client carol on port 18105",
      "Starting client celia on port 18106",
      "Starting client cindy on port 18107",
      "Starting client connie on port 18108",
      "Starting client curtis on port 18109",
      "Waiting for all nodes to be started",
    ]);
    // Progress while waiting: "Hub hank is up (1 of 10)" ... one line per node, counting up.
    const progress = r.out.slice(11).filter((l) => !l.startsWith("Still waiting for "));
    expect(progress).toHaveLength(10);
    expect(progress.map((l) => /^(?:Hub|Client) (\S+) is up \((\d+) of 10\)$/.exec(l)?.[2])).toEqual([
      "1",
      "2",
      "3",
      "4",
      "5",
      "6",
      "7",
      "8",
      "9",
      "10",
    ]);
    expect(progress.map((l) => l.split(" ")[1]).sort()).toEqual(t.topology.nodes.map((n) => n.name).sort());
    for (const n of t.topology.nodes) {
      expect(existsSync(path.join(t.stateDir, "pids", `${n.name}.pid`))).toBe(true);
      expect(existsSync(path.join(t.stateDir, "logs", `${n.name}.log`))).toBe(true);
      expect(await isPortFree(n.port)).toBe(false);
    }
  });

  it("status --verbose: a readable summary per node; clients registered with every hub", async () => {
    const r = await t.cli("status", "--verbose");
    expect(r.code).toBe(0);
    for (const n of t.topology.nodes) {
      expect(r.out).toContain(`${n.kind === "hub" ? "Hub" : "Client"} ${n.name} on port ${n.port}: running`);
    }
    expect(r.out.filter((l) => l === "  peer hubs: 5 of 5 registered")).toHaveLength(5);
    expect(r.out.filter((l) => l === "  peer clients: 5")).toHaveLength(5);
  });

  it("status --json with filters: one node's document itself, or an array; --reference: the reference's lines", async () => {
    const r = await t.cli("--client", "carol", "status", "--json");
    const s = JSON.parse(r.stdout) as { name: string; peer_hubs: { hub_name: string; registered: boolean }[] };
    expect(s.name).toBe("carol");
    expect(s.peer_hubs.map((h) => h.hub_name).sort()).toEqual(["hank", "helen", "hilary", "holly", "hugo"]);
    const two = await t.cli("--hub", "hank", "--client", "cindy", "status", "--json");
    const docs = JSON.parse(two.stdout) as { name: string; kind: string; running: boolean }[];
    expect(docs.map((d) => [d.name, d.kind, d.running])).toEqual([
      ["hank", "hub", true],
      ["cindy", "client", true],
    ]);
    const ref = await t.cli("--hub", "hank", "--client", "cindy", "status", "--reference");
    expect(ref.out.filter((l) => l.startsWith("Status for "))).toEqual([
      "Status for hub hank on port 18100",
      "Status for client cindy on port 18107",
    ]);
    // Never any PSRD or share bytes in status: no base64 "data"/"value" members.
    for (const out of [two.stdout, ref.stdout]) expect(out).not.toMatch(/"(data|encrypted_share_value|share_value|key)"\s*:/);
  });

  it("filters: unknown names are rejected, naming them", async () => {
    const r = await t.cli("--client", "corrie", "--hub", "harry", "stop");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown client 'corrie', hub 'harry'");
    const s = await t.cli("status", "--verbose");
    expect(s.out.filter((l) => l.endsWith(": running"))).toHaveLength(10);
  });

  it("start while running is a no-op with a message", async () => {
    const r = await t.cli("--client", "carol", "--hub", "hank", "start");
    expect(r.code).toBe(0);
    expect(r.out).toEqual(["Hub hank is already running on port 18100", "Client carol is already running on port 18105"]);
  });

  it("restart of a hub: a key whose shares were posted before can still be fetched after it", async () => {
    // Get a key on the master; its shares are now on all five hubs.
    const enc = await t.http.get(t.etsiUrl(t.node("carol"), "sunny", "enc_keys"), { headers: { Authorization: "sam" } });
    expect(enc.status).toBe(200);
    const [key] = (enc.data as { keys: EtsiKey[] }).keys;
    expect(key.key_ID).toMatch(UUID_RE);
    // Stop three hubs: no key can be fetched without hank's share once hank is back (3 = k).
    const stop = await t.cli("--hub", "hank", "--hub", "helen", "--hub", "hilary", "stop");
    expect(stop.code).toBe(0);
    expect(stop.out).toEqual([
      "Stopping hub hilary on port 18102",
      "Stopping hub helen on port 18101",
      "Stopping hub hank on port 18100",
      "Waiting for hub hank, hub helen, hub hilary to be stopped",
    ]);
    expect(await isPortFree(18100)).toBe(true);
    const start = await t.cli("--hub", "hank", "start");
    expect(start.code).toBe(0);
    expect(start.out.filter((l) => !l.startsWith("Still waiting for "))).toEqual([
      "Starting hub hank on port 18100",
      "Waiting for hub hank to be started",
      "Hub hank is up (1 of 1)",
    ]);
    // hank remembers the share it stored before the restart: with hank, holly, hugo the slave gets the key.
    const dec = await t.http.get(t.etsiUrl(t.node("curtis"), "sam", "dec_keys"), {
      params: { key_ID: key.key_ID },
      headers: { Authorization: "sunny" },
    });
    expect(dec.status).toBe(200);
    expect((dec.data as { keys: EtsiKey[] }).keys).toEqual([{ key_ID: key.key_ID, key: key.key }]);
    expect((await t.cli("--hub", "helen", "--hub", "hilary", "start")).code).toBe(0);
  });

  it("restart of the slave's client: keys delivered before stay delivered, pending ones are still fetchable", async () => {
    const { enc } = await keyPair(t, "sam", "sofia");
    const pending = await t.http.post(
      t.etsiUrl(t.node("carol"), "sofia", "enc_keys"),
      { number: 2 },
      { headers: { Authorization: "sam" } },
    );
    expect(pending.status).toBe(200);
    const pendingKeys = (pending.data as { keys: EtsiKey[] }).keys;

    expect((await t.cli("--client", "connie", "stop")).code).toBe(0);
    expect(await isPortFree(18108)).toBe(true);
    const restarted = await t.cli("--client", "connie", "start");
    expect(restarted.code).toBe(0);
    expect(restarted.out.filter((l) => !l.startsWith("Still waiting for "))).toEqual([
      "Starting client connie on port 18108",
      "Waiting for client connie to be started",
      "Client connie is up (1 of 1)",
    ]);

    const again = await t.http.get(t.etsiUrl(t.node("connie"), "sam", "dec_keys"), {
      params: { key_ID: enc[0].key_ID },
      headers: { Authorization: "sofia" },
    });
    expect(again.status).toBe(400);
    const dec = await t.http.post(
      t.etsiUrl(t.node("connie"), "sam", "dec_keys"),
      { key_IDs: pendingKeys.map((k) => ({ key_ID: k.key_ID })) },
      { headers: { Authorization: "sofia" } },
    );
    expect(dec.status).toBe(200);
    expect((dec.data as { keys: EtsiKey[] }).keys).toEqual(pendingKeys);
  });

  it("restart of the master's client: it keeps working", async () => {
    expect((await t.cli("--client", "carol", "stop")).code).toBe(0);
    expect((await t.cli("--client", "carol", "start")).code).toBe(0);
    const { enc, dec } = await keyPair(t, "sam", "serena", { size: 256 });
    expect(dec.serena).toEqual(enc);
  });

  it("stop: the reference's lines, every port free, no pid files left", async () => {
    const r = await t.cli("stop");
    expect(r.code).toBe(0);
    expect(r.out.slice(0, 10)).toEqual([
      "Stopping client curtis on port 18109",
      "Stopping client connie on port 18108",
      "Stopping client cindy on port 18107",
      "Stopping client celia on port 18106",
      "Stopping client carol on port 18105",
      "Stopping hub hugo on port 18104",
      "Stopping hub holly on port 18103",
      "Stopping hub hilary on port 18102",
      "Stopping hub helen on port 18101",
      "Stopping hub hank on port 18100",
    ]);
    expect(r.out[10]).toBe("Waiting for all nodes to be stopped");
    for (const p of ports) expect(await isPortFree(p)).toBe(true);
    for (const n of t.topology.nodes) expect(existsSync(path.join(t.stateDir, "pids", `${n.name}.pid`))).toBe(false);
    const s = await t.cli("status", "--verbose");
    expect(s.out.filter((l) => l.includes(": not running"))).toHaveLength(10);
  });

  it("a full restart keeps state: registrations and PSRD survive, keys work at once", async () => {
    const r = await t.bin("start");
    expect(r.code).toBe(0);
    const carol = await t.status("carol");
    expect((carol.peer_hubs as { registered: boolean }[]).every((h) => h.registered)).toBe(true);
    await eventually("a key pair after a full restart", async () => {
      const { enc, dec } = await keyPair(t, "sunny", "sam");
      return JSON.stringify(dec.sam) === JSON.stringify(enc);
    });
  });
});
