/** The dashboard's pieces without real nodes: rates, metrics parsing, the model, options, the HTTP server. */
import http from "node:http";
import { parseConfig } from "../src/config";
import { parseDashboardOptions, runDashboard } from "../src/dashboard-command";
import { pairKeyCounts, parsePrometheusText } from "../src/dashboard-metrics";
import { DashboardModel, type DashboardSnapshot, type NodeObservation } from "../src/dashboard-model";
import { RateTracker } from "../src/dashboard-rates";
import { startDashboardServer } from "../src/dashboard-server";
import { CliError } from "../src/errors";
import type { ProbeResult } from "../src/mgmt";
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
    expect(s.psrd).toEqual({ start: 500, stop: 2000, full: 3000 });
    expect(s.hubs).toEqual([
      { name: "hank", port: 9100, state: "up", shares: 3, peerClients: 2 },
      { name: "helen", port: 9101, state: "up", shares: 0, peerClients: 2 },
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
      clientOwned: { available: 2800, used: 200, size: 3000 },
      hubOwned: { available: 2500, used: 500, size: 3000 },
    });
    expect(s.totals).toEqual({ issued: { count: 4, rate: 0 }, delivered: { count: 4, rate: 0 }, nodesUp: 4, nodes: 4 });
    expect(s.pairs).toEqual([]);
  });

  it("down nodes: shown down with the reason; a down client's pools come from the hubs, none when both are down", () => {
    const m = new DashboardModel(topology, { pollMs: 1000 });
    const s = m.update(
      [obs("hank", up(hubStatus("hank"))), obs("helen", down), obs("carol", up(clientStatus("carol", ["sam"], 0, 0))), obs("curtis", down)],
      0,
    );
    expect(s.hubs[1]).toEqual({ name: "helen", port: 9101, state: "down", detail: down.detail });
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
      clientOwned: { available: 1200, used: 1800, size: 3000 },
      hubOwned: { available: 400, used: 2600, size: 3000 },
    });
    expect(link("curtis", "helen")).toEqual({ client: "curtis", hub: "helen", source: "none" });
    expect(link("carol", "helen").source).toBe("client"); // the client still reports its pools with helen
    expect(s.totals.nodesUp).toBe(2);
    // A node missing from the round is shown down too.
    expect(m.update([], 1000).hubs[0]).toMatchObject({ state: "down", detail: "not polled yet" });
  });

  it("key counts become rates over successive rounds; per-pair counts from the master's and the slave's metrics", () => {
    const m = new DashboardModel(topology, { pollMs: 1000, rateWindowMs: 10_000 });
    const metrics = (n: number, side: "master" | "slave") =>
      `dske_keys_${side === "master" ? "established" : "delivered"}_total{node="x",master_sae="sam",slave_sae="sunny"} ${n}\n`;
    const round = (t: number, issued: number, pairMaster: number, pairSlave: number): DashboardSnapshot =>
      m.update(
        [
          obs("hank", up(hubStatus("hank"))),
          obs("helen", up(hubStatus("helen"))),
          obs("carol", up(clientStatus("carol", ["sam"], issued, 0)), metrics(pairMaster, "master")),
          obs("curtis", up(clientStatus("curtis", ["sunny", "susan"], 0, issued)), metrics(pairSlave, "slave")),
        ],
        t,
      );
    round(0, 10, 10, 10);
    round(1000, 14, 14, 12);
    const s = round(2000, 30, 30, 29);
    expect(s.seq).toBe(3);
    expect(s.clients[0].issued).toEqual({ count: 30, rate: 2 }); // (30 - 10) keys in the 10 s window
    expect(s.clients[1].delivered).toEqual({ count: 30, rate: 2 });
    expect(s.totals.issued).toEqual({ count: 30, rate: 2 });
    expect(s.pairs).toEqual([{ master: "sam", slave: "sunny", issued: { count: 30, rate: 2 }, delivered: { count: 29, rate: 1.9 } }]);
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
