/**
 * End-to-end key pairs/s of the default topology on PostgreSQL against the file store, in the
 * same run (issue 17). The root dske-config.yaml (5 hubs, 5 clients, k = 3) is started through the
 * real dske-cli several times, each time in a fresh state dir on ports 20060-20089:
 *   - file:      every hub on its file store (as bench/index.ts);
 *   - postgres:  every hub `storage: { kind: postgres }`, one database per hub in one throwaway
 *                cluster from @dske/postgres/testing (port 20050), fresh databases per start;
 *   - postgres ×2: the same with `replicas: 2` per hub (DSKE_BENCH_PG_REPLICAS=0 leaves it out).
 * file and postgres run with the key stock off (key_stock_ahead_ms: 0, every enc_keys reaches
 * the hubs) and on (the YAML's default); postgres ×2 with the stock on only.
 *
 * Method as bench/index.ts: number=1, 256-bit keys, enc_keys then dec_keys of the same key over
 * ETSI GS QKD 014 (node:http keep-alive callers), every pair of SAEs in turn; 1 caller and 16
 * callers, each measured after a warm-up with the same load. Per key pair: CPU ms of the node
 * processes (hubs and clients apart, /proc/<pid>/stat of the pid files) and of the PostgreSQL
 * cluster (the postmaster's own and reaped children's CPU plus every live backend's, /proc), the
 * bench's own callers, PostgreSQL transactions (pg_stat_database.xact_commit) and WAL bytes
 * (pg_stat_wal; both are flushed by the backends about once a second, so approximate), where
 * PostgreSQL's time goes (pg_stat_statements, loaded in the cluster: executor time and calls per
 * statement; pg_stat_activity sampled: what the active backends wait on), and the
 * CPU in bare-HTTP-exchange units (bench-http.ts: the machine's speed in this run). Ratios
 * postgres / file are of this run's rows only.
 *
 * Fails (exit 1) when the topology does not start, when a key pair does not match, or when a
 * measured phase establishes no key at all.
 *
 * Knobs: DSKE_BENCH_PHASE_MS (measured phase, default 5000), DSKE_BENCH_WARMUP_MS (warm-up of
 * each scenario, default 4000), DSKE_BENCH_PG_REPLICAS (replicas per hub of the third
 * configuration, default 2; 0 = leave it out), DSKE_BENCH_OUT=FILE (write there instead of
 * bench-results/e2e-postgres.json).
 *
 * Run: pnpm --filter @dske/cli exec tsx bench/e2e-postgres.ts  (after `pnpm -r build`; needs
 * PostgreSQL's server programs, scripts/install-system-deps.sh). Part of `pnpm bench`.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { requirePgBinaries, startThrowawayCluster, type ThrowawayCluster } from "@dske/postgres/testing";
import YAML from "yaml";
import { runCli } from "../src/cli";
import { loadConfig } from "../src/config";
import { probeNode } from "../src/mgmt";
import { readOperatorToken } from "../src/operator-token";
import { CapturedOutput } from "../src/output";
import { nodeBaseUrl, Topology, type NodeSpec } from "../src/topology";
import { agent, keyPairRound, pct, referenceHttpCpuMs, type KeyPairRound } from "./bench-http";

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, "../../..");
const OUT = process.env.DSKE_BENCH_OUT ? path.resolve(process.env.DSKE_BENCH_OUT) : path.join(REPO, "bench-results", "e2e-postgres.json");
/** Ports of this bench (issue 17 range 20050-20099): the cluster, the nodes, the hub replicas. */
const PG_PORT = 20050;
const BASE_PORT = 20060; // hubs 20060-20064, clients 20065-20069
const REPLICA_BASE_PORT = 20070; // hubs with replicas: 20070 + 4·i, + 1, ...
const KEY_BITS = 256;
const PHASE_MS = Number(process.env.DSKE_BENCH_PHASE_MS ?? 5000);
const WARMUP_MS = Number(process.env.DSKE_BENCH_WARMUP_MS ?? 4000);
const PG_REPLICAS = Number(process.env.DSKE_BENCH_PG_REPLICAS ?? 2);
const CONCURRENCY = 16;
const CLK_MS = 10; // /proc/<pid>/stat counts clock ticks of 10 ms (USER_HZ = 100)

interface RunSpec {
  id: string;
  storage: "file" | "postgres";
  replicas: number;
  stock: boolean;
}

/** Thrown for what must fail the bench at once (mismatched keys, a topology that does not start). */
class FatalBenchError extends Error {}

// ---- CPU from /proc ----

/** utime + stime (and cutime + cstime with `children`) of a process in ms; NaN if it is gone. */
function procCpuMs(pid: number, children = false): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    const own = Number(fields[11]) + Number(fields[12]);
    const reaped = children ? Number(fields[13]) + Number(fields[14]) : 0;
    return (own + reaped) * CLK_MS;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU ms of the whole cluster: the postmaster's own, its reaped children's (a backend that ended
 * is accounted there) and every live child's (backends, checkpointer, walwriter, ...).
 */
function clusterCpuMs(cluster: ThrowawayCluster | undefined): number {
  if (!cluster) return 0;
  const postmaster = Number.parseInt(readFileSync(path.join(cluster.dataDir, "postmaster.pid"), "utf8").split("\n")[0], 10);
  let total = procCpuMs(postmaster, true);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    const fields = stat.split(") ")[1].split(" ");
    if (Number(fields[1]) !== postmaster) continue;
    total += (Number(fields[11]) + Number(fields[12])) * CLK_MS;
  }
  return total;
}

/** CPU ms of the node processes of a state dir: hubs (and their replicas) and clients apart. */
function nodesCpuMs(stateDir: string, clients: ReadonlySet<string>): { hubs: number; clients: number } {
  const out = { hubs: 0, clients: 0 };
  const dir = path.join(stateDir, "pids");
  if (!existsSync(dir)) return { hubs: Number.NaN, clients: Number.NaN };
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".pid")) continue;
    const name = f.slice(0, -".pid".length);
    const ms = procCpuMs(Number.parseInt(readFileSync(path.join(dir, f), "utf8"), 10));
    if (clients.has(name)) out.clients += ms;
    else out.hubs += ms;
  }
  return out;
}

// ---- one started topology ----

interface Counters {
  hubCpuMs: number;
  clientCpuMs: number;
  pgCpuMs: number;
  callerCpuMs: number;
  hubRequests: number;
  fromStock: number;
  onDemand: number;
  xacts: number;
  walBytes: number;
  /** The run's statements since the start of the phase (pg_stat_statements), at the end only. */
  statements?: Statement[];
}

interface Statement {
  query: string;
  calls: number;
  exec_ms: number;
}

interface Sample {
  encMs: number[];
  decMs: number[];
  pairs: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
}

interface Row {
  run: string;
  storage: "file" | "postgres";
  replicas: number;
  stock: boolean;
  callers: number;
  key_pairs_per_s: number;
  enc_p50_ms: number;
  enc_p99_ms: number;
  dec_p50_ms: number;
  dec_p99_ms: number;
  pairs: number;
  errors: number;
  first_error?: string;
  /** Per key pair: CPU ms of the node processes (hubs + clients), of the hubs, of the clients, of PostgreSQL. */
  node_cpu_ms: number;
  hub_cpu_ms: number;
  client_cpu_ms: number;
  pg_cpu_ms: number;
  /** node_cpu_ms + pg_cpu_ms: what the topology costs per key pair. */
  total_cpu_ms: number;
  caller_cpu_ms: number;
  /** total_cpu_ms in bare HTTP exchanges (this run's machine speed). */
  total_cpu_http_units: number;
  node_cpu_http_units: number;
  pg_cpu_http_units: number;
  http_requests: number;
  pg_xacts: number;
  pg_wal_bytes: number;
  /** Time inside PostgreSQL's executor per key pair (pg_stat_statements, every statement of the run's databases). */
  pg_exec_ms: number;
  /** The statements with the most executor time: calls and ms per key pair. */
  pg_top_statements: { query: string; calls: number; exec_ms: number }[];
  /**
   * What the run's active backends were doing, sampled 10 times a second (pg_stat_activity):
   * mean number of active backends, and the share of them per wait event (CPU = not waiting).
   */
  pg_active_backends: number;
  pg_wait_events: Record<string, number>;
  from_stock: number;
}

/** A row as measured by one started topology (the rest is added once the run is over). */
type RowOfRun = Omit<Row, "total_cpu_http_units" | "node_cpu_http_units" | "pg_cpu_http_units" | "pg_active_backends" | "pg_wait_events">;

class Started {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), "dske-bench-pg-"));
  readonly configFile = path.join(this.dir, "dske-config.yaml");
  readonly stateDir = path.join(this.dir, "state");
  topology!: Topology;
  private clientNames = new Set<string>();
  private pairs: (readonly [string, string])[] = [];

  constructor(
    readonly spec: RunSpec,
    readonly cluster: ThrowawayCluster | undefined,
    private readonly databases: string[],
  ) {}

  async start(): Promise<void> {
    const doc = YAML.parse(readFileSync(path.join(REPO, "dske-config.yaml"), "utf8")) as Record<string, unknown> & {
      hubs: Record<string, unknown>[];
    };
    doc.base_port = BASE_PORT;
    if (!this.spec.stock) doc.key_stock_ahead_ms = 0;
    doc.hubs.forEach((hub, i) => {
      if (this.spec.storage !== "postgres" || !this.cluster) return;
      const db = `${String(hub.name)}_${this.spec.id.replace(/\W/g, "_")}`;
      this.cluster.psql(`CREATE DATABASE ${db}`);
      this.databases.push(db);
      hub.storage = { kind: "postgres", url: `postgresql://postgres@127.0.0.1:${this.cluster.port}/${db}` };
      if (this.spec.replicas > 1) {
        hub.replicas = this.spec.replicas;
        hub.port = REPLICA_BASE_PORT + 4 * i;
      }
    });
    writeFileSync(this.configFile, YAML.stringify(doc));
    this.topology = new Topology(loadConfig(this.configFile));
    this.clientNames = new Set(this.topology.clients.map((c) => c.name));
    const saes = this.topology.allEncryptors();
    this.pairs = saes.flatMap((m) => saes.filter((s) => s !== m).map((s) => [m, s] as const));
    const out = new CapturedOutput();
    // One process per node, as earlier runs were measured.
    const code = await runCli(["--config", this.configFile, "--state-dir", this.stateDir, "start", "--processes", "separate"], { out });
    if (code !== 0) throw new FatalBenchError(`dske-cli start (${this.spec.id}) failed:\n${out.stdout}${out.stderr}`);
    // Up means a key pair goes through (registrations and first bundles done), within a minute.
    const deadline = performance.now() + 60_000;
    for (;;) {
      const s = emptySample();
      await this.round(this.pairs[0][0], this.pairs[0][1], s);
      if (s.pairs === 1) return;
      if (performance.now() > deadline) throw new FatalBenchError(`${this.spec.id}: no key pair within 60 s of start (${s.firstError})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async stop(): Promise<void> {
    const out = new CapturedOutput();
    const code = await runCli(["--config", this.configFile, "--state-dir", this.stateDir, "stop"], { out });
    if (code !== 0) console.error(`dske-cli stop (${this.spec.id}) failed:\n${out.stdout}${out.stderr}`);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private kmeOf(sae: string): NodeSpec {
    const c = this.topology.clientOfSae(sae);
    if (!c) throw new Error(sae);
    return c;
  }

  /** One enc_keys + dec_keys round; a mismatched key throws (fatal). */
  async round(master: string, slave: string, s: Sample): Promise<boolean> {
    const r: KeyPairRound = await keyPairRound(
      nodeBaseUrl(this.kmeOf(master)),
      nodeBaseUrl(this.kmeOf(slave)),
      master,
      slave,
      1,
      KEY_BITS,
    ).catch((err: unknown) => ({ ok: false, error: `no answer: ${String(err)}` }));
    if (!r.ok) {
      s.errors++;
      s.firstError ??= r.error;
      return false;
    }
    const { enc: keys, dec: got } = r;
    if (keys.length !== 1 || got.length !== keys.length || got.some((k, i) => k.key_ID !== keys[i].key_ID || k.key !== keys[i].key)) {
      throw new FatalBenchError(`${this.spec.id}: key mismatch ${master} -> ${slave} (key_ID ${keys[0]?.key_ID ?? "none"})`);
    }
    s.encMs.push(r.encMs);
    s.decMs.push(r.decMs);
    s.pairs++;
    return true;
  }

  async phase(concurrency: number, ms: number): Promise<Sample> {
    const s = emptySample();
    const t0 = performance.now();
    const deadline = t0 + ms;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, w) => {
        let i = w;
        while (performance.now() < deadline) {
          const [m, sl] = this.pairs[i % this.pairs.length];
          i += concurrency;
          if (!(await this.round(m, sl, s))) await new Promise((r) => setTimeout(r, 20));
        }
      }),
    );
    s.elapsedMs = performance.now() - t0;
    return s;
  }

  /** PostgreSQL transactions committed and WAL bytes written so far (summed over the bench's databases). */
  private pgStats(): { xacts: number; walBytes: number } {
    if (!this.cluster || this.databases.length === 0) return { xacts: 0, walBytes: 0 };
    const list = this.databases.map((d) => `'${d}'`).join(",");
    const [xacts, wal] = this.cluster
      .psql(`SELECT (SELECT sum(xact_commit) FROM pg_stat_database WHERE datname IN (${list})), (SELECT wal_bytes FROM pg_stat_wal)`)
      .trim()
      .split("|");
    return { xacts: Number(xacts), walBytes: Number(wal) };
  }

  /**
   * Samples pg_stat_activity 10 times a second through one psql session (`\watch`) until stopped:
   * the mean number of active backends of the run's databases and their wait events.
   */
  sampleWaits(): () => Promise<{ active: number; events: Record<string, number> }> {
    if (!this.cluster || this.databases.length === 0) return () => Promise.resolve({ active: 0, events: {} });
    const list = this.databases.map((d) => `'${d}'`).join(",");
    const psql = spawn(
      path.join(requirePgBinaries().binDir, "psql"),
      ["-h", "127.0.0.1", "-p", String(this.cluster.port), "-U", "postgres", "-d", "postgres", "-XAtq"],
      { stdio: ["pipe", "pipe", "ignore"] },
    );
    let text = "";
    psql.stdout.on("data", (d: Buffer) => (text += d.toString()));
    psql.stdin.write(
      "SELECT '#sample', 1 UNION ALL SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), count(*) " +
        `FROM pg_stat_activity WHERE datname IN (${list}) AND state = 'active' AND pid <> pg_backend_pid() GROUP BY 1\n\\watch 0.1\n`,
    );
    return async () => {
      await new Promise<void>((resolve) => {
        psql.once("close", () => resolve());
        psql.kill("SIGINT");
        psql.stdin.end();
      });
      let samples = 0;
      let active = 0;
      const counts: Record<string, number> = {};
      for (const line of text.split("\n")) {
        const m = /^(.+)\|(\d+)$/.exec(line);
        if (!m) continue;
        if (m[1] === "#sample") samples++;
        else {
          counts[m[1]] = (counts[m[1]] ?? 0) + Number(m[2]);
          active += Number(m[2]);
        }
      }
      const events = Object.fromEntries(
        Object.entries(counts)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => [k, v / Math.max(1, active)]),
      );
      return { active: active / Math.max(1, samples), events };
    };
  }

  /** Every statement run in the bench's databases since the last reset (pg_stat_statements). */
  private statements(): Statement[] {
    if (!this.cluster || this.databases.length === 0) return [];
    const list = this.databases.map((d) => `'${d}'`).join(",");
    const text = this.cluster.psql(
      "SELECT regexp_replace(left(s.query, 400), '\\s+', ' ', 'g'), sum(s.calls), sum(s.total_exec_time) " +
        `FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname IN (${list}) GROUP BY 1 ORDER BY 3 DESC`,
    );
    return text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => {
        const parts = l.split("|");
        const execMs = Number(parts.pop());
        const calls = Number(parts.pop());
        return { query: parts.join("|"), calls, exec_ms: execMs };
      });
  }

  async counters(edge: "start" | "end"): Promise<Counters> {
    // psql's own backend stays outside the interval: stats first at the start, last at the end.
    const pgBefore = edge === "start" ? this.pgStats() : undefined;
    if (edge === "start" && this.cluster) this.cluster.psql("SELECT pg_stat_statements_reset()");
    const nodes = nodesCpuMs(this.stateDir, this.clientNames);
    const pgCpuMs = clusterCpuMs(this.spec.storage === "postgres" ? this.cluster : undefined);
    const cpu = process.cpuUsage();
    const pg = pgBefore ?? this.pgStats();
    const statements = edge === "end" ? this.statements() : undefined;
    let hubRequests = 0;
    let fromStock = 0;
    let onDemand = 0;
    for (const c of this.topology.clients) {
      const r = await probeNode(c, 10_000, { token: readOperatorToken(this.stateDir) });
      const st =
        r.state === "up"
          ? (r.status as { io?: { hub_requests?: number }; keys?: { issued_from_stock?: number; issued_on_demand?: number } })
          : undefined;
      hubRequests += st?.io?.hub_requests ?? Number.NaN;
      fromStock += st?.keys?.issued_from_stock ?? Number.NaN;
      onDemand += st?.keys?.issued_on_demand ?? Number.NaN;
    }
    return {
      hubCpuMs: nodes.hubs,
      clientCpuMs: nodes.clients,
      pgCpuMs,
      callerCpuMs: (cpu.user + cpu.system) / 1000,
      hubRequests,
      fromStock,
      onDemand,
      xacts: pg.xacts,
      walBytes: pg.walBytes,
      ...(statements ? { statements } : {}),
    };
  }

  row(callers: number, s: Sample, c0: Counters, c1: Counters): RowOfRun {
    const per = (x: number) => (s.pairs > 0 ? x / s.pairs : Number.NaN);
    const hub = per(c1.hubCpuMs - c0.hubCpuMs);
    const client = per(c1.clientCpuMs - c0.clientCpuMs);
    const pg = per(c1.pgCpuMs - c0.pgCpuMs);
    return {
      run: this.spec.id,
      storage: this.spec.storage,
      replicas: this.spec.replicas,
      stock: this.spec.stock,
      callers,
      key_pairs_per_s: s.pairs / (s.elapsedMs / 1000),
      enc_p50_ms: pct(s.encMs, 50),
      enc_p99_ms: pct(s.encMs, 99),
      dec_p50_ms: pct(s.decMs, 50),
      dec_p99_ms: pct(s.decMs, 99),
      pairs: s.pairs,
      errors: s.errors,
      ...(s.firstError ? { first_error: s.firstError } : {}),
      node_cpu_ms: hub + client,
      hub_cpu_ms: hub,
      client_cpu_ms: client,
      pg_cpu_ms: pg,
      total_cpu_ms: hub + client + pg,
      caller_cpu_ms: per(c1.callerCpuMs - c0.callerCpuMs),
      http_requests: per(2 * (s.pairs + s.errors) + (c1.hubRequests - c0.hubRequests)),
      pg_xacts: per(c1.xacts - c0.xacts),
      pg_wal_bytes: per(c1.walBytes - c0.walBytes),
      pg_exec_ms: per((c1.statements ?? []).reduce((a, st) => a + st.exec_ms, 0)),
      pg_top_statements: (c1.statements ?? [])
        .slice(0, 6)
        .map((st) => ({ query: st.query, calls: per(st.calls), exec_ms: per(st.exec_ms) })),
      from_stock: (c1.fromStock - c0.fromStock) / Math.max(1, c1.fromStock - c0.fromStock + c1.onDemand - c0.onDemand),
    };
  }
}

function emptySample(): Sample {
  return { encMs: [], decMs: [], pairs: 0, errors: 0, elapsedMs: 0 };
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

async function main(): Promise<void> {
  const tStart = performance.now();
  const runs: RunSpec[] = [
    { id: "file, stock off", storage: "file", replicas: 1, stock: false },
    { id: "postgres, stock off", storage: "postgres", replicas: 1, stock: false },
    { id: "file, stock on", storage: "file", replicas: 1, stock: true },
    { id: "postgres, stock on", storage: "postgres", replicas: 1, stock: true },
    ...(PG_REPLICAS > 1
      ? [{ id: `postgres x${PG_REPLICAS}, stock on`, storage: "postgres" as const, replicas: PG_REPLICAS, stock: true }]
      : []),
  ];
  console.log(`e2e-postgres bench: default topology, ports ${PG_PORT} (cluster) and ${BASE_PORT}-${REPLICA_BASE_PORT + 19}`);
  const refBefore = await referenceHttpCpuMs();
  // Room for 5 hubs × replicas × (state pool 4 + PSRD pool 10) sessions.
  // pg_stat_statements: where PostgreSQL's time goes, per statement.
  const cluster = await startThrowawayCluster({
    port: PG_PORT,
    settings: { max_connections: 300, shared_preload_libraries: "pg_stat_statements" },
  });
  const rows: Omit<Row, "total_cpu_http_units" | "node_cpu_http_units" | "pg_cpu_http_units">[] = [];
  const loadBefore = os.loadavg();
  try {
    cluster.psql("CREATE EXTENSION pg_stat_statements");
    for (const spec of runs) {
      const t = new Started(spec, spec.storage === "postgres" ? cluster : undefined, []);
      const t0 = performance.now();
      try {
        await t.start();
        console.log(`${spec.id}: up in ${f((performance.now() - t0) / 1000)} s`);
        for (const callers of [1, CONCURRENCY]) {
          const warm = await t.phase(callers, WARMUP_MS);
          if (warm.errors > 0) console.log(`  warm-up (${callers} callers): ${warm.errors} errors (${warm.firstError})`);
          const c0 = await t.counters("start");
          const waits = t.sampleWaits();
          const s = await t.phase(callers, PHASE_MS);
          const w = await waits();
          const c1 = await t.counters("end");
          if (s.pairs === 0) throw new FatalBenchError(`${spec.id}, ${callers} callers: no key pair in ${PHASE_MS} ms (${s.firstError})`);
          rows.push({ ...t.row(callers, s, c0, c1), pg_active_backends: w.active, pg_wait_events: w.events });
          console.log(`  ${callers} caller(s): ${s.pairs} key pairs, ${s.errors} errors${s.firstError ? ` (${s.firstError})` : ""}`);
        }
      } finally {
        await t.stop();
      }
    }
  } finally {
    await cluster.stop();
  }
  const loadAfter = os.loadavg();
  const refAfter = await referenceHttpCpuMs();
  agent.destroy();
  const ref = (refBefore + refAfter) / 2;
  const full: Row[] = rows.map((r) => ({
    ...r,
    total_cpu_http_units: r.total_cpu_ms / ref,
    node_cpu_http_units: r.node_cpu_ms / ref,
    pg_cpu_http_units: r.pg_cpu_ms / ref,
  }));

  console.log("");
  console.log(
    `End-to-end, number=1, ${KEY_BITS}-bit keys, 5 hubs, k=3, loopback, ${PHASE_MS / 1000} s per scenario after ${WARMUP_MS / 1000} s of warm-up`,
  );
  console.log(
    "| run | callers | key pairs/s | enc p50 | enc p99 | dec p50 | dec p99 | errors | CPU ms/pair: hubs | clients | postgres | total | in HTTP units | pg xacts/pair | WAL B/pair | from stock |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of full) {
    console.log(
      `| ${r.run} | ${r.callers} | ${f(r.key_pairs_per_s)} | ${f(r.enc_p50_ms, 2)} | ${f(r.enc_p99_ms, 2)} | ${f(r.dec_p50_ms, 2)} | ${f(r.dec_p99_ms, 2)} | ${r.errors} | ${f(r.hub_cpu_ms, 2)} | ${f(r.client_cpu_ms, 2)} | ${f(r.pg_cpu_ms, 2)} | ${f(r.total_cpu_ms, 2)} | ${f(r.total_cpu_http_units, 1)} | ${f(r.pg_xacts, 1)} | ${f(r.pg_wal_bytes, 0)} | ${f(100 * r.from_stock, 0)} % |`,
    );
  }
  // Same-run ratios: each postgres row against the file row with the same stock setting and callers.
  const ratios = full
    .filter((r) => r.storage === "postgres")
    .flatMap((r) => {
      const base = full.find((b) => b.storage === "file" && b.stock === r.stock && b.callers === r.callers);
      if (!base) return [];
      return [
        {
          run: r.run,
          callers: r.callers,
          key_pairs_per_s: r.key_pairs_per_s / base.key_pairs_per_s,
          enc_p50_ms: r.enc_p50_ms / base.enc_p50_ms,
          dec_p50_ms: r.dec_p50_ms / base.dec_p50_ms,
          total_cpu_ms: r.total_cpu_ms / base.total_cpu_ms,
          hub_cpu_ms: r.hub_cpu_ms / base.hub_cpu_ms,
        },
      ];
    });
  console.log("");
  console.log("Same-run ratios postgres / file (same stock setting, same callers)");
  console.log("| run | callers | key pairs/s | enc p50 | dec p50 | total CPU/pair | hub CPU/pair |\n|---|---:|---:|---:|---:|---:|---:|");
  for (const r of ratios) {
    console.log(
      `| ${r.run} | ${r.callers} | ${f(r.key_pairs_per_s, 2)}x | ${f(r.enc_p50_ms, 2)}x | ${f(r.dec_p50_ms, 2)}x | ${f(r.total_cpu_ms, 2)}x | ${f(r.hub_cpu_ms, 2)}x |`,
    );
  }
  console.log("");
  console.log(
    "Where PostgreSQL's time goes (pg_stat_statements, per key pair: executor ms, then the top statements: calls, ms, ms per call)",
  );
  for (const r of full.filter((x) => x.storage === "postgres")) {
    console.log(`  ${r.run}, ${r.callers} caller(s): ${f(r.pg_exec_ms, 2)} ms in the executor, ${f(r.pg_cpu_ms, 2)} ms postgres CPU`);
    const waits = Object.entries(r.pg_wait_events)
      .slice(0, 5)
      .map(([k, v]) => `${k} ${f(100 * v, 0)} %`)
      .join(", ");
    console.log(`    active backends ${f(r.pg_active_backends, 2)} on average: ${waits}`);
    for (const st of r.pg_top_statements.slice(0, 4))
      console.log(`    ${f(st.calls, 2)} calls ${f(st.exec_ms, 2)} ms (${f(st.exec_ms / st.calls, 2)} ms each)  ${st.query.slice(0, 100)}`);
  }
  console.log(`bare HTTP exchange: ${f(ref, 3)} ms CPU (${f(refBefore, 3)} before, ${f(refAfter, 3)} after)`);

  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(
    OUT,
    `${JSON.stringify(
      {
        bench: "e2e-postgres",
        date: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        topology: { hubs: 5, clients: 5, k: 3, key_bits: KEY_BITS, number: 1 },
        phase_ms: PHASE_MS,
        warmup_ms: WARMUP_MS,
        reference_http_cpu_ms: { before: refBefore, after: refAfter, mean: ref },
        /** 1/5/15-minute load averages before and after the runs: a shared machine distorts the wall-clock figures. */
        loadavg: { before: loadBefore, after: loadAfter },
        rows: full,
        ratios_postgres_over_file: ratios,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nwrote ${OUT}\ntotal ${f((performance.now() - tStart) / 1000)} s`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
