/**
 * Lean nodes (issue 16): memory per node and start-up time of the default topology (5 hubs,
 * 5 clients) with one process per node (`processes: separate`) and with the nodes in
 * one node host process (`processes: shared`, the default), measured side by side in one run.
 *
 * Per mode:
 * - start: wall time of `dske-cli start` (the built bin, as an operator runs it) until every node
 *   answers and every client is registered with every hub: the median of 3 first starts (each on a
 *   fresh state dir: PSRD bundles issued and installed) and of 3 restarts (state kept). Shared mode
 *   also times 3 first starts without the standby host (DSKE_NO_STANDBY_HOST=1, standby-host.ts),
 *   alternating with the others, for a same-run ratio.
 * - idle: RSS per node (the sum over the distinct node processes / 10) 5 s after a start, and
 *   where it went: /proc/PID/smaps_rollup (anonymous: V8 heaps, code and malloc; file-backed: the
 *   node executable and libraries, shared between processes and counted in each one's RSS) and
 *   the V8 heap in use (process.memoryUsage of the node via its /metrics: nodejs_heap_size_used_bytes).
 * - load: 16 SAE callers, enc_keys then dec_keys (number=1, 256-bit keys), for LOAD_MS after a
 *   warm-up; the peak of RSS per node sampled every 200 ms, key pairs/s and node CPU per key pair.
 *
 * Targets (issue 16): ≤ 45 MB per idle node, ≤ 60 MB per node under load, start ≤ 1.5 s.
 * Writes bench-results/lean.json. Run: pnpm --filter @dske/cli bench:lean (after pnpm -r build).
 * DSKE_BENCH_LOAD_MS / DSKE_BENCH_WARMUP_MS: the load phase (default 15 s) and its warm-up (5 s).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config";
import { operatorHeaders } from "../src/mgmt";
import { readOperatorToken } from "../src/operator-token";
import { nodeBaseUrl, Topology } from "../src/topology";
import { keyPairRound, nodeCpuMsOf } from "./bench-http";

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, "../../..");
const BIN = path.join(REPO, "packages/dske-cli/dist/bin.js");
const OUT = process.env.DSKE_BENCH_OUT ? path.resolve(process.env.DSKE_BENCH_OUT) : path.join(REPO, "bench-results", "lean.json");
const BASE_PORT = Number(process.env.DSKE_BENCH_BASE_PORT ?? 18960);
const LOAD_MS = Number(process.env.DSKE_BENCH_LOAD_MS ?? 15_000);
const WARMUP_MS = Number(process.env.DSKE_BENCH_WARMUP_MS ?? 5_000);
const CALLERS = 16;
const RESTARTS = 3;
/** First starts per mode (each on a fresh state dir); shared mode also as many without the standby host. */
const FIRSTS = 3;
const TARGETS = { idle_mb_per_node: 45, load_mb_per_node: 60, start_s: 1.5 };
const MODES = ["separate", "shared"] as const;
type Mode = (typeof MODES)[number];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 180_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`dske-cli ${args.join(" ")} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve((performance.now() - t0) / 1000);
    });
  });
}

/** The distinct node processes (pid files of the state dir). */
function nodePids(stateDir: string): number[] {
  const dir = path.join(stateDir, "pids");
  return [...new Set(readdirSync(dir).map((f) => Number.parseInt(readFileSync(path.join(dir, f), "utf8"), 10)))];
}

interface Rollup {
  rss: number;
  pss: number;
  anonymous: number;
}
/** MB from /proc/PID/smaps_rollup. */
function rollup(pid: number): Rollup {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? Number.NaN);
  return { rss: kb("Rss") / 1024, pss: kb("Pss") / 1024, anonymous: kb("Anonymous") / 1024 };
}
function sumRollups(pids: number[]): Rollup {
  return pids.map(rollup).reduce((a, b) => ({ rss: a.rss + b.rss, pss: a.pss + b.pss, anonymous: a.anonymous + b.anonymous }));
}

async function heapUsedMb(topology: Topology, stateDir: string): Promise<number> {
  // One node per process: the V8 heap in use of every node process (shared: the one host).
  const seen = new Map<number, string>();
  const dir = path.join(stateDir, "pids");
  for (const n of topology.nodes) {
    const pid = Number.parseInt(readFileSync(path.join(dir, `${n.name}.pid`), "utf8"), 10);
    if (!seen.has(pid)) seen.set(pid, n.name);
  }
  let total = 0;
  for (const name of seen.values()) {
    const node = topology.nodes.find((n) => n.name === name);
    if (node === undefined) continue;
    const res = await fetch(`${nodeBaseUrl(node)}/metrics`, { headers: operatorHeaders({ token: readOperatorToken(stateDir) }) });
    const m = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\d+(?:\.\d+)?)/m.exec(await res.text());
    total += m ? Number(m[1]) / 2 ** 20 : Number.NaN;
  }
  return total;
}

async function measure(mode: Mode) {
  const dir = mkdtempSync(path.join(tmpdir(), `dske-lean-${mode}-`));
  const configFile = path.join(dir, "dske-config.yaml");
  const stateDir = path.join(dir, "state");
  writeFileSync(
    configFile,
    readFileSync(path.join(REPO, "dske-config.yaml"), "utf8").replace(/^base_port:.*$/m, `base_port: ${BASE_PORT}`),
  );
  const topology = new Topology(loadConfig(configFile));
  const cli = (...args: string[]) => run(["--config", configFile, "--state-dir", stateDir, ...args]);
  const startArgs = ["start", "--processes", mode];
  // First starts (PSRD issued and installed): FIRSTS - 1 on fresh state dirs of their own, stopped
  // after, and the last on the state dir the rest of the run uses. Shared mode also as many without
  // the standby host (standby-host.ts), alternating, for a same-run ratio.
  const firsts: number[] = [];
  const firstsNoStandby: number[] = [];
  const startFresh = async (name: string, env: NodeJS.ProcessEnv = {}) => {
    const fresh = ["--config", configFile, "--state-dir", path.join(dir, name)];
    const s = await run([...fresh, ...startArgs], env);
    await run([...fresh, "stop"]);
    return s;
  };
  try {
    for (let i = 0; i < FIRSTS; i++) {
      if (mode === "shared") firstsNoStandby.push(await startFresh(`first-${i}-no-standby`, { DSKE_NO_STANDBY_HOST: "1" }));
      firsts.push(i < FIRSTS - 1 ? await startFresh(`first-${i}`) : await cli(...startArgs));
    }
    const restarts: number[] = [];
    for (let i = 0; i < RESTARTS; i++) {
      await cli("stop");
      restarts.push(await cli(...startArgs));
    }
    await sleep(5000);
    const pids = nodePids(stateDir);
    const idle = sumRollups(pids);
    const idleHeap = await heapUsedMb(topology, stateDir);

    // Load: 16 callers over the SAE pairs, number=1.
    const saes = topology.allEncryptors();
    const pairs = saes.flatMap((m) => saes.filter((s) => s !== m).map((s) => [m, s] as const));
    const kme = (sae: string) => {
      const c = topology.clientOfSae(sae);
      if (c === undefined) throw new Error(sae);
      return nodeBaseUrl(c);
    };
    let keyPairs = 0;
    let errors = 0;
    let counting = false;
    let stopAt = performance.now() + WARMUP_MS + LOAD_MS;
    let peakRss = 0;
    const sampler = setInterval(() => {
      if (!counting) return;
      try {
        peakRss = Math.max(
          peakRss,
          pids.map((p) => rollup(p).rss).reduce((a, b) => a + b),
        );
      } catch {
        // a process gone: the load loop reports the errors
      }
    }, 200);
    const callers = Array.from({ length: CALLERS }, async (_, i) => {
      let j = i;
      while (performance.now() < stopAt) {
        const [m, s] = pairs[j++ % pairs.length];
        const r = await keyPairRound(kme(m), kme(s), m, s, 1);
        if (!r.ok) errors++;
        else if (counting) keyPairs++;
      }
    });
    await sleep(WARMUP_MS);
    counting = true;
    const cpu0 = nodeCpuMsOf(path.join(stateDir, "pids"));
    const t0 = performance.now();
    stopAt = t0 + LOAD_MS;
    await Promise.all(callers);
    const seconds = (performance.now() - t0) / 1000;
    const cpuMs = nodeCpuMsOf(path.join(stateDir, "pids")) - cpu0;
    clearInterval(sampler);
    const loaded = sumRollups(pids);
    await cli("stop");
    const n = topology.nodes.length;
    return {
      mode,
      node_processes: pids.length,
      start_first_s: round(median(firsts), 2),
      start_firsts_s: firsts.map((x) => round(x, 2)),
      ...(firstsNoStandby.length > 0
        ? {
            start_first_no_standby_s: round(median(firstsNoStandby), 2),
            start_firsts_no_standby_s: firstsNoStandby.map((x) => round(x, 2)),
          }
        : {}),
      start_restart_median_s: round(median(restarts), 2),
      start_restarts_s: restarts.map((x) => round(x, 2)),
      idle: {
        rss_mb_per_node: round(idle.rss / n),
        rss_mb_total: round(idle.rss),
        pss_mb_per_node: round(idle.pss / n),
        anonymous_mb_per_node: round(idle.anonymous / n),
        file_backed_mb_per_node: round((idle.rss - idle.anonymous) / n),
        v8_heap_used_mb_per_node: round(idleHeap / n),
      },
      load: {
        callers: CALLERS,
        seconds: round(seconds),
        key_pairs_per_s: round(keyPairs / seconds),
        errors,
        peak_rss_mb_per_node: round(peakRss / n),
        end_rss_mb_per_node: round(loaded.rss / n),
        end_anonymous_mb_per_node: round(loaded.anonymous / n),
        node_cpu_ms_per_key_pair: round(cpuMs / Math.max(1, keyPairs), 2),
      },
    };
  } finally {
    await cli("stop").catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

const results: Awaited<ReturnType<typeof measure>>[] = [];
for (const mode of MODES) {
  console.log(`lean: measuring processes: ${mode} ...`);
  results.push(await measure(mode));
}
const byMode = Object.fromEntries(results.map((r) => [r.mode, r])) as Record<Mode, (typeof results)[number]>;
const met = (r: (typeof results)[number]) => ({
  idle_mb_per_node: r.idle.rss_mb_per_node <= TARGETS.idle_mb_per_node,
  load_mb_per_node: r.load.peak_rss_mb_per_node <= TARGETS.load_mb_per_node,
  start_s: r.start_restart_median_s <= TARGETS.start_s && r.start_first_s <= TARGETS.start_s,
});
const report = {
  bench: "lean nodes: memory per node and start-up, one process per node vs one node host",
  date: new Date().toISOString(),
  targets: TARGETS,
  results,
  met: { separate: met(byMode.separate), shared: met(byMode.shared) },
  shared_vs_separate: {
    idle_rss_per_node: round(byMode.shared.idle.rss_mb_per_node / byMode.separate.idle.rss_mb_per_node, 2),
    peak_rss_per_node_under_load: round(byMode.shared.load.peak_rss_mb_per_node / byMode.separate.load.peak_rss_mb_per_node, 2),
    start_restart: round(byMode.shared.start_restart_median_s / byMode.separate.start_restart_median_s, 2),
    key_pairs_per_s: round(byMode.shared.load.key_pairs_per_s / byMode.separate.load.key_pairs_per_s, 2),
    cpu_per_key_pair: round(byMode.shared.load.node_cpu_ms_per_key_pair / byMode.separate.load.node_cpu_ms_per_key_pair, 2),
  },
};
mkdirSync(path.dirname(OUT), { recursive: true });
writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
console.log(`written: ${path.relative(REPO, OUT)}`);
