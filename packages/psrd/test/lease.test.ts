/**
 * Allocation leases (src/lease.ts): an owned FileStore pool consumes runs of bytes ahead with one
 * durable journal write and hands allocations out of them in memory. The kill -9 guarantee with
 * leases on (the FileStore default) is the crash test's (crash.test.ts); here: disjointness, the
 * right bytes, few journal writes, accounting, and the clean close that gives the rest back.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStore, type Allocation } from "../src/index.js";
import { blockData, uuidFor } from "./helpers.js";

const BLOCK = 4096;
const PREFIX = 16;

function bytesOf(allocation: Allocation, blocks: Map<string, Uint8Array>): Uint8Array {
  const parts = allocation.fragments.map((f) => (blocks.get(f.blockUuid) as Uint8Array).subarray(f.start, f.start + f.size));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

describe("FileStore allocation leases", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "psrd-lease-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("allocations are disjoint, carry the block's bytes, share few journal writes, and a clean close gives the rest back", async () => {
    const blocks = new Map([
      [uuidFor(1), blockData(1, BLOCK)],
      [uuidFor(2), blockData(2, BLOCK)],
    ]);
    const store = await FileStore.open(join(dir, "s"), { leaseBytes: 1024 });
    const pool = await store.openPool("p", "local");
    for (const [uuid, data] of blocks) await pool.addBlock(uuid, data, { keyPrefix: PREFIX });
    const before = (await store.diagnostics("p")).journalBatches;

    const seen: [string, number, number][] = [];
    let total = 0;
    // Sequential and concurrent allocations, some crossing the block boundary.
    for (let round = 0; round < 20; round++) {
      const sizes = [48, 32, 80, 32, 100];
      const got = await Promise.all(sizes.map((n) => pool.allocate(n, "test")));
      got.forEach((g, i) => {
        expect(g.data.length).toBe(sizes[i]);
        expect(Buffer.from(g.data).equals(Buffer.from(bytesOf(g.allocation, blocks)))).toBe(true);
        for (const f of g.allocation.fragments) seen.push([f.blockUuid, f.start, f.start + f.size]);
        total += sizes[i];
      });
    }
    seen.sort((a, b) => a[0].localeCompare(b[0]) || a[1] - b[1]);
    for (let i = 1; i < seen.length; i++) {
      if (seen[i][0] === seen[i - 1][0]) expect(seen[i][1]).toBeGreaterThanOrEqual(seen[i - 1][2]);
    }
    const batches = (await store.diagnostics("p")).journalBatches - before;
    // 5,840 bytes in runs of 1,024: about six journal writes instead of one per allocation (100).
    expect(batches).toBeLessThanOrEqual(12);
    expect(pool.stats().used).toBe(2 * PREFIX + total);
    const usage = pool.blockUsage();
    expect(usage.reduce((n, b) => n + b.used, 0)).toBe(2 * PREFIX + total);

    // Clean close: nothing of the lease is lost; the next allocation continues where the last ended,
    // with the original (not zeroed) bytes.
    await store.close();
    const again = await FileStore.open(join(dir, "s"), { leaseBytes: 1024 });
    const pool2 = await again.openPool("p", "local");
    expect(pool2.stats().used).toBe(2 * PREFIX + total);
    const next = await pool2.allocate(64, "after reopen");
    const last = seen.filter((s) => s[0] === next.allocation.fragments[0].blockUuid).reduce((m, s) => Math.max(m, s[2]), PREFIX);
    expect(next.allocation.fragments[0].start).toBe(last);
    expect(Buffer.from(next.data).equals(Buffer.from(bytesOf(next.allocation, blocks)))).toBe(true);
    await again.close();
  });

  test("an allocation larger than the lease and an exhausted pool", async () => {
    const store = await FileStore.open(join(dir, "s"), { leaseBytes: 256 });
    const pool = await store.openPool("p", "local");
    const data = blockData(3, 2048);
    await pool.addBlock(uuidFor(3), data, { keyPrefix: PREFIX });
    const big = await pool.allocate(1000, "big");
    expect(Buffer.from(big.data).equals(Buffer.from(data.subarray(PREFIX, PREFIX + 1000)))).toBe(true);
    const rest = 2048 - PREFIX - 1000;
    await expect(pool.allocate(rest + 1, "too much")).rejects.toMatchObject({ code: "exhausted" });
    const all = await pool.allocate(rest, "the rest");
    expect(Buffer.from(all.data).equals(Buffer.from(data.subarray(PREFIX + 1000)))).toBe(true);
    expect(pool.stats().available).toBe(0);
    await store.close();
  });
});
