/** Per-block accounting (`Pool.blockUsage`): metadata only, consistent with `stats()`, restored on reopen. */
import type { BlockUsage, Pool } from "../src/index.js";
import { blockData, uuidFor } from "./helpers.js";
import { STORE_KINDS, makeStore, type StoreFixture } from "./stores.js";

const B1 = uuidFor(1);
const B2 = uuidFor(2);

/** Sum of the per-block figures, to compare with the pool's stats. */
function totals(usage: readonly BlockUsage[]): { size: number; used: number; available: number } {
  return usage.reduce((t, b) => ({ size: t.size + b.size, used: t.used + b.used, available: t.available + b.unused }), {
    size: 0,
    used: 0,
    available: 0,
  });
}

describe.each(STORE_KINDS)("%s", (kind) => {
  let fx: StoreFixture;
  let local: Pool;
  let peer: Pool;

  beforeEach(async () => {
    fx = await makeStore(kind);
    local = await fx.store.openPool("L", "local");
    peer = await fx.store.openPool("P", "peer");
    for (const p of [local, peer]) {
      await p.addBlock(B1, blockData(1, 100), { keyPrefix: 16 });
      await p.addBlock(B2, blockData(2, 50));
    }
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  test("fresh blocks: only the key prefix is used", () => {
    for (const p of [local, peer]) {
      expect(p.blockUsage()).toEqual([
        { blockUuid: B1, size: 100, used: 16, unused: 84 },
        { blockUuid: B2, size: 50, used: 0, unused: 50 },
      ]);
    }
  });

  test("owned pool: allocations across blocks; the sums are the pool's stats; no bytes in the summary", async () => {
    const a = await local.allocate(90, "t");
    a.data.fill(0);
    const usage = local.blockUsage();
    expect(usage).toEqual([
      { blockUuid: B1, size: 100, used: 100, unused: 0 },
      { blockUuid: B2, size: 50, used: 6, unused: 44 },
    ]);
    const s = local.stats();
    expect(totals(usage)).toEqual({ size: s.size, used: s.used, available: s.available });
    for (const b of usage) expect(Object.keys(b).sort()).toEqual(["blockUuid", "size", "unused", "used"]);
  });

  test("peer pool: out-of-order takes count, reservations do not until committed", async () => {
    (await peer.take({ fragments: [{ blockUuid: B2, start: 10, size: 5 }] }, "t")).fill(0);
    (await peer.take({ fragments: [{ blockUuid: B1, start: 50, size: 10 }] }, "t")).fill(0);
    const held = await peer.reserve({ fragments: [{ blockUuid: B2, start: 0, size: 5 }] }, "t");
    expect(peer.blockUsage()).toEqual([
      { blockUuid: B1, size: 100, used: 26, unused: 74 },
      { blockUuid: B2, size: 50, used: 5, unused: 45 },
    ]);
    await held.commit();
    held.data.fill(0);
    expect(peer.blockUsage()[1]).toEqual({ blockUuid: B2, size: 50, used: 10, unused: 40 });
    const s = peer.stats();
    expect(totals(peer.blockUsage())).toEqual({ size: s.size, used: s.used, available: s.available });
  });

  // A MemoryStore keeps nothing across a reopen (no such case for it); a FileStore restores the
  // accounting from its journal.
  const durable = kind === "FileStore" ? test : () => undefined;
  durable("restored from durable state on reopen", async () => {
    (await local.allocate(20, "t")).data.fill(0);
    (await peer.take({ fragments: [{ blockUuid: B1, start: 16, size: 4 }] }, "t")).fill(0);
    const before = [local.blockUsage(), peer.blockUsage()];
    const store = await fx.reopen();
    local = await store.openPool("L", "local");
    peer = await store.openPool("P", "peer");
    expect([local.blockUsage(), peer.blockUsage()]).toEqual(before);
  });
});
