/**
 * Single use across replicas, against a real server: 3 replica processes share one store (same
 * schema, each its own key file copy) and allocate / reserve+commit / take concurrently from the
 * same pools. No byte range is handed out twice (the fragments the replicas report AND the audit
 * table), the audit table holds exactly what was reported, the accounting matches, and every
 * replica read the bytes that were added. Several seeds. Port 19903.
 */
import { copyFileSync, rmSync } from "node:fs";
import path from "node:path";
import type { ThrowawayCluster } from "@dske/postgres/testing";
import { PgPsrdStore } from "../src/index.js";
import { BLOCKS, BLOCK_SIZE, KEY_PREFIX, blockBytes, localBlock, peerBlock } from "./fixtures/replica-data.js";
import { clusterForTests, freshSchema, tempDir } from "./pg-fixture.js";
import { assertDisjoint, fragKey, reported, spawnReplica } from "./replicas.js";

let cluster: ThrowawayCluster;
beforeAll(async () => {
  cluster = await clusterForTests(19903);
}, 120_000);
afterAll(async () => {
  await cluster.stop();
});

test.each([1, 2])(
  "3 replica processes, seed %i: no byte twice, audit = reports, bytes as added",
  async (seed) => {
    const dir = tempDir();
    const schema = freshSchema("conc");
    const keyFile = path.join(dir, "creator.key");
    const store = await PgPsrdStore.open({ url: cluster.url, schema, keyFile, refreshMs: 0, replica: "creator" });
    try {
      const L = await store.openPool("L", "local");
      const P = await store.openPool("P", "peer");
      for (let i = 0; i < BLOCKS; i++) {
        await L.addBlock(localBlock(i), blockBytes(localBlock(i)), { keyPrefix: KEY_PREFIX });
        await P.addBlock(peerBlock(i), blockBytes(peerBlock(i)), { keyPrefix: KEY_PREFIX });
      }
      const runs = [0, 1, 2].map((r) => {
        const own = path.join(dir, `replica${r}.key`);
        copyFileSync(keyFile, own);
        return spawnReplica([cluster.url, schema, own, `replica${r}`, String(seed * 10 + r), "60000", "work", "400", "8"]);
      });
      const results = await Promise.all(runs.map((r) => r.done));
      for (const r of results) {
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.lines).toContain("done");
        expect(r.lines.filter((l) => l.startsWith("BAD"))).toEqual([]);
      }
      const allLines = results.flatMap((r) => r.lines);
      const A = reported(allLines, "A");
      const T = reported(allLines, "T");
      // Work happened in both pools, from every replica.
      expect(A.length).toBeGreaterThan(50);
      expect(T.length).toBeGreaterThan(50);
      for (const r of results) expect(reported(r.lines, "A").length + reported(r.lines, "T").length).toBeGreaterThan(0);
      assertDisjoint(A, "allocations");
      assertDisjoint(T, "takes");

      const audit = await store.readAudit();
      const auditOf = (pool: string) =>
        audit.filter((a) => a.pool === pool).map((a) => ({ blockUuid: a.block_uuid, start: a.start, size: a.size }));
      assertDisjoint(auditOf("L"), "audit of L");
      assertDisjoint(auditOf("P"), "audit of P");
      expect(auditOf("L").map(fragKey).sort()).toEqual(A.map(fragKey).sort());
      expect(auditOf("P").map(fragKey).sort()).toEqual(T.map(fragKey).sort());
      expect(new Set(audit.map((a) => a.replica))).toEqual(new Set(["replica0", "replica1", "replica2"]));

      await store.tick();
      const sum = (fs: { size: number }[]) => fs.reduce((a, f) => a + f.size, 0);
      expect(L.stats()).toMatchObject({ blocks: BLOCKS, size: BLOCKS * BLOCK_SIZE, used: BLOCKS * KEY_PREFIX + sum(A) });
      expect(P.stats()).toMatchObject({ blocks: BLOCKS, used: BLOCKS * KEY_PREFIX + sum(T) });
      // The bump allocator left no hole: the allocations tile [16, hwm) of the blocks in order.
      const next = await L.allocate(1, "after");
      const f = next.allocation.fragments[0];
      const perBlock = BLOCK_SIZE - KEY_PREFIX;
      expect(f).toEqual({ blockUuid: localBlock(Math.floor(sum(A) / perBlock)), start: KEY_PREFIX + (sum(A) % perBlock), size: 1 });
      expect(next.data).toEqual(blockBytes(f.blockUuid).subarray(f.start, f.start + 1));
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
  180_000,
);
