import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { FileStore, MemoryStore, type Pool } from "@dske/psrd";
import { SigningReserve } from "../src/signing-reserve";

const BLOCK = "0b0e6e5e-7a0b-4c2e-9c1c-2f1e0e3d4c5b";

async function poolWith(bytes: Uint8Array): Promise<{ pool: Pool; store: MemoryStore }> {
  const store = new MemoryStore();
  const pool = await store.openPool("p", "local");
  await pool.addBlock(BLOCK, bytes, { keyPrefix: 16 });
  return { pool, store };
}

describe("SigningReserve", () => {
  test("a prepared pad is consumed at once, handed out once (FIFO), and counts as used PSRD", async () => {
    const data = randomBytes(16 + 160);
    const { pool } = await poolWith(Uint8Array.from(data));
    const base = pool.stats().used; // the block's key prefix
    const r = new SigningReserve(pool, 2);
    r.prepare(16);
    r.prepare(16);
    r.prepare(16); // reserve full: no-op
    expect(r.size).toBe(2);
    await new Promise((res) => setImmediate(res));
    expect(pool.stats().used - base).toBe(32); // consumed ahead, before anyone signs
    const a = await r.allocate(16, "sign");
    const b = await r.allocate(16, "sign");
    const c = await r.allocate(16, "sign"); // reserve empty: a fresh allocation
    const starts = [a, b, c].map((x) => x.allocation.fragments[0].start);
    expect(new Set(starts).size).toBe(3);
    expect(starts).toEqual([16, 32, 48]);
    expect(Buffer.from(a.data)).toEqual(data.subarray(16, 32));
    expect(pool.stats().used - base).toBe(48);
    expect(r.usedFromReserve).toBe(2);
    // Other sizes never take a prepared pad.
    r.prepare(16);
    const big = await r.allocate(48, "share pad");
    expect(big.data.length).toBe(48);
    expect(r.size).toBe(1);
  });

  test("a failed preparation (pool exhausted) leaves nothing behind; the signer then allocates as usual", async () => {
    const { pool } = await poolWith(randomBytes(16 + 16));
    const r = new SigningReserve(pool);
    r.prepare(32); // more than the pool has
    await expect(r.allocate(32, "sign")).rejects.toThrow();
    const ok = await r.allocate(16, "sign");
    expect(ok.data.length).toBe(16);
  });

  test("crash safety: prepared-but-unused pads are consumed on disk and never handed out again after a restart", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "dske-reserve-"));
    try {
      const store = await FileStore.open(dir);
      const pool = await store.openPool("p", "local");
      await pool.addBlock(BLOCK, randomBytes(16 + 64), { keyPrefix: 16 });
      const base = pool.stats().used;
      const r = new SigningReserve(pool);
      r.prepare(16);
      r.prepare(16);
      const used = await r.allocate(16, "sign"); // one is used, one stays in the reserve
      expect(used.allocation.fragments[0].start).toBe(16);
      // "Crash": the reserve (memory) is lost; the store is closed without using the second pad.
      await store.close();

      const again = await FileStore.open(dir);
      const pool2 = await again.openPool("p", "local");
      expect(pool2.stats().used - base).toBe(32); // both pads stay consumed
      const next = await new SigningReserve(pool2).allocate(16, "sign");
      expect(next.allocation.fragments[0].start).toBe(48); // never 16 or 32 again
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
