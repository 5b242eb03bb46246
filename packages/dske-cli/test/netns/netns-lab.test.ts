/**
 * The netns lab itself (root, as CI): namespaces with their own addresses on a bridge, per-namespace
 * hosts files, TCP through the delay relay by DNAT, nft partitions and loss, cleanup of everything
 * it made, and the sweep of namespaces left by a dead run.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { DelayRelay } from "./delay-relay";
import { NetnsLab, requireNetnsPrerequisites, run, sweepStale } from "./netns-lab";
import { NetPolicies, nftScript } from "./netns-nft";
import { eventually } from "../system/harness";

jest.setTimeout(60_000);

/** A TCP echo server (node -e), run in a namespace until the lab is destroyed. */
const ECHO_SERVER = `require("net").createServer((s) => s.on("data", (d) => s.write(d))).listen(7000, "0.0.0.0");`;
/** Connects to argv host:port, sends "x", prints the round trip in ms once echoed. */
const ECHO_CLIENT = `
const [host, port] = process.argv.slice(1);
const t0 = performance.now();
const s = require("net").connect({ host, port: Number(port) }, () => s.write("x"));
s.setTimeout(5000, () => { console.error("timeout"); process.exit(2); });
s.on("error", (e) => { console.error(e.code); process.exit(1); });
s.on("data", () => { console.log(String(performance.now() - t0)); process.exit(0); });
`;

describe("netns lab", () => {
  let lab: NetnsLab;
  let policies: NetPolicies;
  let relay: DelayRelay | undefined;

  beforeAll(async () => {
    lab = await NetnsLab.create(["a", "b"]);
    policies = new NetPolicies(lab);
  });

  afterAll(async () => {
    await relay?.close();
    await lab.destroy();
  });

  const ping = (from: string, to: string) => lab.exec(from, "ping", ["-c", "1", "-W", "1", to]);
  const echo = (from: string, host: string, port: number) => lab.exec(from, process.execPath, ["-e", ECHO_CLIENT, host, String(port)]);

  it("gives each namespace its own address, lo up, and a route to the others", async () => {
    expect(await lab.must("b", "ip", ["-4", "-o", "addr", "show", "dev", "eth0"])).toContain(`${lab.addrOf("b")}/24`);
    expect((await ping("a", "127.0.0.1")).code).toBe(0);
    expect((await ping("a", lab.addrOf("b"))).code).toBe(0);
    expect((await ping("b", lab.gateway)).code).toBe(0);
    expect(lab.addrOf("a")).not.toBe(lab.addrOf("b"));
  });

  it("resolves names through the namespace's own hosts file", async () => {
    lab.setHosts("a", { "b.lab.test": lab.addrOf("b") });
    expect(await lab.must("a", "getent", ["hosts", "b.lab.test"])).toContain(lab.addrOf("b"));
    // Unknown elsewhere, and at once (no DNS server to wait for).
    const t0 = performance.now();
    expect((await lab.exec("b", "getent", ["hosts", "b.lab.test"])).code).not.toBe(0);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it("carries TCP through the delay relay when the namespace redirects the link to it", async () => {
    void lab.exec("b", process.execPath, ["-e", ECHO_SERVER], { timeoutMs: 120_000 });
    await eventually("the echo server in b", async () => (await echo("a", lab.addrOf("b"), 7000)).code === 0, 20_000, 200);
    relay = new DelayRelay({ listenHost: lab.gateway, listenPort: 0, targetHost: lab.addrOf("b"), targetPort: 7000, delayMs: 30 });
    await relay.start();
    await policies.update("a", { redirects: [{ addr: lab.addrOf("b"), port: 7000, toAddr: lab.gateway, toPort: relay.port }] });
    const r = await echo("a", lab.addrOf("b"), 7000);
    expect(r.stderr).toBe("");
    // The relay carried it (both directions) and added its delay each way (a lower bound only).
    expect(relay.snapshot()).toMatchObject({ accepted: 1, bytes: 2 });
    expect(Number(r.stdout)).toBeGreaterThanOrEqual(2 * 30 - 1);
    await policies.update("a", { redirects: [] });
  });

  it("partitions with nft drop rules and heals", async () => {
    await policies.update("b", { blocked: [lab.addrOf("a")] });
    expect((await ping("a", lab.addrOf("b"))).code).not.toBe(0);
    expect((await ping("b", lab.gateway)).code).toBe(0);
    await policies.update("b", { blocked: [] });
    expect((await ping("a", lab.addrOf("b"))).code).toBe(0);
    await policies.update("b", { isolated: true });
    expect((await ping("b", lab.gateway)).code).not.toBe(0);
    expect((await ping("b", "127.0.0.1")).code).toBe(0);
    await policies.clear("b");
    expect((await ping("b", lab.gateway)).code).toBe(0);
  });

  it("drops N % of outgoing packets at random", async () => {
    expect(nftScript({ lossPercent: 1 })).toContain("numgen random mod 100 < 1 counter drop");
    expect(() => nftScript({ lossPercent: 100 })).toThrow(/below 100/);
    await policies.update("a", { lossPercent: 50 });
    // 40 echo requests at 50 % loss: all lost, or none, has a chance of 2 in 10^12.
    const r = await lab.exec("a", "ping", ["-q", "-c", "40", "-i", "0.002", "-W", "1", lab.addrOf("b")]);
    const received = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? "-1");
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(40);
    const dropped = Number(/counter packets (\d+)/.exec(await policies.list("a"))?.[1] ?? "-1");
    expect(dropped).toBeGreaterThanOrEqual(40 - received);
    await policies.update("a", { lossPercent: 0 });
    expect((await ping("a", lab.addrOf("b"))).code).toBe(0);
  });

  it("refuses what is not an address in a rule", () => {
    expect(() => nftScript({ blocked: ["1.2.3.4; flush ruleset"] })).toThrow(/not an IPv4 address/);
  });
});

describe("netns lab prerequisites", () => {
  it("not root: fails (never skips) saying it needs root", async () => {
    const uid = jest.spyOn(process, "getuid").mockReturnValue(1000);
    try {
      await expect(requireNetnsPrerequisites()).rejects.toThrow(/^needs root: .*CI does/);
      await expect(NetnsLab.create(["q"])).rejects.toThrow(/needs root/);
    } finally {
      uid.mockRestore();
    }
  });
});

describe("netns lab cleanup", () => {
  it("removes its namespaces, bridge, hosts files and processes", async () => {
    const lab = await NetnsLab.create(["x"]);
    const ns = lab.nsOf("x");
    lab.setHosts("x", { "y.lab.test": "10.0.0.1" });
    void lab.exec("x", process.execPath, ["-e", ECHO_SERVER], { timeoutMs: 120_000 });
    await eventually("the server in x", async () => (await lab.exec("x", "ss", ["-ltn"])).stdout.includes(":7000"), 20_000, 100);
    await lab.destroy();
    expect((await run("ip", ["netns", "list"])).stdout).not.toContain(ns);
    expect((await run("ip", ["link", "show", lab.bridge])).code).not.toBe(0);
    expect(existsSync(path.join("/etc/netns", ns))).toBe(false);
  });

  it("sweeps the namespaces of a run whose process is gone", async () => {
    let dead = 4_000_000;
    while ((await run("kill", ["-0", String(dead)])).code === 0) dead--;
    const stale = `dskent-${dead.toString(36)}0-z`;
    await run("ip", ["netns", "add", stale]);
    const swept = await sweepStale();
    expect(swept).toContain(stale);
    expect((await run("ip", ["netns", "list"])).stdout).not.toContain(stale);
  });
});
