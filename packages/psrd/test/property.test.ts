/**
 * Property tests: random sequences of allocations on an owned pool, mirrored by takes (in a
 * random order) on a peer pool holding the same blocks. Same bytes on both sides, no byte
 * handed out twice, exact accounting; exhaustion consumes nothing.
 */
import fc from "fast-check";
import { PsrdExhaustedError, type Fragment } from "../src/index.js";
import { blockData, must, uuidFor } from "./helpers.js";
import { makeStore, type StoreKind } from "./stores.js";

const blocksArb = fc.array(fc.record({ size: fc.integer({ min: 1, max: 300 }), keyPrefix: fc.integer({ min: 0, max: 16 }) }), {
  minLength: 1,
  maxLength: 5,
});
const scenarioArb = fc.record({
  blocks: blocksArb,
  sizes: fc.array(fc.integer({ min: 1, max: 250 }), { minLength: 1, maxLength: 25 }),
  order: fc.array(fc.nat(), { maxLength: 25 }),
  concurrent: fc.boolean(),
});

function expectedBytes(frags: readonly Fragment[], blocks: Map<string, Uint8Array>): Uint8Array {
  const parts = frags.map((f) => must(blocks.get(f.blockUuid), `block ${f.blockUuid}`).subarray(f.start, f.start + f.size));
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

async function runScenario(kind: StoreKind, s: Scenario): Promise<void> {
  const fx = await makeStore(kind);
  try {
    const L = await fx.store.openPool("L", "local");
    const P = await fx.store.openPool("P", "peer");
    const blocks = new Map<string, Uint8Array>();
    let size = 0;
    let prefixes = 0;
    for (let i = 0; i < s.blocks.length; i++) {
      const b = s.blocks[i];
      const kp = Math.min(b.keyPrefix, b.size);
      const data = blockData(i + 1, b.size);
      blocks.set(uuidFor(i + 1), data);
      await L.addBlock(uuidFor(i + 1), data, { keyPrefix: kp });
      await P.addBlock(uuidFor(i + 1), data, { keyPrefix: kp });
      size += b.size;
      prefixes += kp;
    }

    // Allocate (sequentially or all at once); exhaustion must consume nothing.
    const results: { fragments: readonly Fragment[]; data: Uint8Array }[] = [];
    let expectedUsed = prefixes;
    const attempt = async (n: number): Promise<void> => {
      try {
        const { allocation, data } = await L.allocate(n, "prop");
        results.push({ fragments: allocation.fragments, data });
      } catch (e) {
        expect(e).toBeInstanceOf(PsrdExhaustedError);
      }
    };
    if (s.concurrent) {
      // All calls start before any resolves: the check and the bump are synchronous.
      const avail0 = L.stats().available;
      let remaining = avail0;
      for (const n of s.sizes) if (n <= remaining) remaining -= n;
      await Promise.all(s.sizes.map((n) => attempt(n)));
      expect(L.stats().available).toBe(remaining);
    } else {
      for (const n of s.sizes) {
        const before = L.stats();
        await attempt(n);
        if (n > before.available) expect(L.stats()).toEqual(before);
      }
    }
    for (const r of results) expectedUsed += r.data.length;

    // No byte handed out twice; every byte is the block's byte at that position; never a key byte.
    const seen = new Set<string>();
    for (const r of results) {
      expect(r.data).toEqual(expectedBytes(r.fragments, blocks));
      for (const f of r.fragments) {
        const idx = Number.parseInt(f.blockUuid.slice(-12), 16) - 1;
        expect(f.start).toBeGreaterThanOrEqual(Math.min(s.blocks[idx].keyPrefix, s.blocks[idx].size));
        for (let i = f.start; i < f.start + f.size; i++) {
          const k = `${f.blockUuid}:${i}`;
          expect(seen.has(k)).toBe(false);
          seen.add(k);
        }
      }
    }
    expect(L.stats()).toMatchObject({ size, used: expectedUsed, available: size - expectedUsed });

    // The peer takes the same allocations in a random order and gets the same bytes.
    const order = results.map((_, i) => i).sort((a, b) => (s.order[a] ?? a) - (s.order[b] ?? b) || a - b);
    for (const i of order) {
      const data = await P.take({ fragments: results[i].fragments }, "prop");
      expect(data).toEqual(results[i].data);
    }
    expect(P.stats()).toMatchObject({ size, used: expectedUsed, available: size - expectedUsed });
    // And can never take any of them again.
    for (const r of results) {
      await expect(P.take({ fragments: r.fragments }, "again")).rejects.toMatchObject({ code: "consumed" });
    }
    expect(P.stats().used).toBe(expectedUsed);
  } finally {
    await fx.cleanup();
  }
}

test("MemoryStore: allocate mirrored by take", async () => {
  await fc.assert(
    fc.asyncProperty(scenarioArb, (s) => runScenario("MemoryStore", s)),
    { numRuns: 100 },
  );
});

test("FileStore: allocate mirrored by take", async () => {
  await fc.assert(
    fc.asyncProperty(scenarioArb, (s) => runScenario("FileStore", s)),
    { numRuns: 25 },
  );
});
