/**
 * @dske/auth benchmark.
 *
 * 1. Tag+verify throughput of gf128 (this package, pure TypeScript, constant time) and
 *    hmac-sha256 (node:crypto / OpenSSL) side by side, for 512-byte and 64 KiB messages.
 *    Rounds alternate between the two schemes; the median round is reported.
 * 2. PSRD bytes consumed per authenticated request/response pair, measured from pool stats over
 *    N real signed round trips (Express middleware + axios interceptors on loopback).
 *
 * Writes bench-results/auth.json at the repo root. Run: pnpm --filter @dske/auth bench
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gf128, gf128Scheme, hmacSha256Scheme, type AuthSchemeName, type MacScheme } from "../src/index";
import { mulPreparedInPlace, prepareLimbs } from "../src/gf128";
import { allStats, createHarness } from "../test/harness";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** ns per tag+verify, median over rounds of ~budgetMs each. */
function timeTagVerify(scheme: MacScheme, size: number, budgetMs: number): number {
  const key = new Uint8Array(randomBytes(scheme.keyLength));
  const body = new Uint8Array(randomBytes(size));
  const parts = [body];
  let sink = 0;
  // calibrate
  let n = 0;
  const t0 = process.hrtime.bigint();
  while (Number(process.hrtime.bigint() - t0) < 20e6) {
    const tag = scheme.sign(key, parts);
    if (scheme.verify(key, parts, tag)) sink++;
    n++;
  }
  const iters = Math.max(5, Math.ceil((n * budgetMs) / 20));
  // CPU time of this thread's process (both schemes run synchronously on the main thread), so that
  // other jobs on the shared 2-core machine disturb the figures less than wall time would.
  const c0 = process.cpuUsage();
  for (let i = 0; i < iters; i++) {
    const tag = scheme.sign(key, parts);
    if (scheme.verify(key, parts, tag)) sink++;
  }
  const cu = process.cpuUsage(c0);
  const ns = ((cu.user + cu.system) * 1000) / iters;
  if (sink === 0) throw new Error("nothing verified");
  return ns;
}

function timeMul(budgetMs: number): number {
  const a = new Uint8Array(randomBytes(16));
  const b = new Uint8Array(randomBytes(16));
  let x: Uint8Array = a;
  const iters = 20000;
  let total = 0;
  let count = 0;
  const end = Date.now() + budgetMs;
  while (Date.now() < end) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < iters; i++) x = gf128.mul(x, b);
    const cu = process.cpuUsage(c0);
    total += (cu.user + cu.system) * 1000;
    count += iters;
  }
  if (x.length !== 16) throw new Error("unreachable");
  return total / count;
}

/** The MAC's inner loop: s ← s·c with c pre-split once (no allocation). */
function timePreparedMul(budgetMs: number): number {
  const k = prepareLimbs(0x12345678, 0x9abcdef0 | 0, 0x0fedcba9, 0x87654321 | 0);
  const s = new Int32Array([1, 2, 3, 4]);
  const iters = 20000;
  let total = 0;
  let count = 0;
  const end = Date.now() + budgetMs;
  while (Date.now() < end) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < iters; i++) mulPreparedInPlace(s, k);
    const cu = process.cpuUsage(c0);
    total += (cu.user + cu.system) * 1000;
    count += iters;
  }
  return total / count;
}

interface ThroughputRow {
  size: number;
  gf128_ns: number;
  hmac_ns: number;
  gf128_MBps: number;
  hmac_MBps: number;
  ratio_gf128_over_hmac: number;
}

async function psrdPerPair(scheme: AuthSchemeName, n: number): Promise<Record<string, number>> {
  const h = await createHarness(scheme, { blocks: 4, blockSize: 64 * 1024 });
  try {
    // warm up one pair, then measure
    await h.client.post("/key-share", { warm: true });
    const before = allStats(h);
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const r = await h.client.post("/key-share", {
        master_client_name: "alice",
        share_index: i,
        encrypted_share_value: randomBytes(32).toString("base64"),
      });
      if (r.status !== 200) throw new Error(`status ${r.status}`);
    }
    const ms = Number(process.hrtime.bigint() - t) / 1e6 / n;
    const after = allStats(h);
    const d = (k: string): number => (after[k] - before[k]) / n;
    return {
      request_bytes_client_owned_pool: d("clientLocal"),
      request_bytes_hub_copy: d("hubPeer"),
      response_bytes_hub_owned_pool: d("hubLocal"),
      response_bytes_client_copy: d("clientPeer"),
      psrd_bytes_per_pair: d("clientLocal") + d("hubLocal"),
      block_key_prefix_bytes_per_block: scheme === "gf128" ? 16 : 0,
      ms_per_round_trip: ms,
    };
  } finally {
    await h.close();
  }
}

async function main(): Promise<void> {
  const rounds = 5;
  const rows: ThroughputRow[] = [];
  for (const size of [512, 64 * 1024]) {
    const g: number[] = [];
    const hm: number[] = [];
    for (let r = 0; r < rounds; r++) {
      g.push(timeTagVerify(gf128Scheme, size, 800));
      hm.push(timeTagVerify(hmacSha256Scheme, size, 800));
    }
    const gn = median(g);
    const hn = median(hm);
    rows.push({
      size,
      gf128_ns: Math.round(gn),
      hmac_ns: Math.round(hn),
      gf128_MBps: +((size / gn) * 1e3).toFixed(1),
      hmac_MBps: +((size / hn) * 1e3).toFixed(1),
      ratio_gf128_over_hmac: +(gn / hn).toFixed(2),
    });
  }
  const mulNs = timeMul(500);
  const preparedNs = timePreparedMul(500);

  console.log("\n@dske/auth: tag+verify (one sign + one verify), CPU time, median of 5 alternating rounds");
  console.table(
    rows.map((r) => ({
      message: r.size === 512 ? "512 B" : "64 KiB",
      "gf128 µs": (r.gf128_ns / 1000).toFixed(2),
      "hmac-sha256 µs": (r.hmac_ns / 1000).toFixed(2),
      "gf128 MB/s": r.gf128_MBps,
      "hmac MB/s": r.hmac_MBps,
      "gf128 / hmac (time)": r.ratio_gf128_over_hmac,
    })),
  );
  console.log(`gf128 multiply, MAC inner loop (key pre-split, in place): ${preparedNs.toFixed(0)} ns CPU`);
  console.log(`gf128.mul public API (checks, allocates its result): ${mulNs.toFixed(0)} ns CPU`);
  const target = rows[0].ratio_gf128_over_hmac <= 3;
  console.log(`target (gf128 within 3× of HMAC-SHA256 at 512 B): ${target ? "met" : "NOT met"} (${rows[0].ratio_gf128_over_hmac}×)`);

  const N = 100;
  const psrd: Record<string, Record<string, number>> = {};
  for (const s of ["gf128", "hmac-sha256"] as const) psrd[s] = await psrdPerPair(s, N);
  console.log(`\nPSRD consumed per signed request/response pair (${N} POST round trips, Express + axios on loopback, pool stats)`);
  console.table(
    Object.entries(psrd).map(([s, v]) => ({
      scheme: s,
      "request (client-owned pool)": v.request_bytes_client_owned_pool,
      "response (hub-owned pool)": v.response_bytes_hub_owned_pool,
      "bytes per pair": v.psrd_bytes_per_pair,
      "+ once per block": v.block_key_prefix_bytes_per_block,
      "ms per round trip": v.ms_per_round_trip.toFixed(2),
    })),
  );
  const ratio = psrd["gf128"].psrd_bytes_per_pair / psrd["hmac-sha256"].psrd_bytes_per_pair;
  console.log(`gf128 / hmac-sha256 PSRD per pair: ${ratio.toFixed(2)} (draft as written: 64 bytes per pair = 1.00)`);

  const out = {
    package: "@dske/auth",
    date: new Date().toISOString(),
    node: process.version,
    tag_verify: rows,
    gf128_mul_api_ns: +mulNs.toFixed(1),
    gf128_mul_prepared_ns: +preparedNs.toFixed(1),
    target_gf128_within_3x_hmac_at_512B: target,
    psrd_per_pair: psrd,
    psrd_ratio_gf128_over_hmac: +ratio.toFixed(3),
    round_trips: N,
  };
  const dir = fileURLToPath(new URL("../../../bench-results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}auth.json`, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote ${dir}auth.json`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
