/** FileStore specifics: on-disk zeroing, recovery from torn/unzeroed journals, compaction, locks. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStore, PsrdCorruptError, PsrdLockedError, type Pool } from "../src/index.js";
import { RECORD_SIZE, encodeRecord, replayJournal } from "../src/journal.js";
import { encodePoolName } from "../src/pool-name.js";
import { blockData, uuidFor } from "./helpers.js";

const B1 = uuidFor(1);
const B2 = uuidFor(2);
const D1 = blockData(1, 1000);
const D2 = blockData(2, 500);

let root: string;
let dir: string;
let store: FileStore;

const poolDir = (name: string) => join(dir, "pools", encodePoolName(name));
const dataFile = (name: string) => readFileSync(join(poolDir(name), "data.bin"));
const isZero = (b: Uint8Array) => b.every((x) => x === 0);
/** Poll until `cond` holds (background zeroing and syncs); the bound only guards against a hang. */
async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  for (const end = Date.now() + 20_000; !(await cond());) {
    if (Date.now() > end) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 5));
  }
}
/** Valid records in a pool's journal (the file itself may have a preallocated zero tail). */
const journalRecords = async (name: string) => (await replayJournal(join(poolDir(name), "journal.bin"), () => undefined)).records;

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), "psrd-fs-"));
  dir = join(root, "store");
  store = await FileStore.open(dir);
});
afterEach(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

async function pools(): Promise<{ L: Pool; P: Pool }> {
  const L = await store.openPool("L", "local");
  const P = await store.openPool("P", "peer");
  for (const p of [L, P]) {
    await p.addBlock(B1, D1, { keyPrefix: 16 });
    await p.addBlock(B2, D2);
  }
  return { L, P };
}

test("layout: data file holds the blocks back to back; meta.json describes them", async () => {
  await pools();
  expect(dataFile("L")).toEqual(Buffer.concat([D1, D2]));
  const meta: unknown = JSON.parse(readFileSync(join(poolDir("L"), "meta.json"), "utf8"));
  expect(meta).toEqual({
    version: 1,
    name: "L",
    owner: "local",
    blocks: [
      { uuid: B1, size: 1000, keyPrefix: 16, offset: 0 },
      { uuid: B2, size: 500, keyPrefix: 0, offset: 1000 },
    ],
  });
});

test("consumed bytes are zeroed on disk; the rest is untouched", async () => {
  const { L, P } = await pools();
  await L.allocate(1000, "x"); // 984 of B1 + 16 of B2
  await P.take(
    {
      fragments: [
        { blockUuid: B1, start: 100, size: 50 },
        { blockUuid: B2, start: 400, size: 10 },
      ],
    },
    "x",
  );
  await store.close(); // flushes the lazy zeroing
  const l = dataFile("L");
  expect(l.subarray(0, 16)).toEqual(Buffer.from(D1.subarray(0, 16))); // key prefix kept
  expect(isZero(l.subarray(16, 1016))).toBe(true);
  expect(l.subarray(1016)).toEqual(Buffer.from(D2.subarray(16)));
  const p = dataFile("P");
  expect(isZero(p.subarray(100, 150))).toBe(true);
  expect(isZero(p.subarray(1400, 1410))).toBe(true);
  expect(p.subarray(0, 100)).toEqual(Buffer.from(D1.subarray(0, 100)));
  expect(p.subarray(150, 1000)).toEqual(Buffer.from(D1.subarray(150)));
  expect(p.subarray(1410)).toEqual(Buffer.from(D2.subarray(410)));
  store = await FileStore.open(dir);
});

test("zeroing happens without close too (lazily after the journal fsync)", async () => {
  const { L } = await pools();
  await L.allocate(100, "x");
  await L.allocate(1, "x"); // the next batch runs after the previous zeroing was issued
  await until(() => isZero(dataFile("L").subarray(16, 116)));
  expect(isZero(dataFile("L").subarray(16, 116))).toBe(true);
});

test("zeroed ranges are made durable (data file fdatasync'd) within zeroSyncMs, one sync for many consumptions", async () => {
  await store.close();
  // A sync window long enough that the 20 concurrent consumptions fall into it even on a slow,
  // busy machine (with 20 ms, a slow journal fsync could spread them over many windows).
  store = await FileStore.open(dir, { zeroSyncMs: 500 });
  const { L } = await pools();
  const before = (await store.diagnostics("L")).zeroSyncs;
  await Promise.all(Array.from({ length: 20 }, () => L.allocate(10, "x")));
  await until(async () => (await store.diagnostics("L")).zeroSyncs > before);
  // Not one per allocation: the consumptions group-commit into a few batches, zeroed together.
  expect((await store.diagnostics("L")).zeroSyncs - before).toBeGreaterThanOrEqual(1);
  expect((await store.diagnostics("L")).zeroSyncs - before).toBeLessThan(5);
  expect(isZero(dataFile("L").subarray(16, 216))).toBe(true);
});

test("a journaled but not yet zeroed range (crash before zeroing) is zeroed and consumed on reopen", async () => {
  await pools();
  await store.close();
  // Simulate: journal record durable, zero write lost.
  const rec = Buffer.alloc(RECORD_SIZE);
  encodeRecord({ block: 1, start: 100, size: 20, flags: 0 }, rec, 0);
  appendFileSync(join(poolDir("P"), "journal.bin"), rec);
  expect(isZero(dataFile("P").subarray(1100, 1120))).toBe(false);
  store = await FileStore.open(dir);
  const P = await store.openPool("P", "peer");
  expect(isZero(dataFile("P").subarray(1100, 1120))).toBe(true);
  expect(P.stats().used).toBe(16 + 20);
  await expect(P.take({ fragments: [{ blockUuid: B2, start: 119, size: 1 }] }, "x")).rejects.toMatchObject({ code: "consumed" });
  expect(await P.take({ fragments: [{ blockUuid: B2, start: 120, size: 1 }] }, "x")).toEqual(D2.subarray(120, 121));
});

test("a torn last journal record is ignored and the journal repaired", async () => {
  const { P } = await pools();
  await P.take({ fragments: [{ blockUuid: B2, start: 0, size: 10 }] }, "x");
  await store.close();
  const journal = join(poolDir("P"), "journal.bin");
  const good = Buffer.alloc(RECORD_SIZE);
  encodeRecord({ block: 1, start: 200, size: 5, flags: 0 }, good, 0);
  // A whole record with a bad checksum, then half a record.
  const bad = Buffer.from(good);
  bad[10] ^= 0xff;
  appendFileSync(journal, Buffer.concat([bad, good.subarray(0, 13)]));
  store = await FileStore.open(dir);
  const P2 = await store.openPool("P", "peer");
  expect(P2.stats().used).toBe(16 + 10);
  expect(statSync(journal).size % RECORD_SIZE).toBe(0);
  expect(await journalRecords("P")).toBe(1); // rewritten: the valid record only
  expect(await P2.take({ fragments: [{ blockUuid: B2, start: 200, size: 5 }] }, "x")).toEqual(D2.subarray(200, 205));
  await store.close();
  store = await FileStore.open(dir);
  expect((await store.openPool("P", "peer")).stats().used).toBe(16 + 15);
});

test("owned pool: a hole below the high-water mark (torn batch) is burned and zeroed", async () => {
  await pools();
  await store.close();
  const rec = Buffer.alloc(RECORD_SIZE);
  encodeRecord({ block: 0, start: 100, size: 10, flags: 0 }, rec, 0); // [16,100) has no record
  appendFileSync(join(poolDir("L"), "journal.bin"), rec);
  store = await FileStore.open(dir);
  const L = await store.openPool("L", "local");
  expect(L.stats().used).toBe(110);
  expect(isZero(dataFile("L").subarray(16, 110))).toBe(true);
  expect((await L.allocate(1, "x")).allocation.fragments).toEqual([{ blockUuid: B1, start: 110, size: 1 }]);
});

test("a block whose metadata never became durable is wiped on open", async () => {
  await pools();
  await store.close();
  const data = join(poolDir("L"), "data.bin");
  appendFileSync(data, Buffer.from(blockData(9, 300)));
  store = await FileStore.open(dir);
  const L = await store.openPool("L", "local");
  expect(L.stats()).toMatchObject({ blocks: 2, size: 1500 });
  expect(statSync(data).size).toBe(1500);
  await L.addBlock(uuidFor(3), blockData(3, 10));
  expect(dataFile("L").subarray(1500)).toEqual(Buffer.from(blockData(3, 10)));
});

test("journal records outside the pool or bad metadata are reported as corruption", async () => {
  await pools();
  await store.close();
  const rec = Buffer.alloc(RECORD_SIZE);
  encodeRecord({ block: 7, start: 0, size: 1, flags: 0 }, rec, 0);
  appendFileSync(join(poolDir("P"), "journal.bin"), rec);
  writeFileSync(join(poolDir("L"), "meta.json"), "{not json");
  store = await FileStore.open(dir);
  await expect(store.openPool("P", "peer")).rejects.toBeInstanceOf(PsrdCorruptError);
  await expect(store.openPool("L", "local")).rejects.toBeInstanceOf(PsrdCorruptError);
});

test("compaction keeps the journal small and the state exact", async () => {
  await store.close();
  store = await FileStore.open(dir, { compactAfterRecords: 20 });
  const { L, P } = await pools();
  // Every other byte of B2, one batch at a time: many records, many gaps.
  for (let i = 0; i < 200; i += 2) await P.take({ fragments: [{ blockUuid: B2, start: i, size: 1 }] }, "x");
  for (let i = 0; i < 100; i++) await L.allocate(3, "x");
  expect(await journalRecords("L")).toBeLessThanOrEqual(21);
  expect(await journalRecords("P")).toBeLessThanOrEqual(4 * 100 + 1);
  await store.close();
  store = await FileStore.open(dir, { compactAfterRecords: 20 });
  const P2 = await store.openPool("P", "peer");
  const L2 = await store.openPool("L", "local");
  expect(P2.stats().used).toBe(16 + 100);
  expect(L2.stats().used).toBe(16 + 300);
  for (let i = 0; i < 200; i++) {
    const r = P2.take({ fragments: [{ blockUuid: B2, start: i, size: 1 }] }, "x");
    if (i % 2 === 0) await expect(r).rejects.toMatchObject({ code: "consumed" });
    else expect(await r).toEqual(D2.subarray(i, i + 1));
  }
  await store.close(); // flushes the lazy zeroing of the last batch
  expect(isZero(dataFile("P").subarray(1000, 1200))).toBe(true);
  store = await FileStore.open(dir);
});

test("compaction under concurrent load (pipelined batches) loses nothing", async () => {
  await store.close();
  store = await FileStore.open(dir, { compactAfterRecords: 10 });
  const { L, P } = await pools();
  const allocs = await Promise.all(Array.from({ length: 200 }, () => L.allocate(2, "x")));
  await Promise.all(Array.from({ length: 150 }, (_, i) => P.take({ fragments: [{ blockUuid: B1, start: 16 + i * 3, size: 2 }] }, "x")));
  const seen = new Set(allocs.flatMap((a) => a.allocation.fragments.map((f) => `${f.blockUuid}:${f.start}`)));
  expect(seen.size).toBe(200);
  await store.close();
  store = await FileStore.open(dir, { compactAfterRecords: 10 });
  const L2 = await store.openPool("L", "local");
  const P2 = await store.openPool("P", "peer");
  expect(L2.stats().used).toBe(16 + 400);
  expect(P2.stats().used).toBe(16 + 300);
  expect((await store.diagnostics("P")).intervals).toBe(150);
  for (let i = 0; i < 150; i++) {
    await expect(P2.take({ fragments: [{ blockUuid: B1, start: 17 + i * 3, size: 1 }] }, "x")).rejects.toMatchObject({ code: "consumed" });
  }
  expect(await journalRecords("L")).toBeLessThanOrEqual(12);
});

test("a journal longer than one read chunk replays exactly", async () => {
  const { P } = await pools();
  const big = "big";
  const B = await store.openPool(big, "peer");
  await B.addBlock(uuidFor(5), blockData(5, 20000));
  const fragments = Array.from({ length: 9000 }, (_, i) => ({ blockUuid: uuidFor(5), start: i * 2, size: 1 }));
  await B.take({ fragments }, "x"); // 9000 records in one batch
  await store.close();
  expect(await journalRecords(big)).toBe(9000); // 9000 separate ranges: > 2 read chunks
  store = await FileStore.open(dir);
  const B2p = await store.openPool(big, "peer");
  expect(B2p.stats().used).toBe(9000);
  expect((await store.diagnostics(big)).intervals).toBe(9000);
  await expect(B2p.take({ fragments: [{ blockUuid: uuidFor(5), start: 17998, size: 1 }] }, "x")).rejects.toMatchObject({
    code: "consumed",
  });
  expect(await B2p.take({ fragments: [{ blockUuid: uuidFor(5), start: 17999, size: 1 }] }, "x")).toEqual(
    blockData(5, 20000).subarray(17999, 18000),
  );
  expect(P).toBeDefined();
});

test("a clean close leaves a compact journal with every range flagged zeroed", async () => {
  const { L, P } = await pools();
  await Promise.all(Array.from({ length: 50 }, () => L.allocate(4, "x")));
  await P.take(
    {
      fragments: [
        { blockUuid: B2, start: 0, size: 4 },
        { blockUuid: B2, start: 10, size: 4 },
      ],
    },
    "x",
  );
  await store.close();
  const flags: number[] = [];
  await replayJournal(join(poolDir("L"), "journal.bin"), (r) => flags.push(r.flags));
  await replayJournal(join(poolDir("P"), "journal.bin"), (r) => flags.push(r.flags));
  expect(flags).toEqual([1, 1, 1]); // L: one merged range; P: two
  expect(statSync(join(poolDir("L"), "journal.bin")).size).toBe(RECORD_SIZE);
  store = await FileStore.open(dir);
  expect((await store.openPool("L", "local")).stats().used).toBe(16 + 200);
});

test("after a crash (no close) appends continue after the last record, past the preallocated zeros", async () => {
  const { P } = await pools();
  await P.take({ fragments: [{ blockUuid: B2, start: 0, size: 4 }] }, "x");
  // Simulate the crash: copy the pool directory as it is on disk now, and open the copy.
  const { cpSync } = await import("node:fs");
  const copy = join(root, "copy");
  cpSync(dir, copy, { recursive: true });
  rmSync(join(copy, "LOCK"));
  const journal = join(copy, "pools", "P", "journal.bin");
  expect(statSync(journal).size).toBeGreaterThan(RECORD_SIZE); // preallocated tail
  const other = await FileStore.open(copy);
  try {
    const P2 = await other.openPool("P", "peer");
    expect(P2.stats().used).toBe(16 + 4);
    await P2.take({ fragments: [{ blockUuid: B2, start: 20, size: 4 }] }, "x");
    await expect(P2.take({ fragments: [{ blockUuid: B2, start: 0, size: 1 }] }, "x")).rejects.toMatchObject({ code: "consumed" });
  } finally {
    await other.close();
  }
  const again = await FileStore.open(copy);
  try {
    expect((await again.openPool("P", "peer")).stats().used).toBe(16 + 8);
  } finally {
    await again.close();
  }
});

test("concurrent consumptions are group-committed (fewer fsyncs than operations)", async () => {
  const { L, P } = await pools();
  const before = (await store.diagnostics("L")).journalBatches;
  await Promise.all(Array.from({ length: 64 }, () => L.allocate(8, "x")));
  expect((await store.diagnostics("L")).journalBatches - before).toBeLessThan(64);
  const pb = (await store.diagnostics("P")).journalBatches;
  await Promise.all(Array.from({ length: 64 }, (_, i) => P.take({ fragments: [{ blockUuid: B1, start: 16 + i * 8, size: 8 }] }, "x")));
  expect((await store.diagnostics("P")).journalBatches - pb).toBeLessThan(64);
  // In-order use of a peer pool keeps memory at one interval per block.
  expect((await store.diagnostics("P")).intervals).toBe(1);
});

test("the store directory is locked against a second opener until closed", async () => {
  await expect(FileStore.open(dir)).rejects.toBeInstanceOf(PsrdLockedError);
  await store.close();
  const again = await FileStore.open(dir);
  await again.close();
  // A lock left by a dead process is taken over.
  writeFileSync(join(dir, "LOCK"), "2147483646");
  store = await FileStore.open(dir);
});

test("a lock held by a killed process not reaped yet (a zombie) is taken over", async () => {
  if (!existsSync("/proc/self/stat")) return; // zombies are told from /proc (Linux)
  await store.close();
  // perl (Debian's perl-base is essential) forks a child that exits at once and never waits for
  // it: a zombie until perl ends. (It was `sh -c "sleep 0 & echo $!; exec sleep 30"`, and a whole
  // run once found no /proc entry for the child: a shell may reap a child that exits before the
  // exec.)
  const script = '$| = 1; my $pid = fork() // die; if ($pid == 0) { exit 0 } print "$pid\\n"; sleep 30';
  const parent = spawn("perl", ["-e", script], { stdio: ["ignore", "pipe", "ignore"] });
  try {
    const zombie = Number((await once(parent.stdout, "data"))[0]);
    const state = () => readFileSync(`/proc/${zombie}/stat`, "utf8").split(") ")[1]?.[0];
    for (const end = Date.now() + 30_000; state() !== "Z" && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
    expect(state()).toBe("Z");
    writeFileSync(join(dir, "LOCK"), String(zombie));
    store = await FileStore.open(dir);
    expect(readFileSync(join(dir, "LOCK"), "utf8")).toBe(String(process.pid));
  } finally {
    parent.kill("SIGKILL");
  }
});

test("deletePool zeroes the data before removing it", async () => {
  const { L } = await pools();
  await L.allocate(10, "x");
  const fh = await open(join(poolDir("L"), "data.bin"), "r"); // keeps the inode readable after unlink
  try {
    await store.deletePool("L");
    const { buffer } = await fh.read(Buffer.alloc(1500), 0, 1500, 0);
    expect(isZero(buffer)).toBe(true);
  } finally {
    await fh.close();
  }
  expect(() => statSync(poolDir("L"))).toThrow();
  expect(await store.listPools()).toEqual(["P"]);
});

describe("FileStore: deletePool and openPool of the same name at once", () => {
  test("an openPool during a deletion waits for it and opens the pool anew (empty), never a half-deleted one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "psrd-fs-race-"));
    const store = await FileStore.open(dir);
    try {
      for (let round = 0; round < 5; round++) {
        const pool = await store.openPool("p", "local");
        await pool.addBlock(uuidFor(round + 1), blockData(round, 4096));
        await pool.allocate(100, "use some");
        // Deletion and re-open in the same turn, twice over: no ENOENT, no stale pool.
        const [, reopened] = await Promise.all([store.deletePool("p"), store.openPool("p", "local"), store.deletePool("p")]);
        expect(reopened.stats().blocks).toBe(0);
        const fresh = await store.openPool("p", "local");
        expect(fresh.stats()).toMatchObject({ blocks: 0, size: 0, used: 0 });
      }
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("FileStore: a new pool reaches the disk with its first block", () => {
  test("opening a new pool syncs nothing; its first block syncs the data, meta.json, the pool's and the pools directory", async () => {
    const { FsyncCounter } = await import("../src/index.js");
    const count = new FsyncCounter(dir);
    try {
      const P = await store.openPool("N", "local");
      expect(count.fsyncs).toBe(0);
      expect(existsSync(join(poolDir("N"), "meta.json"))).toBe(false);
      expect(await store.listPools()).toContain("N"); // open, so listed
      await P.addBlock(B1, D1);
      // data.bin (fdatasync), meta.json.tmp, the pool directory, the pools directory.
      expect(count.fsyncs).toBe(4);
      expect(existsSync(join(poolDir("N"), "meta.json"))).toBe(true);
      await P.addBlock(B2, D2);
      expect(count.fsyncs).toBe(4 + 3); // later blocks: data, meta.json.tmp, pool directory
    } finally {
      count.close();
    }
  });

  test("a pool never seen (no directory) and one whose creation crashed right after its directory get the same files, and work the same", async () => {
    const { mkdirSync, readdirSync } = await import("node:fs");
    mkdirSync(poolDir("C")); // a crash inside the creation of C, after its mkdir
    const fresh = await store.openPool("F", "local");
    const crashed = await store.openPool("C", "local");
    const files = (name: string) =>
      readdirSync(poolDir(name))
        .sort()
        .map((f) => [f, statSync(join(poolDir(name), f)).size]);
    expect(files("F")).toEqual([
      ["data.bin", 0],
      ["journal.bin", 0],
    ]);
    expect(files("C")).toEqual(files("F"));
    for (const P of [fresh, crashed]) {
      await P.addBlock(B1, D1, { keyPrefix: 16 });
      await P.allocate(100, "x");
    }
    await store.close();
    store = await FileStore.open(dir);
    for (const name of ["F", "C"]) {
      const P = await store.openPool(name, "local");
      // The block's 16-byte key prefix counts as used, with the 100 bytes allocated.
      expect(P.stats()).toMatchObject({ blocks: 1, size: D1.length, used: 16 + 100 });
    }
  });

  test("after a crash, a pool that never got a block opens empty, and one whose first block was written without its meta.json is wiped", async () => {
    await store.openPool("E", "local");
    await store.openPool("W", "local");
    // Simulate the crash of a first addBlock between the data write and meta.json.
    writeFileSync(join(poolDir("W"), "data.bin"), D1);
    const { cpSync } = await import("node:fs");
    const copy = join(root, "copy");
    cpSync(dir, copy, { recursive: true });
    rmSync(join(copy, "LOCK"));
    const other = await FileStore.open(copy);
    try {
      expect((await other.openPool("E", "local")).stats()).toMatchObject({ blocks: 0, size: 0 });
      const W2 = await other.openPool("W", "local");
      expect(W2.stats()).toMatchObject({ blocks: 0, size: 0 });
      expect(statSync(join(copy, "pools", "W", "data.bin")).size).toBe(0);
      // The pool works: a block added now is there after a clean reopen.
      await W2.addBlock(B2, D2);
      await other.close();
      const again = await FileStore.open(copy);
      try {
        expect((await again.openPool("W", "local")).stats()).toMatchObject({ blocks: 1, size: D2.length });
      } finally {
        await again.close();
      }
    } finally {
      await other.close();
    }
  });
});
