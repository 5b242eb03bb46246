/**
 * Crash test: children consume from an on-disk store with 64 concurrent allocators/takers and
 * are killed with SIGKILL at random moments; the store is reopened each time. Then:
 *  - no two consumptions ever reported (after their promise resolved) overlap, in either pool;
 *  - every reported consumption is consumed after reopen, and zeroed on disk;
 *  - accounting is exact: used + available = size, used ≥ reported, used = what the journal says.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FileStore, PsrdAllocationError, PsrdPool, type Fragment, type Pool } from "../src/index.js";
import { replayJournal } from "../src/journal.js";
import { encodePoolName } from "../src/pool-name.js";
import { IntervalSet } from "../src/interval-set.js";
import { blockData, must, prng, uuidFor } from "./helpers.js";
import { childProgram } from "../../../test/support/child-program";

/** FileStore's pools are PsrdPools (whose test hooks isConsumed and blockMetas are used here). */
function asPsrdPool(pool: Pool): PsrdPool {
  if (!(pool instanceof PsrdPool)) throw new Error("expected a PsrdPool");
  return pool;
}

const ROOT = resolve(__dirname, "../../..");
const CHILD = "packages/psrd/test/fixtures/crash-child.ts";
const RUNS = 20;
const KEY_PREFIX = 16;
const BLOCK_SIZE = 256 * 1024;

interface RunResult {
  lines: string[];
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

function runChild(dir: string, run: number, seed: number, killAfterMs: number): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [childProgram(CHILD), dir, String(run), String(seed)], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (s: string) => (out += s));
    child.stderr.on("data", (s: string) => (err += s));
    let timer: NodeJS.Timeout | undefined;
    const onReady = (s: string): void => {
      if (s.includes("ready") || out.includes("ready")) {
        child.stdout.off("data", onReady);
        timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
      }
    };
    child.stdout.on("data", onReady);
    // Only if a child hangs (generous: a loaded machine starts children slowly).
    const hard = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("error", fail);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(hard);
      // A torn last line (killed mid-write) is not a complete report: drop it.
      const lines = out.split("\n");
      lines.pop();
      done({ lines, signal, code, stderr: err });
    });
  });
}

function key(f: Fragment): string {
  return `${f.blockUuid}:${f.start}:${f.size}`;
}

function assertNoOverlap(frags: Fragment[], what: string): void {
  const sorted = [...frags].sort((a, b) => (a.blockUuid < b.blockUuid ? -1 : a.blockUuid > b.blockUuid ? 1 : a.start - b.start));
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1];
    const c = sorted[i];
    if (p.blockUuid === c.blockUuid && p.start + p.size > c.start) {
      throw new Error(`${what}: ${key(p)} and ${key(c)} were both handed out`);
    }
  }
}

test("no byte is handed out twice across repeated kill -9", async () => {
  const dir = mkdtempSync(join(tmpdir(), "psrd-crash-"));
  try {
    // Set up: two blocks in an owned pool L and the same two in a peer pool P.
    const setup = await FileStore.open(dir);
    for (const [name, owner] of [
      ["L", "local"],
      ["P", "peer"],
    ] as const) {
      const pool = await setup.openPool(name, owner);
      await pool.addBlock(uuidFor(1), blockData(1, BLOCK_SIZE), { keyPrefix: KEY_PREFIX });
      await pool.addBlock(uuidFor(2), blockData(2, BLOCK_SIZE), { keyPrefix: KEY_PREFIX });
    }
    await setup.close();

    const rand = prng(20261123);
    const allocated: Fragment[] = [];
    const taken: Fragment[] = [];
    let killedAfterReady = 0;
    for (let run = 0; run < RUNS; run++) {
      // Uniform in [0, 200) ms after the store is open: during block adds, batches, zeroing, compaction.
      const killAfter = Math.floor(rand() * 200);
      const t0 = Date.now();
      const r = await runChild(dir, run, Math.floor(rand() * 1e9), killAfter);
      if (process.env.PSRD_CRASH_DEBUG) console.log(run, Date.now() - t0, killAfter, r.lines.length);
      expect({ run, signal: r.signal, stderr: r.stderr }).toEqual({ run, signal: "SIGKILL", stderr: "" });
      if (r.lines.includes("ready")) killedAfterReady++;
      for (const line of r.lines) {
        const [kind, blockUuid, start, size] = line.split(" ");
        if (kind === "BAD") throw new Error(`child returned wrong bytes: ${line}`);
        if (kind === "A" || kind === "T") {
          const f = { blockUuid, start: Number(start), size: Number(size) };
          (kind === "A" ? allocated : taken).push(f);
        }
      }
    }
    expect(killedAfterReady).toBe(RUNS);
    expect(allocated.length).toBeGreaterThan(100);
    expect(taken.length).toBeGreaterThan(100);
    assertNoOverlap(allocated, "owned pool");
    assertNoOverlap(taken, "peer pool");

    const store = await FileStore.open(dir);
    try {
      const L = asPsrdPool(await store.openPool("L", "local"));
      const P = asPsrdPool(await store.openPool("P", "peer"));
      expect(L).toBeInstanceOf(PsrdPool);

      // Every reported consumption is consumed; a peer take of it is refused as consumed.
      for (const f of allocated) expect(L.isConsumed(f)).toBe(true);
      for (const f of taken) expect(P.isConsumed(f)).toBe(true);
      for (const f of taken.slice(0, 200)) {
        await expect(P.take({ fragments: [f] }, "verify")).rejects.toMatchObject({ code: "consumed" });
      }

      // Accounting is exact per the journal.
      for (const [name, pool, reported] of [
        ["L", L, allocated],
        ["P", P, taken],
      ] as const) {
        const st = pool.stats();
        expect(st.used + st.available).toBe(st.size);
        const metas = pool.blockMetas();
        const prefixes = metas.reduce((n, b) => n + b.keyPrefix, 0);
        expect(st.used).toBeGreaterThanOrEqual(prefixes + reported.reduce((n, f) => n + f.size, 0));
        const sets = metas.map(() => new IntervalSet());
        const hwm = metas.map((b) => b.keyPrefix);
        await replayJournal(join(dir, "pools", encodePoolName(name), "journal.bin"), (rec) => {
          sets[rec.block].add(rec.start, rec.start + rec.size);
          hwm[rec.block] = Math.max(hwm[rec.block], rec.start + rec.size);
        });
        const journalUsed = name === "L" ? hwm.reduce((n, h) => n + h, 0) : prefixes + sets.reduce((n, s) => n + s.total, 0);
        expect(st.used).toBe(journalUsed);

        // Consumed bytes are zero on disk.
        const data = readFileSync(join(dir, "pools", encodePoolName(name), "data.bin"));
        for (const f of reported) {
          const off = must(
            metas.find((b) => b.uuid === f.blockUuid),
            `block ${f.blockUuid}`,
          ).index;
          const base = metas.slice(0, off).reduce((n, b) => n + b.size, 0) + f.start;
          expect(data.subarray(base, base + f.size).every((x) => x === 0)).toBe(true);
        }
      }

      // Drain the owned pool: nothing newly allocated overlaps anything reported before.
      const drained: Fragment[] = [];
      for (;;) {
        const avail = L.stats().available;
        if (avail === 0) break;
        const { allocation, data } = await L.allocate(Math.min(avail, 65536), "drain");
        drained.push(...allocation.fragments);
        data.fill(0);
      }
      assertNoOverlap([...allocated, ...drained], "owned pool after reopen");
      // A take that overlaps a reported take is refused; untouched bytes can still be taken.
      const probe = taken[0];
      await expect(P.take({ fragments: [{ ...probe, size: probe.size }] }, "x")).rejects.toBeInstanceOf(PsrdAllocationError);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 600_000);
