/**
 * @dske/postgres benchmark: PSRD allocations per second (32-byte allocations, each durable before
 * it resolves) on PostgreSQL (PgPsrdStore, a throwaway cluster on this machine, default fsync and
 * synchronous_commit) against FileStore, in the same run:
 *   - FileStore, 1 and 3 concurrent callers (one store: a FileStore directory has one owner);
 *   - PgPsrdStore, 1 store with 1 and 3 concurrent callers, and 3 stores (replicas) sharing the
 *     pool, one caller each; plus takes (peer pool) with 3 stores.
 * Writes bench-results/postgres.json (at the repository root). Port 19919.
 */
import { randomFillSync } from "node:crypto";
import { mkdirSync, mkdtempSync, copyFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FileStore, type Pool } from "@dske/psrd";
import { PgPsrdStore } from "../src/index.js";
import { startThrowawayCluster } from "../src/testing/index.js";

const DURATION_MS = Number(process.env.PG_BENCH_MS ?? 3000);
const RESULTS_DIR = fileURLToPath(new URL("../../../bench-results/", import.meta.url));
const BLOCK = 64 * 1024;
const BLOCKS = 64;

const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

async function fill(pool: Pool): Promise<void> {
  const buf = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCKS; i++) {
    randomFillSync(buf);
    await pool.addBlock(uuid(i + 1), buf, { keyPrefix: 16 });
  }
  buf.fill(0);
}

interface Throughput {
  ops: number;
  seconds: number;
  perSecond: number;
}

/** Run the loops for DURATION_MS, or until `low()` says the pool is nearly used up. */
async function measure(loops: (() => Promise<void>)[], low: () => boolean = () => false): Promise<Throughput> {
  let ops = 0;
  const t0 = performance.now();
  const end = t0 + DURATION_MS;
  await Promise.all(
    loops.map(async (op) => {
      while (performance.now() < end && !low()) {
        await op();
        ops++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { ops, seconds, perSecond: ops / seconds };
}

async function fileAlloc(concurrency: number): Promise<Throughput> {
  const dir = mkdtempSync(join(tmpdir(), "pg-bench-file-"));
  try {
    const store = await FileStore.open(dir, { auditLog: join(dir, "audit.jsonl") });
    const pool = await store.openPool("bench", "local");
    await fill(pool);
    const r = await measure(
      Array.from({ length: concurrency }, () => async () => void (await pool.allocate(32, "bench")).data.fill(0)),
      () => pool.stats().available < 32 * (concurrency + 1),
    );
    await store.close();
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pgStores(url: string, n: number, owner: "local" | "peer"): Promise<{ pools: Pool[]; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "pg-bench-keys-"));
  const schema = `bench_${owner}_${n}_${Date.now()}`;
  const first = await PgPsrdStore.open({ url, schema, keyFile: join(dir, "k0"), refreshMs: 1000 });
  const stores = [first];
  for (let i = 1; i < n; i++) {
    copyFileSync(join(dir, "k0"), join(dir, `k${i}`));
    stores.push(await PgPsrdStore.open({ url, schema, keyFile: join(dir, `k${i}`), refreshMs: 1000 }));
  }
  await fill(await first.openPool("bench", owner));
  const pools = await Promise.all(stores.map((s) => s.openPool("bench", owner)));
  return {
    pools,
    close: async () => {
      for (const s of stores) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function pgAlloc(url: string, stores: number, callersPerStore: number): Promise<Throughput> {
  const { pools, close } = await pgStores(url, stores, "local");
  try {
    return await measure(
      pools.flatMap((p) => Array.from({ length: callersPerStore }, () => async () => void (await p.allocate(32, "bench")).data.fill(0))),
    );
  } finally {
    await close();
  }
}

async function pgTake(url: string, stores: number): Promise<Throughput> {
  const { pools, close } = await pgStores(url, stores, "peer");
  let next = 0;
  try {
    return await measure(
      pools.map((p) => async () => {
        const i = next++;
        const start = 16 + ((i * 32) % (BLOCK - 48));
        const block = 1 + Math.floor((i * 32) / (BLOCK - 48));
        (await p.take({ fragments: [{ blockUuid: uuid(block), start, size: 32 }] }, "bench")).fill(0);
      }),
    );
  } finally {
    await close();
  }
}

async function main(): Promise<void> {
  console.log(`@dske/postgres bench (node ${process.version}, ${DURATION_MS} ms per run)\n`);
  const cluster = await startThrowawayCluster({ port: 19919 });
  try {
    const file1 = await fileAlloc(1);
    const file3 = await fileAlloc(3);
    const pg1 = await pgAlloc(cluster.url, 1, 1);
    const pg1x3 = await pgAlloc(cluster.url, 1, 3);
    const pg3 = await pgAlloc(cluster.url, 3, 1);
    const take3 = await pgTake(cluster.url, 3);
    const rows: [string, Throughput, number][] = [
      ["FileStore allocate, 1 caller", file1, 1],
      ["FileStore allocate, 3 callers", file3, file3.perSecond / file1.perSecond],
      ["PgPsrdStore allocate, 1 store, 1 caller", pg1, pg1.perSecond / file1.perSecond],
      ["PgPsrdStore allocate, 1 store, 3 callers", pg1x3, pg1x3.perSecond / file3.perSecond],
      ["PgPsrdStore allocate, 3 stores (replicas), 1 caller each", pg3, pg3.perSecond / file3.perSecond],
      ["PgPsrdStore take (peer pool), 3 stores, 1 caller each", take3, take3.perSecond / file3.perSecond],
    ];
    for (const [label, t, ratio] of rows) {
      console.log(
        `${label.padEnd(60)} ${t.perSecond.toFixed(0).padStart(8)} /s   ratio to FileStore (same concurrency) ${ratio.toFixed(3)}`,
      );
    }
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(
      join(RESULTS_DIR, "postgres.json"),
      JSON.stringify(
        {
          date: new Date().toISOString(),
          node: process.version,
          durationMs: DURATION_MS,
          results: rows.map(([label, t, ratio]) => ({
            label,
            perSecond: Math.round(t.perSecond),
            ops: t.ops,
            ratioToFileStore: Number(ratio.toFixed(4)),
          })),
        },
        null,
        2,
      ) + "\n",
    );
  } finally {
    await cluster.stop();
  }
}

await main();
