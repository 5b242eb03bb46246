/** The dashboard's pieces without real nodes: rates, metrics parsing, the model, options, the HTTP server. */
import http from "node:http";
import net from "node:net";
import { parseConfig } from "../src/config";
import { parseDashboardOptions, runDashboard } from "../src/dashboard-command";
import { RestartAwareCounters } from "../src/dashboard-counters";
import { niceMax, SparklineHistory } from "../src/dashboard-history";
import { linkLevelName, poolLevelName, psrdThresholds } from "../src/dashboard-levels";
import { METRIC_NAMES, pairKeyCounts, parsePrometheusText, processStartMs } from "../src/dashboard-metrics";
import { DashboardModel, type DashboardSnapshot, type NodeObservation } from "../src/dashboard-model";
import { RateTracker } from "../src/dashboard-rates";
import { DashboardPoller } from "../src/dashboard-poller";
import { startDashboardServer } from "../src/dashboard-server";
import { CliError } from "../src/errors";
import { probeNode, type ProbeResult } from "../src/mgmt";
import { CapturedOutput } from "../src/output";
import { Topology, type NodeSpec } from "../src/topology";
import { defined } from "./defined";

const YAML = `base_port: 9100
start_request_psrd_threshold: 500
stop_request_psrd_threshold: 2000
get_psrd_block_size: 1000
min_nr_shares: 2
hubs:
  - name: hank
  - name: helen
clients:
  - name: carol
    encryptors:
      - name: sam
  - name: curtis
    encryptors:
      - name: sunny
      - name: susan
`;
const topology = new Topology(parseConfig(YAML, "test.yaml"));
const node = (name: string): NodeSpec =>
  defined(
    topology.nodes.find((n) => n.name === name),
    `node ${name}`,
  );
const pools = (c: number, h: number) => ({
  client_owned: { blocks: 3, size: 3000, used: 3000 - c, available: c },
  hub_owned: { blocks: 3, size: 3000, used: 3000 - h, available: h },
});
const hubStatus = (name: string, shares = 0) => ({
  name,
  peer_clients: [
    { client_name: "carol", encryptor_names: ["sam"], auth_scheme: "gf128", pools: pools(2800, 2700) },
    { client_name: "curtis", encryptor_names: ["sunny", "susan"], auth_scheme: "gf128", pools: pools(1200, 400) },
  ],
  shares: Array.from({ length: shares }, (_, i) => ({ master_client_name: "carol", key_id: `k${i}`, share_index: 1 })),
});
const clientStatus = (name: string, encryptors: string[], issued: number, delivered: number) => ({
  name,
  encryptors,
  peer_hubs: ["hank", "helen"].map((h, i) => ({
    hub_name: h,
    url: `http://127.0.0.1:${9100 + i}/hub/${h}`,
    registered: true,
    auth_scheme: "gf128",
    pools: pools(2900 - i * 100, 2500),
  })),
  keys: { issued, delivered, held: 0 },
});
const up = (status: unknown): ProbeResult => ({ state: "up", status });
const down: ProbeResult = { state: "down", detail: "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9100" };

describe("RateTracker", () => {
  it("rate = increase over the window / the window's length; a decreasing counter starts afresh", () => {
    const r = new RateTracker(10_000);
    expect(r.rate("a")).toBe(0);
    r.add("a", 0, 5);
    expect(r.rate("a")).toBe(0);
    r.add("a", 2000, 9);
    expect(r.rate("a")).toBe(0.4); // 4 keys within the 10 s window
    for (let t = 3000; t <= 30_000; t += 1000) r.add("a", t, 9 + (t - 2000) / 1000);
    // samples older than the window are dropped: one sample per second, one key per second
    expect(r.rate("a")).toBeCloseTo(1, 10);
    r.add("a", 31_000, 3); // node restarted: counter back to 3
    expect(r.rate("a")).toBe(0);
    expect(r.latest("a")).toBe(3);
    r.add("a", 33_000, 7);
    expect(r.rate("a")).toBe(0.4);
    r.add("a", 53_000, 27); // samples 20 s apart: the span is longer than the window
    expect(r.rate("a")).toBe(1);
  });

  it("retain forgets counters that vanished", () => {
    const r = new RateTracker();
    r.add("a", 0, 1);
    r.add("b", 0, 1);
    r.retain(new Set(["b"]));
    expect(r.latest("a")).toBeUndefined();
    expect(r.latest("b")).toBe(1);
  });
});

describe("RestartAwareCounters", () => {
  it("a new start time adds the old values as offsets; counters not recreated keep their totals", () => {
    const c = new RestartAwareCounters();
    expect(c.knows("n")).toBe(false);
    expect([
      ...c.observe(
        "n",
        100,
        new Map([
          ["a", 5],
          ["b", 2],
        ]),
        0,
      ),
    ]).toEqual([
      ["a", 5],
      ["b", 2],
    ]);
    expect(c.restarts("n")).toEqual({ startedAt: 100, restarts: 0 });
    expect([
      ...c.observe(
        "n",
        100,
        new Map([
          ["a", 7],
          ["b", 2],
        ]),
        1,
      ),
    ]).toEqual([
      ["a", 7],
      ["b", 2],
    ]);
    // Restarted: "a" is at 1 in the new process, "b" not created yet.
    expect(Object.fromEntries(c.observe("n", 200, new Map([["a", 1]]), 2))).toEqual({ a: 8, b: 2 });
    expect(c.restarts("n")).toEqual({ startedAt: 200, restarts: 1, restartedAt: 200 });
    expect(
      Object.fromEntries(
        c.observe(
          "n",
          200,
          new Map([
            ["a", 9],
            ["b", 1],
          ]),
          3,
        ),
      ),
    ).toEqual({ a: 16, b: 3 });
    expect(Object.fromEntries(c.values("n"))).toEqual({ a: 16, b: 3 });
    expect(c.values("other").size).toBe(0);
  });

  it("without a start time, a counter going down is the restart (at the poll time)", () => {
    const c = new RestartAwareCounters();
    c.observe("n", undefined, new Map([["a", 5]]), 10);
    expect(Object.fromEntries(c.observe("n", undefined, new Map([["a", 6]]), 20))).toEqual({ a: 6 });
    expect(Object.fromEntries(c.observe("n", undefined, new Map([["a", 2]]), 30))).toEqual({ a: 8 });
    expect(c.restarts("n")).toEqual({ restarts: 1, restartedAt: 30 });
    c.observeStart("h", 5, 0);
    c.observeStart("h", 5, 1);
    expect(c.restarts("h").restarts).toBe(0);
    c.observeStart("h", 9, 2);
    expect(c.restarts("h")).toEqual({ startedAt: 9, restarts: 1, restartedAt: 9 });
  });
});

describe("sparkline history", () => {
  it("niceMax: the round figure at or above the largest point (1 at least)", () => {
    expect([0, 0.2, 1, 1.1, 2.5, 3, 7, 10, 0.03].map((v) => niceMax(v))).toEqual([1, 1, 1, 2, 5, 5, 10, 10, 1]);
    expect(niceMax(0.03, 0.01)).toBe(0.05);
    expect(niceMax(120)).toBe(200);
  });

  it("a series is backfilled with zeros and keeps its length; known counts the polled rounds", () => {
    const h = new SparklineHistory(5000, 1000);
    expect(h.length).toBe(5);
    h.beginRound();
    h.push("a", 1.23456);
    expect(h.get("a")).toEqual({ points: [0, 0, 0, 0, 1.235], known: 1, stepMs: 1000, max: 2, min: 0, unit: "keys/s" });
    for (let i = 0; i < 6; i++) {
      h.beginRound();
      h.push("a", i);
    }
    expect(h.get("a")).toMatchObject({ points: [1, 2, 3, 4, 5], known: 5, max: 5 });
    h.retain(new Set());
    expect(h.get("a").points).toEqual([0, 0, 0, 0, 0]);
  });
});

describe("PSRD levels", () => {
  const t = psrdThresholds({ start_request_psrd_threshold: 500, stop_request_psrd_threshold: 2000, get_psrd_block_size: 1000 });
  it("ok at or above the refill threshold (also below the stop threshold), low below it, exhausted below 64 B", () => {
    expect(t).toEqual({ start: 500, stop: 2000, full: 3000, exhausted: 64 });
    expect([5000, 2000, 1999, 500, 499, 64, 63, 0].map((v) => poolLevelName(v, t))).toEqual([
      "ok",
      "ok",
      "ok",
      "ok",
      "low",
      "low",
      "exhausted",
      "exhausted",
    ]);
    const pool = { available: 1000 };
    expect(linkLevelName({ clientOwned: pool, hubOwned: { available: 10 } }, true, t)).toBe("exhausted");
    expect(linkLevelName({ clientOwned: pool, hubOwned: pool }, false, t)).toBe("down");
    expect(linkLevelName({ registered: false, clientOwned: pool, hubOwned: pool }, true, t)).toBe("down");
    expect(linkLevelName({ clientOwned: pool }, true, t)).toBe("down");
    expect(psrdThresholds({ start_request_psrd_threshold: 10, stop_request_psrd_threshold: 20, get_psrd_block_size: 64 }).exhausted).toBe(
      10,
    );
  });
});

describe("Prometheus text", () => {
  const TEXT = [
    "# HELP dske_keys_established_total Keys handed to SAEs over ETSI 014, per SAE pair and role",
    "# TYPE dske_keys_established_total counter",
    'dske_keys_established_total{node="carol",kind="client",master_sae="sam",slave_sae="sunny",role="master"} 7',
    'dske_keys_established_total{node="carol",kind="client",master_sae="sam",slave_sae="susan",role="master"} 2 1700000000000',
    'dske_keys_failed_total{master_sae="sam",slave_sae="sunny",role="master"} 4',
    'weird_label{a="x\\"y\\\\z",b="line\\nbreak"} +Inf',
    "not a sample line at all {",
    "dske_psrd_available_bytes 12.5",
    "",
  ].join("\n");

  it("parses samples with labels, escapes, timestamps and special values; skips comments and garbage", () => {
    const s = parsePrometheusText(TEXT);
    expect(s).toHaveLength(5);
    expect(s[0]).toEqual({
      name: "dske_keys_established_total",
      labels: { node: "carol", kind: "client", master_sae: "sam", slave_sae: "sunny", role: "master" },
      value: 7,
    });
    expect(s[1].value).toBe(2);
    expect(s[3]).toEqual({ name: "weird_label", labels: { a: 'x"y\\z', b: "line\nbreak" }, value: Infinity });
    expect(s[4]).toEqual({ name: "dske_psrd_available_bytes", labels: {}, value: 12.5 });
  });

  it("pair counts: established = issued, delivered (or established with role slave) = delivered; failures left out", () => {
    const extra =
      'dske_keys_established_total{master_sae="sam",slave_sae="sunny",role="slave"} 2\n' +
      'dske_keys_delivered_total{node="curtis",master_sae="sam",slave_sae="sunny"} 3\n' +
      'dske_keys_established_total{master_sae="sam",slave_sae="sunny",role="other"} 100\n' +
      'dske_keys_established_total{master_sae="serena",slave_sae="sam"} 1\n' +
      'dske_keys_established_total{slave_sae="sam"} 9\n';
    const pairs = pairKeyCounts(parsePrometheusText(TEXT + extra));
    expect(processStartMs(parsePrometheusText(TEXT))).toBeUndefined();
    expect(processStartMs(parsePrometheusText('process_start_time_seconds{node="x"} 1700000000\n'))).toBe(1_700_000_000_000);
    // Every accepted name of a metric is read (a renamed metric keeps working).
    for (const name of METRIC_NAMES.processStart) expect(processStartMs(parsePrometheusText(`${name} 12\n`))).toBe(12_000);
    expect(pairs).toEqual([
      { master: "sam", slave: "sunny", issued: 7, delivered: 5 },
      { master: "sam", slave: "susan", issued: 2, delivered: 0 },
      { master: "serena", slave: "sam", issued: 1, delivered: 0 },
    ]);
  });
});

describe("DashboardModel", () => {
  const obs = (name: string, probe: ProbeResult, metrics?: string): NodeObservation =>
    metrics === undefined ? { node: node(name), probe } : { node: node(name), probe, metrics };

  it("every node, encryptor and link; PSRD thresholds for the gauges", () => {
    const m = new DashboardModel(topology, { pollMs: 1000 });
    const s = m.update(
      [
        obs("hank", up(hubStatus("hank", 3))),
        obs("helen", up(hubStatus("helen"))),
        obs("carol", up(clientStatus("carol", ["sam"], 4, 0))),
        obs("curtis", up(clientStatus("curtis", ["sunny", "susan"], 0, 4))),
      ],
      1_000_000,
    );
    expect(s.seq).toBe(1);
    expect(s.time).toBe(new Date(1_000_000).toISOString());
    expect(s.psrd).toEqual({ start: 500, stop: 2000, full: 3000, exhausted: 64 });
    expect(s.hubs).toEqual([
      { name: "hank", port: 9100, state: "up", shares: 3, peerClients: 2, restarts: 0 },
      { name: "helen", port: 9101, state: "up", shares: 0, peerClients: 2, restarts: 0 },
    ]);
    expect(s.clients.map((c) => [c.name, c.state, c.registeredHubs, c.issued?.count, c.delivered?.count])).toEqual([
      ["carol", "up", 2, 4, 0],
      ["curtis", "up", 2, 0, 4],
    ]);
    expect(s.encryptors).toEqual([
      { name: "sam", client: "carol" },
      { name: "sunny", client: "curtis" },
      { name: "susan", client: "curtis" },
    ]);
    expect(s.links).toHaveLength(4);
    expect(s.links[1]).toEqual({
      client: "carol",
      hub: "helen",
      source: "client",
      registered: true,
      clientOwned: { available: 2800, used: 200, size: 3000, level: "ok" },
      hubOwned: { available: 2500, used: 500, size: 3000, level: "ok" },
      level: "ok",
    });
    // No metrics: the counts come from the clients' key records.
    expect(s.clients.map((c) => c.countsFrom)).toEqual(["status", "status"]);
    expect(s.totals).toMatchObject({ issued: { count: 4, rate: 0 }, delivered: { count: 4, rate: 0 }, nodesUp: 4, nodes: 4 });
    expect(s.pairs).toEqual([]);
  });

  it("down nodes: shown down with the reason; a down client's pools come from the hubs, none when both are down", () => {
    const m = new DashboardModel(topology, { pollMs: 1000 });
    const s = m.update(
      [obs("hank", up(hubStatus("hank"))), obs("helen", down), obs("carol", up(clientStatus("carol", ["sam"], 0, 0))), obs("curtis", down)],
      0,
    );
    expect(s.hubs[1]).toEqual({ name: "helen", port: 9101, state: "down", detail: down.detail, restarts: 0 });
    expect(s.clients[1]).toMatchObject({ name: "curtis", state: "down", encryptors: ["sunny", "susan"] });
    expect(s.clients[1].issued).toBeUndefined();
    const link = (c: string, h: string) =>
      defined(
        s.links.find((l) => l.client === c && l.hub === h),
        `link ${c}-${h}`,
      );
    expect(link("curtis", "hank")).toEqual({
      client: "curtis",
      hub: "hank",
      source: "hub",
      registered: true,
      clientOwned: { available: 1200, used: 1800, size: 3000, level: "ok" },
      hubOwned: { available: 400, used: 2600, size: 3000, level: "low" },
      level: "down", // curtis is down: its pools come from hank, the link carries nothing
    });
    expect(link("curtis", "helen")).toEqual({ client: "curtis", hub: "helen", source: "none", level: "down" });
    expect(link("carol", "helen").source).toBe("client"); // the client still reports its pools with helen
    expect(s.totals.nodesUp).toBe(2);
    // A node missing from the round is shown down too.
    expect(m.update([], 1000).hubs[0]).toMatchObject({ state: "down", detail: "not polled yet" });
  });

  it("key counts come from the pair counters: per client, per pair and in total they agree, with one rate", () => {
    const m = new DashboardModel(topology, { pollMs: 1000, rateWindowMs: 10_000 });
    const metrics = (n: number, side: "master" | "slave") =>
      `dske_keys_${side === "master" ? "established" : "delivered"}_total{node="x",master_sae="sam",slave_sae="sunny"} ${n}\n`;
    // The status' key records (999) are another quantity (kept 24 h, pruned): not what is shown.
    const round = (t: number, pairMaster: number, pairSlave: number): DashboardSnapshot =>
      m.update(
        [
          obs("hank", up(hubStatus("hank"))),
          obs("helen", up(hubStatus("helen"))),
          obs("carol", up(clientStatus("carol", ["sam"], 999, 0)), metrics(pairMaster, "master")),
          obs("curtis", up(clientStatus("curtis", ["sunny", "susan"], 0, 999)), metrics(pairSlave, "slave")),
        ],
        t,
      );
    round(0, 10, 10);
    round(1000, 14, 12);
    const s = round(2000, 30, 29);
    expect(s.seq).toBe(3);
    expect(s.clients[0]).toMatchObject({ countsFrom: "metrics", issued: { count: 30, rate: 2 }, delivered: { count: 0, rate: 0 } });
    expect(s.clients[1].delivered).toEqual({ count: 29, rate: 1.9 });
    expect(s.totals).toMatchObject({ issued: { count: 30, rate: 2 }, delivered: { count: 29, rate: 1.9 } });
    expect(s.pairs).toMatchObject([{ master: "sam", slave: "sunny", issued: { count: 30, rate: 2 }, delivered: { count: 29, rate: 1.9 } }]);
  });

  it("a client restart: the counts carry on, the restart is shown, and header, clients and pairs still agree", () => {
    const m = new DashboardModel(topology, { pollMs: 1000, rateWindowMs: 10_000 });
    const carolMetrics = (startS: number, pairs: Record<string, number>) =>
      `process_start_time_seconds{node="carol"} ${startS}\n` +
      Object.entries(pairs)
        .map(([slave, n]) => `dske_keys_established_total{master_sae="sam",slave_sae="${slave}"} ${n}\n`)
        .join("");
    const curtisMetrics = (n: number) =>
      `process_start_time_seconds 500\ndske_keys_delivered_total{master_sae="sam",slave_sae="sunny"} ${n}\n`;
    const round = (t: number, carol: string | undefined, curtisDelivered: number): DashboardSnapshot =>
      m.update(
        [
          obs("hank", up(hubStatus("hank")), "process_start_time_seconds 400\n"),
          obs("helen", up(hubStatus("helen"))),
          carol === undefined ? obs("carol", down) : obs("carol", up(clientStatus("carol", ["sam"], 0, 0)), carol),
          obs("curtis", up(clientStatus("curtis", ["sunny", "susan"], 0, 0)), curtisMetrics(curtisDelivered)),
        ],
        t,
      );
    const agree = (s: DashboardSnapshot) => {
      const sumPairs = (side: "issued" | "delivered") => s.pairs.reduce((n, p) => n + p[side].count, 0);
      const sumClients = (side: "issued" | "delivered") => s.clients.reduce((n, c) => n + (c[side]?.count ?? 0), 0);
      expect(sumPairs("issued")).toBe(s.totals.issued.count);
      expect(sumClients("issued")).toBe(s.totals.issued.count);
      expect(sumPairs("delivered")).toBe(s.totals.delivered.count);
      expect(sumClients("delivered")).toBe(s.totals.delivered.count);
      const rates = (xs: readonly { issued?: { rate: number } }[]) => xs.reduce((n, x) => n + (x.issued?.rate ?? 0), 0);
      expect(rates(s.pairs)).toBeCloseTo(s.totals.issued.rate, 10);
      expect(rates(s.clients)).toBeCloseTo(s.totals.issued.rate, 10);
    };
    agree(round(0, carolMetrics(1000, { sunny: 17, susan: 3 }), 17));
    // carol is stopped: its last counts stay in the totals, its rate falls to 0 over the window
    const whileDown = round(1000, undefined, 17);
    expect(whileDown.clients[0]).toMatchObject({ state: "down", issued: { count: 20 }, restarts: 0 });
    expect(whileDown.totals.issued.count).toBe(20);
    // carol's new process (start time 2000 s) has counted 4 keys to sunny, none to susan yet
    const s = round(2000, carolMetrics(2000, { sunny: 4 }), 21);
    agree(s);
    expect(s.clients[0]).toMatchObject({
      state: "up",
      issued: { count: 24 },
      restarts: 1,
      restartedAt: new Date(2_000_000).toISOString(),
      startedAt: new Date(2_000_000).toISOString(),
    });
    expect(s.pairs.map((p) => [p.master, p.slave, p.issued.count, p.delivered.count])).toEqual([
      ["sam", "sunny", 21, 21],
      ["sam", "susan", 3, 0],
    ]);
    expect(s.totals.issued.count).toBe(24);
    expect(s.totals.issued.rate).toBeCloseTo(0.4, 10); // 4 new keys over the 10 s window
    expect(s.clients[1]).toMatchObject({ restarts: 0, startedAt: new Date(500_000).toISOString() });
    expect(s.hubs[0]).toMatchObject({ restarts: 0, startedAt: new Date(400_000).toISOString() });
    // A later round of the same process is no restart.
    const later = round(3000, carolMetrics(2000, { sunny: 5, susan: 1 }), 22);
    agree(later);
    expect(later.clients[0]).toMatchObject({ restarts: 1, issued: { count: 26 } });
  });

  it("a counter that goes down is a restart too (a node without a start time); a new pair counts from 0", () => {
    const m = new DashboardModel(topology, { pollMs: 1000, rateWindowMs: 10_000 });
    const round = (t: number, text: string) =>
      m.update([obs("carol", up(clientStatus("carol", ["sam"], 0, 0)), text), obs("curtis", down)], t);
    round(0, 'dske_keys_established_total{master_sae="sam",slave_sae="sunny"} 8\n');
    const s = round(1000, 'dske_keys_established_total{master_sae="sam",slave_sae="sunny"} 2\n');
    expect(s.clients[0]).toMatchObject({ restarts: 1, restartedAt: new Date(1000).toISOString(), issued: { count: 10 } });
    // sam → susan appears: its 5 keys were made since the last round (rate over the window: 0.5/s)
    const t = round(
      2000,
      'dske_keys_established_total{master_sae="sam",slave_sae="sunny"} 2\ndske_keys_established_total{master_sae="sam",slave_sae="susan"} 5\n',
    );
    expect(t.pairs.find((p) => p.slave === "susan")?.issued).toEqual({ count: 5, rate: 0.5 });
    expect(t.totals.issued.count).toBe(15);
  });

  it("colours: an idle healthy topology (pools between the thresholds) is ok; below the refill threshold low; exhausted; down", () => {
    const m = new DashboardModel(topology, { pollMs: 1000 });
    const client = (c: number, h: number) => ({
      ...clientStatus("carol", ["sam"], 0, 0),
      peer_hubs: [
        { hub_name: "hank", registered: true, pools: pools(c, h) },
        { hub_name: "helen", registered: false },
      ],
    });
    const levels = (c: number, h: number) =>
      m
        .update([obs("hank", up(hubStatus("hank"))), obs("helen", up(hubStatus("helen"))), obs("carol", up(client(c, h)))], 0)
        .links.filter((l) => l.client === "carol")
        .map((l) => l.level);
    expect(levels(1000, 600)).toEqual(["ok", "down"]); // between start (500) and stop (2000): idle, healthy
    expect(levels(1000, 499)).toEqual(["low", "down"]);
    expect(levels(63, 2000)).toEqual(["exhausted", "down"]);
  });

  it("sparklines are full length from the first round, with a round scale and how much was polled", () => {
    const m = new DashboardModel(topology, { pollMs: 1000, rateWindowMs: 10_000, sparkSpanMs: 60_000 });
    const text = (n: number) => `dske_keys_established_total{master_sae="sam",slave_sae="sunny"} ${n}\n`;
    const first = m.update([obs("carol", up(clientStatus("carol", ["sam"], 0, 0)), text(0))], 0);
    expect(first.totals.spark.issued).toEqual({ points: new Array(60).fill(0), known: 1, stepMs: 1000, max: 1, min: 0, unit: "keys/s" });
    const s = m.update([obs("carol", up(clientStatus("carol", ["sam"], 0, 0)), text(30))], 1000);
    expect(s.pairs[0].spark.points).toHaveLength(60);
    expect(s.pairs[0].spark.points.at(-1)).toBe(3); // 30 keys over the 10 s window
    expect(s.pairs[0].spark).toMatchObject({ known: 2, max: 5, unit: "keys/s" });
    expect(s.totals.spark.issued.points).toEqual(s.pairs[0].spark.points);
  });
});

describe("dashboard options", () => {
  it("defaults, numbers from strings, and clear errors (exit code 2)", () => {
    expect(parseDashboardOptions({})).toEqual({ port: 8090, host: "127.0.0.1", interval: 1000 });
    expect(parseDashboardOptions({ port: "0", host: "localhost", interval: "250" })).toEqual({ port: 0, host: "localhost", interval: 250 });
    const bad = (raw: unknown, text: RegExp) => {
      try {
        parseDashboardOptions(raw);
        throw new Error("accepted");
      } catch (err) {
        expect(err).toBeInstanceOf(CliError);
        expect((err as CliError).exitCode).toBe(2);
        expect((err as CliError).message).toMatch(text);
      }
    };
    bad({ port: "70000" }, /--port: expected a TCP port.*got '70000'/);
    bad({ port: "12ab" }, /--port/);
    bad({ host: "a b" }, /--host: expected a host name/);
    bad({ host: "0.0.0.0" }, /--host: the dashboard shows SAE pairs and PSRD levels: bind it to a loopback address/);
    bad({ host: "192.168.1.4" }, /loopback/);
    expect(parseDashboardOptions({ host: "::1" }).host).toBe("::1");
    expect(parseDashboardOptions({ host: "localhost" }).host).toBe("localhost");
    bad({ interval: "5" }, /--interval: expected a poll interval in milliseconds \(an integer from 100 to 60000\)/);
  });
});

function get(url: string, cookie?: string): Promise<{ status: number; type: string; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers: cookie ? { cookie } : {} }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body, headers: res.headers }),
        );
      })
      .on("error", reject);
  });
}

describe("DashboardPoller", () => {
  it("a node whose probe times out keeps its last answer for downAfterMs; refused, or silent longer, it is down", async () => {
    let clock = 0;
    let helen: ProbeResult = up(hubStatus("helen"));
    const probe = (n: NodeSpec): Promise<ProbeResult> => {
      if (n.name === "helen") return Promise.resolve(helen);
      if (n.kind === "hub") return Promise.resolve(up(hubStatus(n.name)));
      return Promise.resolve(up(clientStatus(n.name, [...n.encryptors], 0, 0)));
    };
    const poller = new DashboardPoller(topology, {
      pollMs: 1000,
      downAfterMs: 3000,
      now: () => clock,
      probe,
      metrics: () => Promise.resolve(undefined),
    });
    const helenAt = async (ms: number) => {
      clock = ms;
      return defined((await poller.pollOnce()).hubs[1], "helen");
    };
    expect(await helenAt(0)).toMatchObject({ name: "helen", state: "up" });
    const timedOut: ProbeResult = { state: "down", detail: "ETIMEDOUT: timeout of 800ms exceeded", timedOut: true };
    helen = timedOut;
    // Slow, not down: within 3 s of its last answer, her last answer stands.
    expect(await helenAt(1000)).toMatchObject({ name: "helen", state: "up" });
    expect(await helenAt(2999)).toMatchObject({ name: "helen", state: "up" });
    expect(await helenAt(3000)).toEqual({ name: "helen", port: 9101, state: "down", detail: timedOut.detail, restarts: 0 });
    // Down stays down while she times out; an answer brings her back.
    expect(await helenAt(3500)).toMatchObject({ state: "down" });
    helen = up(hubStatus("helen"));
    expect(await helenAt(4000)).toMatchObject({ state: "up" });
    // A refused connection is down at once, however recent the last answer.
    helen = down;
    expect(await helenAt(4100)).toEqual({ name: "helen", port: 9101, state: "down", detail: down.detail, restarts: 0 });
  });
});

describe("probeNode", () => {
  it("flags a status request that ran out of time (timedOut), not a refused connection", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket)); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const slow = await probeNode({ ...node("hank"), port }, 100);
      expect(slow).toMatchObject({ state: "down", timedOut: true });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
    const refused = await probeNode({ ...node("hank"), port }, 100);
    expect(refused.state).toBe("down");
    expect(refused).not.toHaveProperty("timedOut");
  });
});

describe("dashboard server (fake nodes)", () => {
  let issued = 0;
  const probe = (n: NodeSpec): Promise<ProbeResult> => {
    if (n.name === "helen") return Promise.resolve(down);
    if (n.kind === "hub") return Promise.resolve(up(hubStatus(n.name)));
    return Promise.resolve(up(clientStatus(n.name, [...n.encryptors], n.name === "carol" ? issued : 0, 0)));
  };

  it("only its one-time login link opens it: then a session cookie (HttpOnly, SameSite=Strict); anything else 401", async () => {
    const server = await startDashboardServer(topology, { port: 0, pollMs: 100, probe, metrics: () => Promise.resolve(undefined) });
    try {
      expect(server.loginUrl).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/\\?token=[0-9a-f]{64}$`));
      for (const path of ["/", "/dashboard.js", "/api/snapshot", "/api/events", "/nope"]) {
        const r = await get(`${server.url}${path}`);
        expect([path, r.status]).toEqual([path, 401]);
        expect((JSON.parse(r.body) as { message?: unknown }).message).toMatch(/login URL/);
      }
      expect((await get(`${server.url}/?token=${"0".repeat(64)}`)).status).toBe(401);
      expect((await get(`${server.url}/`, `dske_dashboard_${server.port}=${"0".repeat(64)}`)).status).toBe(401);
      const login = await get(server.loginUrl);
      expect(login.status).toBe(303);
      expect(login.headers.location).toBe("/");
      const setCookie = String(login.headers["set-cookie"]);
      expect(setCookie).toMatch(new RegExp(`^dske_dashboard_${server.port}=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=/$`));
      const cookie = setCookie.split(";")[0];
      expect(cookie).not.toContain(server.loginUrl.split("token=")[1]); // the session is not the login token
      // The link works once: a second use without the cookie is refused; with the cookie it just redirects.
      const again = await get(server.loginUrl);
      expect(again.status).toBe(401);
      expect((JSON.parse(again.body) as { message?: unknown }).message).toBe("this login link was already used");
      expect((await get(server.loginUrl, cookie)).status).toBe(303);
      expect((await get(`${server.url}/`, cookie)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("serves the page, its script and style, the snapshot JSON and an SSE stream; 404 and 405 as JSON", async () => {
    const server = await startDashboardServer(topology, { port: 0, pollMs: 100, probe, metrics: () => Promise.resolve(undefined) });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
      const cookie = String((await get(server.loginUrl)).headers["set-cookie"]).split(";")[0];
      const page = await get(`${server.url}/`, cookie);
      expect(page.status).toBe(200);
      expect(page.type).toBe("text/html; charset=utf-8");
      expect(page.body).toContain('<script src="/dashboard.js"></script>');
      expect(page.body).not.toMatch(/https?:\/\//); // self-contained: no CDN
      const js = await get(`${server.url}/dashboard.js`, cookie);
      expect(js.type).toBe("text/javascript; charset=utf-8");
      expect(js.body).toContain('new EventSource("/api/events")');
      expect((await get(`${server.url}/dashboard.css`, cookie)).type).toBe("text/css; charset=utf-8");

      // The first round runs at start; wait for it.
      for (const end = Date.now() + 20_000; (await get(`${server.url}/api/snapshot`, cookie)).status !== 200 && Date.now() < end;) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const snap = JSON.parse((await get(`${server.url}/api/snapshot`, cookie)).body) as DashboardSnapshot;
      expect(snap.hubs.map((h) => [h.name, h.state])).toEqual([
        ["hank", "up"],
        ["helen", "down"],
      ]);

      // SSE: the latest snapshot at once, then one per round; a count change shows up.
      issued = 42;
      const events = await new Promise<DashboardSnapshot[]>((resolve, reject) => {
        const got: DashboardSnapshot[] = [];
        const req = http.get(`${server.url}/api/events`, { agent: false, headers: { cookie } }, (res) => {
          expect(res.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
          let buf = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => {
            buf += d;
            let i: number;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              const data = block.split("\n").find((l) => l.startsWith("data: "));
              if (block.includes("event: snapshot") && data) got.push(JSON.parse(data.slice(6)) as DashboardSnapshot);
              if (got.some((s) => s.clients[0].issued?.count === 42)) {
                req.destroy();
                resolve(got);
              }
            }
          });
        });
        req.on("error", reject);
      });
      expect(events.length).toBeGreaterThanOrEqual(1);
      const seqs = events.map((e) => e.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);

      const missing = await get(`${server.url}/nope`, cookie);
      expect(missing.status).toBe(404);
      expect(JSON.parse(missing.body)).toEqual({ message: "no such page: /nope (try / or /api/snapshot)" });
      const post = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${server.url}/api/snapshot`, { method: "POST", agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
      expect(post).toBe(405);
    } finally {
      await server.close();
    }
  });

  it("runDashboard prints its URL and stops on request; a busy port is a clear error", async () => {
    const out = new CapturedOutput();
    const ac = new AbortController();
    const running = runDashboard({ topology, out, stopSignal: ac.signal }, { port: 0, host: "127.0.0.1", interval: 1000 });
    for (const end = Date.now() + 20_000; out.lines.length === 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
    expect(out.lines[0]).toMatch(/^dashboard on http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
    const port = Number(new URL(defined(out.lines[0].split(" ").pop(), "the login URL")).port);
    await expect(runDashboard({ topology, out: new CapturedOutput() }, { port, host: "127.0.0.1", interval: 1000 })).rejects.toThrow(
      new CliError(`cannot serve the dashboard: port ${port} on 127.0.0.1 is in use (choose another with --port)`),
    );
    ac.abort();
    await running;
    expect(out.lines[1]).toMatch(/open that link once/);
    expect(out.lines[2]).toBe("dashboard stopped (stop requested)");
  });
});
