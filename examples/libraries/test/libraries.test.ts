import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { FileStore } from "@dske/psrd";
import { runLibrariesDemo } from "../src/demo";

describe("example: @dske/sss and @dske/psrd as plain libraries", () => {
  it("recovers the secret from any 3 shares, drops a corrupted share, refuses PSRD reuse (memory)", async () => {
    const r = await runLibrariesDemo();
    expect(r.recoveredHex).toBe(r.secretHex);
    expect(r.robustRecoveredHex).toBe(r.secretHex);
    expect(r.droppedX).toEqual([4]);
    expect(r.replayRefused).toBe(true);
    expect(r.allocationHeader).toMatch(/^[0-9a-f-]{36}:0:32$/);
    expect(r.alice).toEqual({ used: 32, available: 1024 - 32 });
    expect(r.bob).toEqual(r.alice);
  });

  it("works the same with durable FileStores", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dske-example-lib-"));
    const alice = await FileStore.open(path.join(dir, "alice"));
    const bob = await FileStore.open(path.join(dir, "bob"));
    try {
      const r = await runLibrariesDemo({ alice, bob });
      expect(r.recoveredHex).toBe(r.secretHex);
      expect(r.replayRefused).toBe(true);
      expect(r.bob.used).toBe(32);
    } finally {
      await alice.close();
      await bob.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
