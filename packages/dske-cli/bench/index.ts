/**
 * End-to-end benchmark: the default topology (5 hubs, 5 clients, k = 3) as real processes on
 * loopback (base port 18900, temp state dir), 256-bit keys over ETSI GS QKD 014.
 *
 * Measures key pairs per second and p50/p99 latency of enc_keys and dec_keys, sequential and with
 * 16 concurrent SAE callers, for number=1 and number=100; PSRD bytes consumed per established key
 * from the clients' pool counters (every PSRD byte sits in exactly one client<->hub pool pair and
 * is counted once, on the client's side) against the floor and against the reference
 * implementation's published figures. Writes bench-results/e2e.json.
 *
 * Next to the wall-clock figures (distorted on a shared machine) it reports load-independent
 * costs per key pair: CPU ms summed over all 10 node processes (/proc/<pid>/stat) and of the
 * bench's own SAE callers, HTTP requests (2 ETSI calls + the clients' hub calls, from their
 * status `io.hub_requests`) and fsync/fdatasync calls (status `io.fsyncs` of every node), each
 * paired with the previous run's figure (ratio) when bench-results/e2e.json has one.
 * The SAE callers use node:http with a keep-alive agent (a lean caller: its CPU competes with
 * the nodes for the same 2 cores).
 * DSKE_BENCH_STOCK_AHEAD_MS=0 turns the key stock off (every enc_keys on demand).
 * DSKE_BENCH_SCENARIOS=s1,c1,s100,c100 selects scenarios (default all); DSKE_BENCH_PHASE_MS the length
 * of a measured phase (default 10 s), DSKE_BENCH_WARMUP_MS the warm-up before each (default 15 s),
 * DSKE_BENCH_OUT=FILE writes the result to FILE instead of bench-results/ (A/B runs).
 * The cold path alone (issue 13: an idle pair, key stock off, one caller), shortened:
 *   DSKE_BENCH_STOCK_AHEAD_MS=0 DSKE_BENCH_SCENARIOS=s1 DSKE_BENCH_WARMUP_MS=5000 \
 *   DSKE_BENCH_OUT=$(mktemp) pnpm --filter @dske/cli bench
 *
 * Steady state: every scenario is measured after a warm-up with the same load (same number and
 * callers), not before. Node processes need tens of seconds of a load before V8 has optimised the
 * code it runs and stopped recompiling (perf on the nodes: 14-18 % of all CPU in TurboFan 15 s
 * into a number=100 load, 2-4 % after 50 s), and the PSRD pools and key stocks must have grown to
 * the load; a KME runs for days. The warm-up's keys count in nothing.
 *
 * Run: pnpm --filter @dske/cli bench   (needs `pnpm -r build` first: it spawns the built servers)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runCli } from "../src/cli";
import { loadConfig } from "../src/config";
import { probeNode, type OperatorCredential } from "../src/mgmt";
import { readOperatorToken } from "../src/operator-token";
import { CapturedOutput } from "../src/output";
import { nodeBaseUrl, Topology, type NodeSpec } from "../src/topology";
import { agent, keyPairRound, nodeCpuMsOf, pct, referenceHttpCpuMs } from "./bench-http";

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, "../../..");
const RESULTS = path.join(REPO, "bench-results", "e2e.json");
/** A run of selected scenarios only writes e2e-partial.json (the full result file stays whole). */
const PARTIAL = process.env.DSKE_BENCH_SCENARIOS !== undefined;
/** DSKE_BENCH_OUT=FILE (diagnostics, A/B runs): write the result there instead of bench-results/. */
const OUT = process.env.DSKE_BENCH_OUT
  ? path.resolve(process.env.DSKE_BENCH_OUT)
  : PARTIAL
    ? path.join(REPO, "bench-results", "e2e-partial.json")
    : RESULTS;
/** DSKE_BENCH_BASE_PORT (diagnostics): another base port, e.g. for two benches side by side. */
const BASE_PORT = Number(process.env.DSKE_BENCH_BASE_PORT ?? 18900);
const KEY_BITS = 256;
const PHASE_MS = Number(process.env.DSKE_BENCH_PHASE_MS ?? 10_000);
const WARMUP_MS = Number(process.env.DSKE_BENCH_WARMUP_MS ?? 15_000);
const CONCURRENCY = 16;

// Reference implementation (dske-python), issue #4: 2 cores, loopback, default topology.
const REFERENCE = {
  enc_p50_ms: 135,
  enc_p99_ms: 233,
  dec_p50_ms: 12,
  kp_per_s_seq: 6.2,
  kp_per_s_conc8: 7.6,
  psrd_per_256_bit_key: 960,
  psrd_per_128_bit_key: 800,
};
// Floor (notes/dske-crypto.md §2(d), SYSTEM.md): per share leg (n on the master side, k on the
// responder side) one-time pad of the secret S = key (L bytes) + 16-byte check word, plus a
// 16-byte gf128 tag on the request and on the response: (n + k)·(L + 16 + 16 + 16) = 640 for
// L = 32, n = 5, k = 3. With batching (number=100) the tags are shared by the whole batch, so
// the per-key floor of a batch tends to (n + k)·(L + 16) = 384.
const N_HUBS = 5;
const K = 3;
const L = KEY_BITS / 8;
const FLOOR = (N_HUBS + K) * (L + 16 + 16 + 16);
const FLOOR_BATCH = (N_HUBS + K) * (L + 16);
const TARGETS = { kp_per_s_n1_c16: 500, keys_per_s_n100_c16: 5000, enc_p50_ms: 5, psrd_per_key: 700 };

const dir = mkdtempSync(path.join(tmpdir(), "dske-bench-"));
const configFile = path.join(dir, "dske-config.yaml");
writeFileSync(
  configFile,
  readFileSync(path.join(REPO, "dske-config.yaml"), "utf8")
    .replace(/^base_port:.*$/m, `base_port: ${BASE_PORT}`)
    // DSKE_BENCH_STOCK_AHEAD_MS (diagnostics): the key stock's look-ahead; 0 = every enc_keys on demand.
    .replace(/^key_stock_ahead_ms:.*$/m, (line) =>
      process.env.DSKE_BENCH_STOCK_AHEAD_MS ? `key_stock_ahead_ms: ${Number(process.env.DSKE_BENCH_STOCK_AHEAD_MS)}` : line,
    ),
);
const stateDir = path.join(dir, "state");
/** The operator token `dske-cli start` created in the state dir (management status and metrics). */
const operator = (): OperatorCredential => ({ token: readOperatorToken(stateDir) });
const topology = new Topology(loadConfig(configFile));
const SCENARIOS = new Set((process.env.DSKE_BENCH_SCENARIOS ?? "s1,c1,s100,c100").split(","));

/** CPU ms (user + system) of every node process, or of the hubs only. */
function nodeCpuMs(only?: "hubs"): number {
  return nodeCpuMsOf(path.join(stateDir, "pids"), only === "hubs" ? new Set(topology.hubs.map((h) => h.name)) : undefined);
}

interface Counters {
  nodeCpuMs: number;
  hubCpuMs: number;
  callerCpuMs: number;
  hubRequests: number;
  fsyncs: number;
  /** Keys handed to master SAEs from the key stock / established on demand (client status `keys`). */
  fromStock: number;
  onDemand: number;
}

/** CPU, hub requests and fsyncs so far (status `io` of every node; NaN when a node lacks it). */
async function counters(): Promise<Counters> {
  let hubRequests = 0;
  let fsyncs = 0;
  let fromStock = 0;
  let onDemand = 0;
  for (const node of [...topology.hubs, ...topology.clients]) {
    const r = await probeNode(node, 10_000, operator());
    const st =
      r.state === "up"
        ? (r.status as {
            io?: { fsyncs?: number; hub_requests?: number };
            keys?: { issued_from_stock?: number; issued_on_demand?: number };
          })
        : undefined;
    fsyncs += st?.io?.fsyncs ?? Number.NaN;
    if (topology.clients.includes(node)) {
      hubRequests += st?.io?.hub_requests ?? Number.NaN;
      fromStock += st?.keys?.issued_from_stock ?? Number.NaN;
      onDemand += st?.keys?.issued_on_demand ?? Number.NaN;
    }
  }
  const cpu = process.cpuUsage();
  return {
    nodeCpuMs: nodeCpuMs(),
    hubCpuMs: nodeCpuMs("hubs"),
    callerCpuMs: (cpu.user + cpu.system) / 1000,
    hubRequests,
    fsyncs,
    fromStock,
    onDemand,
  };
}

const saes = topology.allEncryptors();
const pairs = saes.flatMap((m) => saes.filter((s) => s !== m).map((s) => [m, s] as const));

function kmeOf(sae: string): NodeSpec {
  const c = topology.clientOfSae(sae);
  if (!c) throw new Error(sae);
  return c;
}

async function cli(...args: string[]): Promise<void> {
  const out = new CapturedOutput();
  const code = await runCli(["--config", configFile, "--state-dir", stateDir, ...args], { out });
  if (code !== 0) throw new Error(`dske-cli ${args.join(" ")} failed:\n${out.stdout}${out.stderr}`);
}

interface Sample {
  encMs: number[];
  decMs: number[];
  pairs: number;
  keys: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
}

/** One enc_keys + dec_keys round for (master, slave); returns false on an error. */
async function round(master: string, slave: string, number: number, s: Sample): Promise<boolean> {
  const r = await keyPairRound(nodeBaseUrl(kmeOf(master)), nodeBaseUrl(kmeOf(slave)), master, slave, number, KEY_BITS);
  if (!r.ok) {
    s.errors++;
    s.firstError ??= r.error;
    return false;
  }
  if (r.dec.length !== r.enc.length || r.dec.some((k, i) => k.key !== r.enc[i].key)) {
    s.errors++;
    s.firstError ??= "key mismatch";
    return false;
  }
  s.encMs.push(r.encMs);
  s.decMs.push(r.decMs);
  s.pairs++;
  s.keys += r.enc.length;
  return true;
}

async function phase(number: number, concurrency: number, ms = PHASE_MS): Promise<Sample> {
  const s: Sample = { encMs: [], decMs: [], pairs: 0, keys: 0, errors: 0, elapsedMs: 0 };
  const t0 = performance.now();
  const deadline = t0 + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      let i = w;
      while (performance.now() < deadline) {
        const [m, sl] = pairs[i % pairs.length];
        i += concurrency;
        const ok = await round(m, sl, number, s);
        if (!ok) await new Promise((r) => setTimeout(r, 20));
      }
    }),
  );
  s.elapsedMs = performance.now() - t0;
  return s;
}

/** Total PSRD bytes consumed so far, summed over every client's pools with every hub. */
async function psrdUsed(): Promise<number> {
  let total = 0;
  for (const c of topology.clients) {
    const r = await probeNode(c, 10_000, operator());
    if (r.state !== "up") throw new Error(`${c.name} down`);
    const st = r.status as { peer_hubs?: { pools?: Record<string, { used?: number }> }[] };
    for (const h of st.peer_hubs ?? []) {
      for (const p of Object.values(h.pools ?? {})) total += p.used ?? 0;
    }
  }
  return total;
}

interface Row {
  scenario: string;
  number: number;
  concurrency: number;
  key_pairs_per_s: number;
  keys_per_s: number;
  enc_p50_ms: number;
  enc_p99_ms: number;
  dec_p50_ms: number;
  dec_p99_ms: number;
  requests: number;
  errors: number;
  first_error?: string;
  /** Per key pair (number=1) or per key (number=100): costs independent of machine load. */
  node_cpu_ms_per_key: number;
  /** The hubs' part of node_cpu_ms_per_key (the rest is the clients'). */
  hub_cpu_ms_per_key: number;
  caller_cpu_ms_per_key: number;
  http_requests_per_key: number;
  fsyncs_per_key: number;
  /** Share of the keys handed out from the key stock (the rest was established on demand). */
  from_stock: number;
}

function row(scenario: string, number: number, concurrency: number, s: Sample, c0: Counters, c1: Counters): Row {
  const secs = s.elapsedMs / 1000;
  const per = (x: number) => (s.keys > 0 ? x / s.keys : Number.NaN);
  return {
    scenario,
    number,
    concurrency,
    key_pairs_per_s: s.pairs / secs,
    keys_per_s: s.keys / secs,
    enc_p50_ms: pct(s.encMs, 50),
    enc_p99_ms: pct(s.encMs, 99),
    dec_p50_ms: pct(s.decMs, 50),
    dec_p99_ms: pct(s.decMs, 99),
    requests: s.pairs,
    errors: s.errors,
    ...(s.firstError ? { first_error: s.firstError } : {}),
    node_cpu_ms_per_key: per(c1.nodeCpuMs - c0.nodeCpuMs),
    hub_cpu_ms_per_key: per(c1.hubCpuMs - c0.hubCpuMs),
    caller_cpu_ms_per_key: per(c1.callerCpuMs - c0.callerCpuMs),
    // 2 ETSI calls per round (enc_keys + dec_keys) plus the clients' calls to hubs.
    http_requests_per_key: per(2 * (s.pairs + s.errors) + (c1.hubRequests - c0.hubRequests)),
    fsyncs_per_key: per(c1.fsyncs - c0.fsyncs),
    from_stock: (c1.fromStock - c0.fromStock) / Math.max(1, c1.fromStock - c0.fromStock + c1.onDemand - c0.onDemand),
  };
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
const ZERO: Counters = { nodeCpuMs: 0, hubCpuMs: 0, callerCpuMs: 0, hubRequests: 0, fsyncs: 0, fromStock: 0, onDemand: 0 };

/** The previous run's rows (for the ratios), if bench-results/e2e.json exists. */
const previousRun = (() => {
  try {
    return JSON.parse(readFileSync(RESULTS, "utf8")) as { date?: string; rows?: Partial<Row>[] };
  } catch {
    return undefined;
  }
})();
const previous: Partial<Row>[] = previousRun?.rows ?? [];

async function main(): Promise<void> {
  const tStart = performance.now();
  console.log(`e2e bench: default topology on ports ${BASE_PORT}-${BASE_PORT + 9}, state in ${stateDir}`);
  const refBefore = await referenceHttpCpuMs();
  // One process per node, as every earlier e2e.json row was measured (bench/lean.ts compares both modes).
  await cli("start", "--processes", "separate");
  try {
    const rows: Row[] = [];
    const psrd: { scenario: string; keys: number; bytes: number; per_key: number }[] = [];
    const measure = async (id: string, name: string, number: number, conc: number) => {
      if (!SCENARIOS.has(id)) return;
      // Warm up (JIT, connections, PSRD pools grown to the load, key stocks of the SAE pairs
      // filled) with the scenario's own load: the figures are steady-state rates. The first
      // requests of a pair are served on demand (key-stock.ts), as every request after a quiet spell.
      const warm = await phase(number, conc, WARMUP_MS);
      if (warm.errors > 0) console.log(`  ${name}: warm-up had ${warm.errors} errors (${warm.firstError})`);
      const before = await psrdUsed();
      const c0 = await counters();
      const s = await phase(number, conc);
      const c1 = await counters();
      const after = await psrdUsed();
      rows.push(row(name, number, conc, s, c0, c1));
      if (s.keys > 0) psrd.push({ scenario: name, keys: s.keys, bytes: after - before, per_key: (after - before) / s.keys });
      console.log(`  ${name}: ${s.pairs} rounds, ${s.keys} keys, ${s.errors} errors`);
    };
    await measure("s1", "number=1 sequential", 1, 1);
    await measure("c1", "number=1 16 callers", 1, CONCURRENCY);
    await measure("s100", "number=100 sequential", 100, 1);
    await measure("c100", "number=100 16 callers", 100, CONCURRENCY);
    // DSKE_BENCH_CUSTOM=NUMBER,CALLERS (diagnostics): one more scenario of your choice.
    const custom = /^(\d+),(\d+)$/.exec(process.env.DSKE_BENCH_CUSTOM ?? "");
    if (custom) {
      const [n, c] = [Number(custom[1]), Number(custom[2])];
      SCENARIOS.add("custom");
      await measure("custom", `number=${n} ${c} callers`, n, c);
    }
    // Key stock diagnostics: keys not served from the stock, by reason, summed over the clients.
    const misses = { cold: 0, empty: 0, hubs: 0 };
    for (const c of topology.clients) {
      const r = await probeNode(c, 10_000, operator());
      const m = r.state === "up" ? (r.status as { keys?: { stock_misses?: typeof misses } }).keys?.stock_misses : undefined;
      for (const k of Object.keys(misses) as (keyof typeof misses)[]) misses[k] += m?.[k] ?? 0;
    }
    console.log(
      `  key stock misses over the whole run (keys): quiet pair ${misses.cold}, empty ${misses.empty}, fewer than k hubs known good ${misses.hubs}`,
    );
    if (process.env.DSKE_BENCH_ROUTES) {
      const text = await (
        await fetch(`${nodeBaseUrl(topology.hubs[0])}/metrics`, { headers: { Authorization: `Bearer ${operator().token ?? ""}` } })
      ).text();
      for (const line of text.split("\n"))
        if (line.startsWith("dske_http_requests_total")) console.log(`  ${topology.hubs[0].name}: ${line}`);
    }

    const refAfter = await referenceHttpCpuMs();
    const refHttp = (refBefore + refAfter) / 2;
    const none = row("n/a", 0, 0, { encMs: [], decMs: [], pairs: 0, keys: 0, errors: 0, elapsedMs: 1 }, ZERO, ZERO);
    const byName = (n: string) => rows.find((r) => r.scenario === n) ?? none;
    const seq1 = byName("number=1 sequential");
    const conc1 = byName("number=1 16 callers");
    const seq100 = byName("number=100 sequential");
    const conc100 = byName("number=100 16 callers");
    const psrdSeq = psrd.find((p) => p.scenario === "number=1 sequential")?.per_key ?? Number.NaN;

    console.log("");
    console.log(
      `End-to-end, ${KEY_BITS}-bit keys, 5 hubs, k=3, loopback, ${PHASE_MS / 1000} s per scenario after ${WARMUP_MS / 1000} s of warm-up with the same load`,
    );
    console.log(
      "| scenario | key pairs/s | keys/s | enc p50 ms | enc p99 ms | dec p50 ms | dec p99 ms | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const r of rows) {
      console.log(
        `| ${r.scenario} | ${f(r.key_pairs_per_s)} | ${f(r.keys_per_s)} | ${f(r.enc_p50_ms, 2)} | ${f(r.enc_p99_ms, 2)} | ${f(r.dec_p50_ms, 2)} | ${f(r.dec_p99_ms, 2)} | ${r.errors} |`,
      );
    }
    console.log("");
    console.log("Costs per key pair (number=1) / per key (number=100), all 10 node processes; ratio = this run / previous run");
    console.log(
      "| scenario | node CPU ms | of which hubs | caller CPU ms | HTTP requests | fsyncs | from stock | CPU vs prev | requests vs prev | fsyncs vs prev |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const r of rows) {
      const p = previous.find((x) => x.scenario === r.scenario);
      const ratio = (a: number, b: number | undefined) => (b !== undefined && Number.isFinite(b) && b > 0 ? `${f(a / b, 2)}x` : "n/a");
      console.log(
        `| ${r.scenario} | ${f(r.node_cpu_ms_per_key, 2)} | ${f(r.hub_cpu_ms_per_key, 2)} | ${f(r.caller_cpu_ms_per_key, 2)} | ${f(r.http_requests_per_key, 2)} | ${f(r.fsyncs_per_key, 2)} | ${f(100 * r.from_stock, 0)} % | ${ratio(r.node_cpu_ms_per_key, p?.node_cpu_ms_per_key)} | ${ratio(r.http_requests_per_key, p?.http_requests_per_key)} | ${ratio(r.fsyncs_per_key, p?.fsyncs_per_key)} |`,
      );
    }
    console.log(
      `Machine speed in this run (peer of the CPU figures): a bare HTTP exchange (node:http, keep-alive, 16 callers) costs ${f(refHttp, 3)} ms CPU ` +
        `(${f(refBefore, 3)} before, ${f(refAfter, 3)} after the scenarios). In those units, node CPU per key pair / key:`,
    );
    for (const r of rows) {
      console.log(
        `  ${r.scenario}: ${f(r.node_cpu_ms_per_key / refHttp, 2)} bare HTTP exchanges (caller ${f(r.caller_cpu_ms_per_key / refHttp, 2)})`,
      );
    }
    const kpRatio = rows.map((r) => {
      const p = previous.find((x) => x.scenario === r.scenario);
      return `${r.scenario}: ${p?.keys_per_s ? f(r.keys_per_s / p.keys_per_s, 2) + "x" : "n/a"}`;
    });
    console.log(`keys/s vs previous run: ${kpRatio.join("; ")}`);
    console.log("");
    console.log(
      `| PSRD per established key | bytes/key | vs floor (${FLOOR}) | vs reference (${REFERENCE.psrd_per_256_bit_key}) |\n|---|---:|---:|---:|`,
    );
    for (const p of psrd) {
      console.log(
        `| ${p.scenario} | ${f(p.per_key)} | ${f(p.per_key / FLOOR, 3)}x | ${f(p.per_key / REFERENCE.psrd_per_256_bit_key, 3)}x |`,
      );
    }
    console.log(`(batch floor with tags amortised over the batch: ${FLOOR_BATCH} bytes/key)`);
    const ratios = {
      kp_per_s_seq_vs_reference: seq1.key_pairs_per_s / REFERENCE.kp_per_s_seq,
      kp_per_s_16_vs_reference_8: conc1.key_pairs_per_s / REFERENCE.kp_per_s_conc8,
      enc_p50_reference_over_ours: REFERENCE.enc_p50_ms / seq1.enc_p50_ms,
      enc_p99_reference_over_ours: REFERENCE.enc_p99_ms / seq1.enc_p99_ms,
      dec_p50_reference_over_ours: REFERENCE.dec_p50_ms / seq1.dec_p50_ms,
      concurrency_speedup_n1: conc1.key_pairs_per_s / seq1.key_pairs_per_s,
      batch_speedup_seq_keys_per_s: seq100.keys_per_s / seq1.keys_per_s,
      batch_speedup_c16_keys_per_s: conc100.keys_per_s / conc1.keys_per_s,
      psrd_per_key_vs_floor: psrdSeq / FLOOR,
      psrd_per_key_vs_reference: psrdSeq / REFERENCE.psrd_per_256_bit_key,
    };
    const targets = {
      kp_per_s_n1_c16: {
        target: TARGETS.kp_per_s_n1_c16,
        measured: conc1.key_pairs_per_s,
        met: conc1.key_pairs_per_s >= TARGETS.kp_per_s_n1_c16,
      },
      keys_per_s_n100_c16: {
        target: TARGETS.keys_per_s_n100_c16,
        measured: conc100.keys_per_s,
        met: conc100.keys_per_s >= TARGETS.keys_per_s_n100_c16,
      },
      enc_p50_ms: { target: TARGETS.enc_p50_ms, measured: seq1.enc_p50_ms, met: seq1.enc_p50_ms < TARGETS.enc_p50_ms },
      psrd_per_key: { target: TARGETS.psrd_per_key, measured: psrdSeq, met: psrdSeq <= TARGETS.psrd_per_key },
    };
    console.log("");
    console.log("| ratio (ours vs peer) | value |\n|---|---:|");
    console.log(`| seq key pairs/s: ours / reference (6.2) | ${f(ratios.kp_per_s_seq_vs_reference)}x |`);
    console.log(`| concurrent key pairs/s: ours (16 callers) / reference (8 callers, 7.6) | ${f(ratios.kp_per_s_16_vs_reference_8)}x |`);
    console.log(`| enc_keys p50: reference (135 ms) / ours | ${f(ratios.enc_p50_reference_over_ours)}x |`);
    console.log(`| enc_keys p99: reference (233 ms) / ours | ${f(ratios.enc_p99_reference_over_ours)}x |`);
    console.log(`| dec_keys p50: reference (12 ms) / ours | ${f(ratios.dec_p50_reference_over_ours)}x |`);
    console.log(`| key pairs/s: 16 callers / sequential (number=1) | ${f(ratios.concurrency_speedup_n1)}x |`);
    console.log(`| keys/s: number=100 / number=1 (sequential) | ${f(ratios.batch_speedup_seq_keys_per_s)}x |`);
    console.log(`| keys/s: number=100 / number=1 (16 callers) | ${f(ratios.batch_speedup_c16_keys_per_s)}x |`);
    console.log(`| PSRD/key: ours / floor (${FLOOR}) | ${f(ratios.psrd_per_key_vs_floor, 3)}x |`);
    console.log(`| PSRD/key: ours / reference (960) | ${f(ratios.psrd_per_key_vs_reference, 3)}x |`);
    console.log("");
    console.log("| target | measured | met |\n|---|---:|---|");
    for (const [k, v] of Object.entries(targets))
      console.log(
        `| ${k} ${k.startsWith("psrd") || k.startsWith("enc") ? "≤/<" : "≥"} ${v.target} | ${f(v.measured, 2)} | ${v.met ? "yes" : "NO"} |`,
      );

    mkdirSync(path.dirname(OUT), { recursive: true });
    writeFileSync(
      OUT,
      `${JSON.stringify(
        {
          bench: "e2e",
          date: new Date().toISOString(),
          node: process.version,
          topology: { hubs: N_HUBS, clients: topology.clients.length, k: K, key_bits: KEY_BITS, base_port: BASE_PORT },
          phase_ms: PHASE_MS,
          warmup_ms: WARMUP_MS,
          reference_http_cpu_ms: { before: refBefore, after: refAfter, mean: refHttp },
          rows: rows.map((r) => ({ ...r, node_cpu_in_http_exchanges: r.node_cpu_ms_per_key / refHttp })),
          psrd: {
            floor_per_key: FLOOR,
            batch_floor_per_key: FLOOR_BATCH,
            reference_per_key: REFERENCE.psrd_per_256_bit_key,
            measured: psrd,
          },
          reference: REFERENCE,
          ratios,
          targets,
          previous_run: previousRun ? { date: previousRun.date, rows: previous } : undefined,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`\nwrote ${OUT}`);
  } finally {
    await cli("stop").catch((err: unknown) => console.error(String(err)));
    rmSync(dir, { recursive: true, force: true });
    agent.destroy();
    console.log(`total ${f((performance.now() - tStart) / 1000)} s`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
