/**
 * @dske/psrd benchmark.
 *  1. Allocations per second (32-byte allocations) for MemoryStore and FileStore (durable: each
 *     allocation's journal record is fsync'd before it resolves), with 1 and 64 concurrent
 *     allocators; plus FileStore takes on a peer pool with 64 concurrent takers.
 *  2. Open time and RSS of a 1 GiB pool vs a 1 MiB pool, each measured in a fresh child process.
 * Writes bench-results/psrd.json (at the repository root).
 */
import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FileStore, MemoryStore, type Pool, type PsrdStore } from "../src/index.js";

const DURATION_MS = Number(process.env.PSRD_BENCH_MS ?? 2000);
const RESULTS_DIR = fileURLToPath(new URL("../../../bench-results/", import.meta.url));
const CHILD = fileURLToPath(new URL("./open-child.ts", import.meta.url));
const PKG_ROOT = fileURLToPath(new URL("..", import.meta.url));

function uuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

async function fillPool(pool: Pool, blocks: number, blockSize: number, keyPrefix = 0): Promise<void> {
  const buf = new Uint8Array(blockSize);
  for (let i = 0; i < blocks; i++) {
    randomFillSync(buf);
    await pool.addBlock(uuid(i + 1), buf, { keyPrefix });
  }
  buf.fill(0);
}

interface Throughput {
  ops: number;
  seconds: number;
  perSecond: number;
  fsyncs?: number;
}

/**
 * Run `concurrency` loops of `op` for DURATION_MS, or until `exhausted()` says the pool cannot serve
 * another operation (a fast machine can drain the bench pool first); count completed operations.
 */
async function measure(concurrency: number, op: (i: number) => Promise<void>, exhausted: () => boolean = () => false): Promise<Throughput> {
  let ops = 0;
  const t0 = performance.now();
  const end = t0 + DURATION_MS;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end && !exhausted()) {
        await op(ops);
        ops++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { ops, seconds, perSecond: ops / seconds };
}

async function allocBench(kind: "MemoryStore" | "FileStore", concurrency: number): Promise<Throughput> {
  const dir = mkdtempSync(join(tmpdir(), "psrd-bench-"));
  try {
    const fileStore = kind === "FileStore" ? await FileStore.open(dir, { auditLog: join(dir, "audit.jsonl") }) : undefined;
    const store: PsrdStore = fileStore ?? new MemoryStore();
    const pool = await store.openPool("bench", "local");
    // Memory: 128 MiB, about 4M allocations of 32 bytes; a fast machine may use them up before 2 s,
    // so the run also ends when the pool runs low (measure's `exhausted`).
    await fillPool(pool, kind === "MemoryStore" ? 8 : 4, 16 * 1024 * 1024, 16);
    const before = fileStore ? (await fileStore.diagnostics("bench")).journalBatches : 0;
    // Stop while every loop can still get its 32 bytes (allocations in flight are reserved).
    const r = await measure(
      concurrency,
      async () => {
        const { data } = await pool.allocate(32, "bench");
        data.fill(0);
      },
      () => pool.stats().available < 32 * (concurrency + 1),
    );
    if (fileStore) r.fsyncs = (await fileStore.diagnostics("bench")).journalBatches - before;
    await store.close();
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function takeBench(concurrency: number): Promise<Throughput> {
  const dir = mkdtempSync(join(tmpdir(), "psrd-bench-"));
  try {
    const store = await FileStore.open(dir, { auditLog: join(dir, "audit.jsonl") });
    const pool = await store.openPool("bench", "peer");
    await fillPool(pool, 4, 16 * 1024 * 1024, 16);
    const blockSize = 16 * 1024 * 1024;
    let next = 0;
    const before = (await store.diagnostics("bench")).journalBatches;
    const r = await measure(concurrency, async () => {
      const i = next++;
      const start = 16 + i * 32;
      const block = Math.floor(start / blockSize);
      const data = await pool.take({ fragments: [{ blockUuid: uuid(block + 1), start: start % blockSize, size: 32 }] }, "bench");
      data.fill(0);
    });
    r.fsyncs = (await store.diagnostics("bench")).journalBatches - before;
    await store.close();
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Baseline of the disk, measured in the same run: sequential 32-byte write + fdatasync. */
async function rawFsyncBench(): Promise<Throughput> {
  const dir = mkdtempSync(join(tmpdir(), "psrd-bench-"));
  try {
    const { open } = await import("node:fs/promises");
    const fh = await open(join(dir, "f"), "w+");
    await fh.write(Buffer.alloc(1 << 20), 0, 1 << 20, 0);
    await fh.datasync();
    const rec = Buffer.alloc(32, 1);
    let pos = 0;
    const r = await measure(1, async () => {
      await fh.write(rec, 0, 32, pos);
      pos = (pos + 32) % (1 << 20);
      await fh.datasync();
    });
    await fh.close();
    r.fsyncs = r.ops;
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface OpenResult {
  openMs: number;
  rssOpen: number;
  rssBefore: number;
  rssAfterAlloc: number;
  poolSize: number;
}

function openInChild(dir: string): OpenResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", CHILD, dir, "pool"], { cwd: PKG_ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`open child failed: ${r.stderr}`);
  const last = r.stdout.trim().split("\n").at(-1);
  if (last === undefined) throw new Error("open child printed nothing");
  return JSON.parse(last) as OpenResult;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function openBench(): Promise<
  Record<string, { openMs: number; rssMB: number; rssDeltaMB: number; poolBytes: number; createSeconds: number }>
> {
  const out: Record<string, { openMs: number; rssMB: number; rssDeltaMB: number; poolBytes: number; createSeconds: number }> = {};
  for (const [label, blocks, blockSize] of [
    ["1 MiB", 1, 1024 * 1024],
    ["1 GiB", 64, 16 * 1024 * 1024],
  ] as const) {
    const dir = mkdtempSync(join(tmpdir(), "psrd-bench-open-"));
    try {
      const t0 = performance.now();
      const store = await FileStore.open(dir);
      const pool = await store.openPool("pool", "local");
      await fillPool(pool, blocks, blockSize, 16); // written once, in 16 MiB chunks
      // Some journal history, as a used pool has.
      await Promise.all(Array.from({ length: 1000 }, () => pool.allocate(32, "history").then((r) => r.data.fill(0))));
      await store.close();
      const createSeconds = (performance.now() - t0) / 1000;
      const runs = [openInChild(dir), openInChild(dir), openInChild(dir)];
      if (process.env.PSRD_BENCH_DEBUG) console.log(label, runs);
      out[label] = {
        openMs: median(runs.map((r) => r.openMs)),
        rssMB: median(runs.map((r) => r.rssAfterAlloc)) / 2 ** 20,
        rssDeltaMB: median(runs.map((r) => r.rssAfterAlloc - r.rssBefore)) / 2 ** 20,
        poolBytes: runs[0].poolSize,
        createSeconds,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

const fmt = (n: number, d = 0): string => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

async function main(): Promise<void> {
  console.log(`@dske/psrd bench (node ${process.version}, ${DURATION_MS} ms per throughput run)\n`);
  const raw = await rawFsyncBench();
  const mem1 = await allocBench("MemoryStore", 1);
  const mem64 = await allocBench("MemoryStore", 64);
  const file1 = await allocBench("FileStore", 1);
  const file64 = await allocBench("FileStore", 64);
  const take64 = await takeBench(64);

  const rows: [string, Throughput][] = [
    ["baseline: raw write(32 B) + fdatasync, sequential", raw],
    ["MemoryStore allocate(32), 1 allocator", mem1],
    ["MemoryStore allocate(32), 64 allocators", mem64],
    ["FileStore allocate(32), 1 allocator (durable)", file1],
    ["FileStore allocate(32), 64 allocators (durable)", file64],
    ["FileStore take(32), 64 takers (durable)", take64],
  ];
  console.log("| operation | ops/s | ops | fsyncs | ops per fsync |");
  console.log("|---|---:|---:|---:|---:|");
  for (const [name, r] of rows) {
    const perFsync = r.fsyncs ? fmt(r.ops / r.fsyncs, 1) : "-";
    console.log(`| ${name} | ${fmt(r.perSecond)} | ${fmt(r.ops)} | ${r.fsyncs !== undefined ? fmt(r.fsyncs) : "-"} | ${perFsync} |`);
  }
  const ratios = {
    fileGroupCommit64vs1: file64.perSecond / file1.perSecond,
    memory64vs1: mem64.perSecond / mem1.perSecond,
    file64vsMemory64: file64.perSecond / mem64.perSecond,
    file1vsMemory1: file1.perSecond / mem1.perSecond,
    file64vsRawFsync: file64.perSecond / raw.perSecond,
    file1vsRawFsync: file1.perSecond / raw.perSecond,
  };
  console.log(`\nFileStore 64 vs 1 allocators: ×${fmt(ratios.fileGroupCommit64vs1, 1)} (group commit)`);
  console.log(
    `FileStore vs MemoryStore, 64 allocators: ×${fmt(ratios.file64vsMemory64, 3)}; 1 allocator: ×${fmt(ratios.file1vsMemory1, 4)}`,
  );
  console.log(
    `FileStore vs the disk's raw fsync rate: 1 allocator ×${fmt(ratios.file1vsRawFsync, 2)}, 64 allocators ×${fmt(ratios.file64vsRawFsync, 1)}`,
  );
  console.log(`Target FileStore ≥ 20,000 durable allocations/s with 64 allocators: ${file64.perSecond >= 20000 ? "met" : "NOT met"}`);

  const open = await openBench();
  console.log("\n| pool | open (fresh process) | RSS after open + 1 allocation | RSS growth over process start |");
  console.log("|---|---:|---:|---:|");
  for (const [label, r] of Object.entries(open)) {
    console.log(`| ${label} | ${fmt(r.openMs, 1)} ms | ${fmt(r.rssMB, 1)} MB | ${fmt(r.rssDeltaMB, 1)} MB |`);
  }
  const big = open["1 GiB"];
  const small = open["1 MiB"];
  const openRatios = {
    openTime1GiBvs1MiB: big.openMs / small.openMs,
    rssDiffMB: big.rssMB - small.rssMB,
    poolSizeRatio: big.poolBytes / small.poolBytes,
  };
  console.log(
    `\n1 GiB vs 1 MiB (×${fmt(openRatios.poolSizeRatio)} the bytes): open time ×${fmt(openRatios.openTime1GiBvs1MiB, 2)}, RSS ${openRatios.rssDiffMB >= 0 ? "+" : ""}${fmt(openRatios.rssDiffMB, 1)} MB`,
  );
  console.log(
    `Targets: 1 GiB open < 100 ms: ${big.openMs < 100 ? "met" : "NOT met"}; RSS within 10 MB of 1 MiB: ${Math.abs(openRatios.rssDiffMB) <= 10 ? "met" : "NOT met"}`,
  );

  mkdirSync(RESULTS_DIR, { recursive: true });
  const json = {
    package: "@dske/psrd",
    node: process.version,
    date: new Date().toISOString(),
    durationMsPerThroughputRun: DURATION_MS,
    throughput: Object.fromEntries(rows.map(([name, r]) => [name, r])),
    ratios,
    open,
    openRatios,
    targets: {
      fileStore64AllocPerSecond: { target: 20000, value: file64.perSecond, met: file64.perSecond >= 20000 },
      open1GiBms: { target: 100, value: big.openMs, met: big.openMs < 100 },
      rssDiffMB: { target: 10, value: openRatios.rssDiffMB, met: Math.abs(openRatios.rssDiffMB) <= 10 },
    },
  };
  writeFileSync(join(RESULTS_DIR, "psrd.json"), JSON.stringify(json, null, 2) + "\n");
  console.log(`\nwrote ${join(RESULTS_DIR, "psrd.json")}`);
}

await main();
