/**
 * Scaling part of the WAN bench (wan.ts): how the cost of a key and the memory of a node grow with
 * the number of hubs (5, 10, 20; k = 3) and of clients (5, 25), on loopback with real processes
 * (`dske-cli start` on a generated topology, one encryptor per client, key stock off so that
 * every key is established on demand). One sequential caller cycles through the SAE pairs:
 * node CPU per key pair (every node process, /proc) and RSS per node idle (after start and
 * registration) and after the load. The nodes' idle CPU (measured over a quiet spell of the
 * phase's length) is also subtracted, so the per-key cost is the keys' own.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runCli } from "../src/cli";
import { loadConfig } from "../src/config";
import { CapturedOutput } from "../src/output";
import { nodeBaseUrl, Topology } from "../src/topology";
import { nodeCpuMsOf, postJson, rssMbOf } from "./bench-http";

const BASE_PORT = Number(process.env.DSKE_WAN_SCALING_BASE_PORT ?? 18940);
const PHASE_MS = Number(process.env.DSKE_WAN_PHASE_MS ?? 6000);
const WARMUP_MS = Number(process.env.DSKE_WAN_WARMUP_MS ?? 4000);
const SHAPES: readonly { hubs: number; clients: number }[] = [
  { hubs: 5, clients: 5 },
  { hubs: 10, clients: 5 },
  { hubs: 20, clients: 5 },
  { hubs: 5, clients: 25 },
];

export interface ScalingRow {
  hubs: number;
  clients: number;
  key_pairs: number;
  errors: number;
  node_cpu_ms_per_key_pair: number;
  node_cpu_in_http_exchanges: number;
  /** CPU ms per second of every node together with no load (timers, sweeps, probes). */
  idle_node_cpu_ms_per_s: number;
  /** node_cpu_ms_per_key_pair less the idle CPU of the phase's duration: the keys' own cost. */
  net_node_cpu_ms_per_key_pair: number;
  net_node_cpu_in_http_exchanges: number;
  idle_rss_mb_mean: number;
  idle_rss_mb_max: number;
  loaded_rss_mb_mean: number;
  loaded_rss_mb_max: number;
}

const pad = (i: number): string => String(i + 1).padStart(2, "0");

function yaml(hubs: number, clients: number): string {
  const lines = [
    `base_port: ${BASE_PORT}`,
    "min_nr_shares: 3",
    "key_stock_ahead_ms: 0",
    "hubs:",
    ...Array.from({ length: hubs }, (_, i) => `  - name: hub${pad(i)}`),
    "clients:",
  ];
  for (let i = 0; i < clients; i++) lines.push(`  - name: kme${pad(i)}`, "    encryptors:", `      - name: sae${pad(i)}`);
  return `${lines.join("\n")}\n`;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

async function one(hubs: number, clients: number, httpUnit: number): Promise<ScalingRow> {
  const dir = mkdtempSync(path.join(tmpdir(), "dske-bench-scaling-"));
  const configFile = path.join(dir, "dske-config.yaml");
  const stateDir = path.join(dir, "state");
  writeFileSync(configFile, yaml(hubs, clients));
  const topology = new Topology(loadConfig(configFile));
  const cli = async (...args: string[]): Promise<void> => {
    const out = new CapturedOutput();
    const code = await runCli(["--config", configFile, "--state-dir", stateDir, ...args], { out });
    if (code !== 0) throw new Error(`dske-cli ${args.join(" ")} failed:\n${out.stdout}${out.stderr}`);
  };
  const saes = topology.allEncryptors();
  const pairs = saes.flatMap((m) => saes.filter((s) => s !== m).map((s) => [m, s] as const));
  const kme = (sae: string) => {
    const c = topology.clientOfSae(sae);
    if (!c) throw new Error(sae);
    return nodeBaseUrl(c);
  };
  let errors = 0;
  const run = async (ms: number): Promise<number> => {
    let n = 0;
    const t0 = performance.now();
    for (let i = 0; performance.now() - t0 < ms; i++) {
      const [m, s] = pairs[i % pairs.length];
      const e = await postJson(`${kme(m)}/etsi/api/v1/keys/${s}/enc_keys`, { number: 1, size: 256 }, m);
      const ids = e.status === 200 ? (e.data as { keys: { key_ID: string }[] }).keys.map((k) => ({ key_ID: k.key_ID })) : [];
      const d = ids.length > 0 ? await postJson(`${kme(s)}/etsi/api/v1/keys/${m}/dec_keys`, { key_IDs: ids }, s) : { status: 0 };
      if (d.status === 200) n++;
      else errors++;
    }
    return n;
  };
  const rss = () => [...topology.hubs, ...topology.clients].map((node) => rssMbOf(path.join(stateDir, "pids", `${node.name}.pid`)));
  try {
    // One process per node (per-node RSS below), as earlier runs were measured.
    await cli("start", "--processes", "separate");
    await run(1000); // every client registered with every hub
    const idle = rss();
    const idle0 = nodeCpuMsOf(path.join(stateDir, "pids"));
    const tIdle = performance.now();
    await new Promise((r) => setTimeout(r, PHASE_MS));
    const idleRate = (nodeCpuMsOf(path.join(stateDir, "pids")) - idle0) / ((performance.now() - tIdle) / 1000);
    await run(WARMUP_MS);
    errors = 0;
    const cpu0 = nodeCpuMsOf(path.join(stateDir, "pids"));
    const tRun = performance.now();
    const n = await run(PHASE_MS);
    const cpu = (nodeCpuMsOf(path.join(stateDir, "pids")) - cpu0) / n;
    const net = cpu - (idleRate * (performance.now() - tRun)) / 1000 / n;
    const loaded = rss();
    const row: ScalingRow = {
      hubs,
      clients,
      key_pairs: n,
      errors,
      node_cpu_ms_per_key_pair: cpu,
      node_cpu_in_http_exchanges: cpu / httpUnit,
      idle_node_cpu_ms_per_s: idleRate,
      net_node_cpu_ms_per_key_pair: net,
      net_node_cpu_in_http_exchanges: net / httpUnit,
      idle_rss_mb_mean: mean(idle),
      idle_rss_mb_max: Math.max(...idle),
      loaded_rss_mb_mean: mean(loaded),
      loaded_rss_mb_max: Math.max(...loaded),
    };
    console.log(
      `  scaling: ${hubs} hubs, ${clients} clients: ${n} key pairs, ${cpu.toFixed(2)} ms node CPU per key pair (${net.toFixed(2)} net of idle ${idleRate.toFixed(1)} ms/s), ` +
        `RSS idle ${row.idle_rss_mb_mean.toFixed(1)} MB, loaded ${row.loaded_rss_mb_mean.toFixed(1)} MB per node, ${errors} errors`,
    );
    return row;
  } finally {
    await cli("stop").catch((err: unknown) => console.error(String(err)));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every shape in turn; `httpUnit`: CPU ms of a bare HTTP exchange in this run (bench-http.ts). */
export async function scalingRows(httpUnit: number): Promise<ScalingRow[]> {
  const rows: ScalingRow[] = [];
  for (const s of SHAPES) rows.push(await one(s.hubs, s.clients, httpUnit));
  return rows;
}
