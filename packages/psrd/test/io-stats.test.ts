import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { FSYNC_CHANNEL, FileStore, FsyncCounter, StateJournal, type FsyncMessage } from "../src/index.js";
import { blockData, uuidFor } from "./helpers.js";

describe("fsync diagnostics (no process-wide counters)", () => {
  let root = "";
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "psrd-io-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test("each node counts only the fsyncs under its own directories", async () => {
    const a = join(root, "a");
    const b = join(root, "b");
    const countA = new FsyncCounter(a);
    const countB = new FsyncCounter([b, join(root, "b-journal")]);
    const storeA = await FileStore.open(a);
    const poolA = await storeA.openPool("p", "local");
    await poolA.addBlock(uuidFor(1), blockData(1, 256));
    const afterA = countA.fsyncs;
    expect(afterA).toBeGreaterThan(0);
    expect(countB.fsyncs).toBe(0);

    const storeB = await FileStore.open(b);
    const poolB = await storeB.openPool("p", "local");
    await poolB.addBlock(uuidFor(2), blockData(2, 256));
    await poolB.allocate(32, "test");
    const { journal } = await StateJournal.open(join(root, "b-journal", "state.jsonl"));
    await journal.append([{ n: 1 }]);
    await journal.close();
    expect(countB.fsyncs).toBeGreaterThan(0);
    // B's work did not count for A.
    expect(countA.fsyncs).toBe(afterA);

    countA.close();
    await poolA.addBlock(uuidFor(3), blockData(3, 256));
    expect(countA.fsyncs).toBe(afterA); // closed: no longer counting
    countB.close();
    await storeA.close();
    await storeB.close();
  });

  test("messages carry the synced path and nothing else", async () => {
    const seen: FsyncMessage[] = [];
    const listener = (m: unknown) => seen.push(m as FsyncMessage);
    subscribe(FSYNC_CHANNEL, listener);
    try {
      const store = await FileStore.open(join(root, "s"));
      await (await store.openPool("p", "local")).addBlock(uuidFor(4), blockData(4, 64));
      await store.close();
    } finally {
      unsubscribe(FSYNC_CHANNEL, listener);
    }
    expect(seen.length).toBeGreaterThan(0);
    for (const m of seen) {
      expect(Object.keys(m)).toEqual(["path"]);
      expect(m.path.startsWith(join(root, "s"))).toBe(true);
    }
  });
});
