/**
 * The Pool / PsrdStore contract, as tests every store must pass: MemoryStore and FileStore here
 * (pool.test.ts), PgPsrdStore in @dske/postgres (its *postgres* tests). `make` opens a fresh store
 * with its audit log at `fixture.auditLog`; `durable`: state survives `reopen()`.
 */
import {
  PsrdAllocationError,
  PsrdBlockError,
  PsrdClosedError,
  PsrdExhaustedError,
  PsrdOwnerError,
  PsrdReservationStateError,
  readAuditLog,
  type Allocation,
  type AuditRecord,
  type Pool,
} from "../src/index.js";
import { blockData, uuidFor } from "./helpers.js";
import type { StoreFixture } from "./stores.js";

const B1 = uuidFor(1);
const B2 = uuidFor(2);
const D1 = blockData(1, 100);
const D2 = blockData(2, 50);

export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code: string }).code;
  }
  throw new Error("expected a rejection");
}

export function describePoolContract(make: () => Promise<StoreFixture>, durable: boolean): void {
  let fx: StoreFixture;
  let local: Pool;
  let peer: Pool;

  beforeEach(async () => {
    fx = await make();
    local = await fx.store.openPool("L", "local");
    peer = await fx.store.openPool("P", "peer");
    for (const p of [local, peer]) {
      await p.addBlock(B1, D1, { keyPrefix: 16 });
      await p.addBlock(B2, D2);
    }
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  describe("owned pool (allocate)", () => {
    test("bump-allocates across blocks in order of addition, skipping the key prefix", async () => {
      const a = await local.allocate(80, "t1");
      expect(a.allocation.fragments).toEqual([{ blockUuid: B1, start: 16, size: 80 }]);
      expect(a.data).toEqual(D1.subarray(16, 96));
      const b = await local.allocate(10, "t2");
      expect(b.allocation.fragments).toEqual([
        { blockUuid: B1, start: 96, size: 4 },
        { blockUuid: B2, start: 0, size: 6 },
      ]);
      expect(b.data).toEqual(Uint8Array.from([...D1.subarray(96, 100), ...D2.subarray(0, 6)]));
      expect(local.stats()).toEqual({ name: "L", owner: "local", blocks: 2, size: 150, used: 16 + 90, available: 44 });
    });

    test("exhaustion throws PsrdExhaustedError and consumes nothing", async () => {
      const before = local.stats();
      const e = await local.allocate(135, "too much").catch((x: unknown) => x);
      expect(e).toBeInstanceOf(PsrdExhaustedError);
      expect(e).toMatchObject({ code: "exhausted", requested: 135, available: 134 });
      expect(local.stats()).toEqual(before);
      const all = await local.allocate(134, "all");
      expect(all.data.length).toBe(134);
      expect(local.stats().available).toBe(0);
      await expect(local.allocate(1, "one")).rejects.toBeInstanceOf(PsrdExhaustedError);
    });

    test.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])("size %p is refused", async (size) => {
      expect(await codeOf(local.allocate(size, "x"))).toBe("invalid_size");
      expect(local.stats().used).toBe(16);
    });

    test("reserve/take on an owned pool is refused", async () => {
      const alloc: Allocation = { fragments: [{ blockUuid: B2, start: 0, size: 1 }] };
      await expect(local.reserve(alloc, "x")).rejects.toBeInstanceOf(PsrdOwnerError);
      await expect(local.take(alloc, "x")).rejects.toBeInstanceOf(PsrdOwnerError);
    });

    test("concurrent allocations get disjoint ranges", async () => {
      const results = await Promise.all(Array.from({ length: 40 }, () => local.allocate(3, "c")));
      const starts = new Set<string>();
      for (const r of results)
        for (const f of r.allocation.fragments) for (let i = 0; i < f.size; i++) starts.add(`${f.blockUuid}:${f.start + i}`);
      expect(starts.size).toBe(120);
      expect(local.stats().used).toBe(16 + 120);
    });
  });

  describe("peer pool (reserve / commit / release / take)", () => {
    test("a reservation or take larger than the wire's 1 MiB (a whole bundle block) is the caller's to allow", async () => {
      const big = uuidFor(90);
      const data = blockData(90, 1024 * 1024 + 8192);
      await peer.addBlock(big, data);
      const r = await peer.reserve({ fragments: [{ blockUuid: big, start: 0, size: data.length - 4096 }] }, "confirm");
      expect(r.data).toEqual(data.subarray(0, data.length - 4096));
      await r.commit();
      const rest = await peer.take({ fragments: [{ blockUuid: big, start: data.length - 4096, size: 4096 }] }, "t");
      expect(rest).toEqual(data.subarray(data.length - 4096));
    });
    test("allocate on a peer pool is refused", async () => {
      await expect(peer.allocate(1, "x")).rejects.toBeInstanceOf(PsrdOwnerError);
    });

    test("take returns the named bytes and refuses them afterwards", async () => {
      const alloc: Allocation = {
        fragments: [
          { blockUuid: B2, start: 10, size: 5 },
          { blockUuid: B1, start: 20, size: 3 },
        ],
      };
      const data = await peer.take(alloc, "t");
      expect(data).toEqual(Uint8Array.from([...D2.subarray(10, 15), ...D1.subarray(20, 23)]));
      expect(peer.stats().used).toBe(16 + 8);
      expect(await codeOf(peer.take({ fragments: [{ blockUuid: B2, start: 14, size: 2 }] }, "t"))).toBe("consumed");
      // Neighbouring bytes are still free (out of order use is allowed).
      expect(
        await peer.take(
          {
            fragments: [
              { blockUuid: B2, start: 0, size: 10 },
              { blockUuid: B2, start: 15, size: 1 },
            ],
          },
          "t",
        ),
      ).toEqual(Uint8Array.from([...D2.subarray(0, 10), D2[15]]));
    });

    test.each([
      ["unknown block", { blockUuid: uuidFor(99), start: 0, size: 1 }, "unknown_block"],
      ["past the end", { blockUuid: B2, start: 45, size: 6 }, "out_of_range"],
      ["start past the end", { blockUuid: B2, start: 50, size: 1 }, "out_of_range"],
      ["in the key prefix", { blockUuid: B1, start: 15, size: 2 }, "key_prefix"],
      ["size 0", { blockUuid: B1, start: 20, size: 0 }, "invalid_size"],
      ["negative start", { blockUuid: B1, start: -1, size: 2 }, "invalid_number"],
      ["bad uuid", { blockUuid: "zz", start: 1, size: 2 }, "invalid_uuid"],
    ])("refuses a fragment %s", async (_name, fragment, code) => {
      const before = peer.stats();
      const e = await peer.take({ fragments: [fragment] }, "x").catch((x: unknown) => x);
      expect(e).toBeInstanceOf(PsrdAllocationError);
      expect((e as PsrdAllocationError).code).toBe(code);
      expect(peer.stats()).toEqual(before);
    });

    test("refuses an empty allocation and overlapping fragments", async () => {
      expect(await codeOf(peer.take({ fragments: [] }, "x"))).toBe("empty");
      expect(
        await codeOf(
          peer.take(
            {
              fragments: [
                { blockUuid: B2, start: 0, size: 5 },
                { blockUuid: B2, start: 4, size: 1 },
              ],
            },
            "x",
          ),
        ),
      ).toBe("overlap");
      expect(peer.stats().used).toBe(16);
    });

    test("a block UUID is matched case-insensitively", async () => {
      const data = await peer.take({ fragments: [{ blockUuid: B2.toUpperCase(), start: 0, size: 2 }] }, "x");
      expect(data).toEqual(D2.subarray(0, 2));
    });

    test("release leaves the pool exactly unchanged and zeroes the reservation's data", async () => {
      const alloc: Allocation = { fragments: [{ blockUuid: B1, start: 30, size: 10 }] };
      const before = peer.stats();
      const r = await peer.reserve(alloc, "verify");
      expect(r.data).toEqual(D1.subarray(30, 40));
      expect(r.allocation.fragments).toEqual(alloc.fragments);
      expect(peer.stats()).toEqual(before);
      r.release();
      expect(r.data.every((x) => x === 0)).toBe(true);
      expect(peer.stats()).toEqual(before);
      r.release(); // idempotent
      await expect(r.commit()).rejects.toBeInstanceOf(PsrdReservationStateError);
      // The same bytes can be reserved again and have their original value.
      const again = await peer.take(alloc, "again");
      expect(again).toEqual(D1.subarray(30, 40));
    });

    test("a pending reservation blocks overlapping reservations until released", async () => {
      const r = await peer.reserve({ fragments: [{ blockUuid: B1, start: 30, size: 10 }] }, "a");
      expect(await codeOf(peer.reserve({ fragments: [{ blockUuid: B1, start: 39, size: 5 }] }, "b"))).toBe("reserved");
      expect(await codeOf(peer.take({ fragments: [{ blockUuid: B1, start: 25, size: 6 }] }, "b"))).toBe("reserved");
      // Adjacent bytes are free.
      const adj = await peer.reserve({ fragments: [{ blockUuid: B1, start: 40, size: 5 }] }, "c");
      r.release();
      const now = await peer.reserve({ fragments: [{ blockUuid: B1, start: 35, size: 5 }] }, "d");
      expect(now.data).toEqual(D1.subarray(35, 40));
      now.release();
      adj.release();
    });

    test("concurrent overlapping reservations: exactly one wins", async () => {
      const allocs = Array.from({ length: 10 }, (_, i) => ({ fragments: [{ blockUuid: B2, start: i, size: 5 }] }));
      const settled = await Promise.allSettled(allocs.map((a) => peer.reserve(a, "race")));
      const won = settled.filter((s) => s.status === "fulfilled");
      const lost = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected");
      // Windows [i, i+5): greedy from 0 — 0 and 5 win, everything in between overlaps one of them.
      expect(won).toHaveLength(2);
      for (const l of lost) expect(l.reason).toMatchObject({ code: "reserved" });
      for (const w of won) (w as PromiseFulfilledResult<{ release(): void }>).value.release();
      expect(peer.stats().used).toBe(16);
    });

    test("commit consumes: bytes refused afterwards, accounted once, commit twice refused", async () => {
      const alloc: Allocation = { fragments: [{ blockUuid: B2, start: 0, size: 50 }] };
      const r = await peer.reserve(alloc, "c");
      await r.commit();
      expect(r.data).toEqual(D2);
      expect(peer.stats()).toMatchObject({ used: 16 + 50, available: 84 });
      await expect(r.commit()).rejects.toBeInstanceOf(PsrdReservationStateError);
      r.release(); // no effect after commit
      expect(r.data).toEqual(D2);
      expect(await codeOf(peer.take(alloc, "again"))).toBe("consumed");
      expect(peer.stats()).toMatchObject({ used: 16 + 50, available: 84 });
    });
  });

  describe("blocks", () => {
    test("blockKey returns a copy of the key prefix, also after the rest is consumed", async () => {
      const k = await local.blockKey(B1);
      expect(k).toEqual(D1.subarray(0, 16));
      k.fill(0);
      await local.allocate(134, "all");
      expect(await local.blockKey(B1.toUpperCase())).toEqual(D1.subarray(0, 16));
      expect(await peer.blockKey(B1)).toEqual(D1.subarray(0, 16));
      await expect(local.blockKey(B2)).rejects.toMatchObject({ code: "no_key_prefix" });
      await expect(local.blockKey(uuidFor(77))).rejects.toMatchObject({ code: "unknown_block" });
    });

    test("addBlock validates and copies its input", async () => {
      await expect(local.addBlock(B1, D1)).rejects.toMatchObject({ code: "duplicate_block" });
      await expect(local.addBlock(B1.toUpperCase(), D1)).rejects.toMatchObject({ code: "duplicate_block" });
      await expect(local.addBlock("nope", D1)).rejects.toBeInstanceOf(PsrdBlockError);
      await expect(local.addBlock(uuidFor(3), new Uint8Array(0))).rejects.toMatchObject({ code: "invalid_block" });
      await expect(local.addBlock(uuidFor(3), D1, { keyPrefix: 101 })).rejects.toMatchObject({ code: "invalid_block" });
      await expect(local.addBlock(uuidFor(3), D1, { keyPrefix: -1 })).rejects.toMatchObject({ code: "invalid_block" });
      const mine = blockData(3, 10);
      const copy = Uint8Array.from(mine);
      await local.addBlock(uuidFor(3), mine, { keyPrefix: 10 }); // all key: nothing allocatable
      mine.fill(0);
      expect(await local.blockKey(uuidFor(3))).toEqual(copy);
      expect(local.stats()).toMatchObject({ blocks: 3, size: 160, used: 26, available: 134 });
      // Concurrent adds of the same UUID: one wins.
      const s = await Promise.allSettled([local.addBlock(uuidFor(4), D2), local.addBlock(uuidFor(4), D2)]);
      expect(s.map((x) => x.status).sort()).toEqual(["fulfilled", "rejected"]);
    });

    test("hasBlock: true for added blocks (either UUID case, also once consumed), false otherwise", async () => {
      for (const p of [local, peer]) {
        expect(p.hasBlock(B1)).toBe(true);
        expect(p.hasBlock(B2.toUpperCase())).toBe(true);
        expect(p.hasBlock(uuidFor(9))).toBe(false);
        expect(p.hasBlock("not-a-uuid")).toBe(false);
      }
      // Pools are separate: a block of one pool is unknown to another.
      const other = await fx.store.openPool("O", "local");
      expect(other.hasBlock(B1)).toBe(false);
      await local.allocate(134, "all");
      expect(local.hasBlock(B1)).toBe(true);
      // Not yet while its addBlock is in flight; true once it resolved.
      const adding = local.addBlock(uuidFor(6), blockData(6, 20));
      expect(local.hasBlock(uuidFor(6))).toBe(false);
      await adding;
      expect(local.hasBlock(uuidFor(6))).toBe(true);
      // A failed add leaves no trace.
      await expect(local.addBlock(uuidFor(7), new Uint8Array(0))).rejects.toBeInstanceOf(PsrdBlockError);
      expect(local.hasBlock(uuidFor(7))).toBe(false);
    });

    test("hasBlock after restart" + (durable ? "" : " (memory: a new store is empty)"), async () => {
      await local.allocate(100, "x");
      const store = await fx.reopen();
      expect(() => local.hasBlock(B1)).toThrow(PsrdClosedError);
      const l2 = await store.openPool("L", "local");
      const p2 = await store.openPool("P", "peer");
      const expected = durable;
      for (const p of [l2, p2]) {
        expect(p.hasBlock(B1)).toBe(expected);
        expect(p.hasBlock(B2)).toBe(expected);
        expect(p.hasBlock(uuidFor(9))).toBe(false);
      }
    });

    test("hasBlock fails on a deleted pool's old handle", async () => {
      await fx.store.deletePool("L");
      expect(() => local.hasBlock(B1)).toThrow(PsrdClosedError);
      const fresh = await fx.store.openPool("L", "local");
      expect(fresh.hasBlock(B1)).toBe(false);
    });

    test("a block added after exhaustion becomes allocatable", async () => {
      await local.allocate(134, "all");
      await expect(local.allocate(1, "x")).rejects.toBeInstanceOf(PsrdExhaustedError);
      await local.addBlock(uuidFor(5), blockData(5, 20), { keyPrefix: 4 });
      const a = await local.allocate(16, "x");
      expect(a.allocation.fragments).toEqual([{ blockUuid: uuidFor(5), start: 4, size: 16 }]);
    });
  });

  describe("store", () => {
    test("the same name gives the same pool; the other owner is refused", async () => {
      const again = await fx.store.openPool("L", "local");
      expect(again.stats()).toEqual(local.stats());
      await expect(fx.store.openPool("L", "peer")).rejects.toBeInstanceOf(PsrdOwnerError);
      expect(await fx.store.listPools()).toEqual(["L", "P"]);
    });

    test("pool names with unusual characters work", async () => {
      const name = "hub-1/client:ä b.%";
      const p = await fx.store.openPool(name, "local");
      await p.addBlock(B1, D1);
      expect(await fx.store.listPools()).toContain(name);
      await expect(fx.store.openPool("", "local")).rejects.toMatchObject({ code: "invalid_argument" });
      await expect(fx.store.openPool("a\nb", "local")).rejects.toMatchObject({ code: "invalid_argument" });
    });

    test("deletePool removes the pool; its old handle fails; reopening gives an empty pool", async () => {
      await local.allocate(10, "x");
      await fx.store.deletePool("L");
      await fx.store.deletePool("L"); // no-op when absent
      expect(await fx.store.listPools()).toEqual(["P"]);
      await expect(local.allocate(1, "x")).rejects.toBeInstanceOf(PsrdClosedError);
      const fresh = await fx.store.openPool("L", "peer");
      expect(fresh.stats()).toEqual({ name: "L", owner: "peer", blocks: 0, size: 0, used: 0, available: 0 });
    });

    test("close makes further calls fail", async () => {
      await fx.store.close();
      await expect(fx.store.openPool("L", "local")).rejects.toBeInstanceOf(PsrdClosedError);
      await expect(local.allocate(1, "x")).rejects.toBeInstanceOf(PsrdClosedError);
      await expect(peer.take({ fragments: [{ blockUuid: B2, start: 0, size: 1 }] }, "x")).rejects.toBeInstanceOf(PsrdClosedError);
    });

    test("every consumption is in the audit log, without the bytes", async () => {
      const a = await local.allocate(90, "sign request");
      await peer.take({ fragments: [{ blockUuid: B2, start: 3, size: 4 }] }, "verify response");
      const r = await peer.reserve({ fragments: [{ blockUuid: B2, start: 20, size: 4 }] }, "released");
      r.release();
      const log = await readAuditLog(fx.auditLog);
      const withoutTime = (rec: AuditRecord): Partial<AuditRecord> => {
        const copy: Partial<AuditRecord> = { ...rec };
        delete copy.time;
        return copy;
      };
      expect(log.map(withoutTime)).toEqual([
        { pool: "L", owner: "local", op: "allocate", block_uuid: B1, start: 16, size: 84, purpose: "sign request" },
        { pool: "L", owner: "local", op: "allocate", block_uuid: B2, start: 0, size: 6, purpose: "sign request" },
        { pool: "P", owner: "peer", op: "take", block_uuid: B2, start: 3, size: 4, purpose: "verify response" },
      ]);
      for (const rec of log) expect(new Date(rec.time).toISOString()).toBe(rec.time);
      const { readFileSync } = await import("node:fs");
      const text = readFileSync(fx.auditLog, "utf8");
      const hex = Buffer.from(a.data.subarray(0, 8)).toString("hex");
      expect(text).not.toContain(hex);
      expect(text).not.toContain(Buffer.from(a.data.subarray(0, 8)).toString("base64"));
    });
  });

  test("state survives reopen" + (durable ? "" : " (memory: a new store is empty)"), async () => {
    await local.allocate(50, "x");
    await peer.take({ fragments: [{ blockUuid: B2, start: 5, size: 5 }] }, "x");
    const store = await fx.reopen();
    const l2 = await store.openPool("L", "local");
    const p2 = await store.openPool("P", "peer");
    if (!durable) {
      expect(l2.stats().blocks).toBe(0);
      return;
    }
    expect(l2.stats()).toEqual({ name: "L", owner: "local", blocks: 2, size: 150, used: 66, available: 84 });
    expect(p2.stats()).toEqual({ name: "P", owner: "peer", blocks: 2, size: 150, used: 21, available: 129 });
    const next = await l2.allocate(1, "x");
    expect(next.allocation.fragments).toEqual([{ blockUuid: B1, start: 66, size: 1 }]);
    expect(next.data[0]).toBe(D1[66]);
    expect(await codeOf(p2.take({ fragments: [{ blockUuid: B2, start: 9, size: 1 }] }, "x"))).toBe("consumed");
    expect(await p2.take({ fragments: [{ blockUuid: B2, start: 10, size: 1 }] }, "x")).toEqual(D2.subarray(10, 11));
    await expect(store.openPool("L", "peer")).rejects.toBeInstanceOf(PsrdOwnerError);
  });
}
