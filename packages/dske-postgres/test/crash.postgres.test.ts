/**
 * Replicas killed with SIGKILL (port 19904):
 *  - one dies holding a reservation: the bytes stay reserved until the reservation expires
 *    (reservationTtlMs), then another replica reserves them; they are consumed exactly once;
 *  - three die under load: nothing reported is lost from the audit table, nothing is consumed
 *    twice, the accounting matches the audit, and once their reservations expired every byte
 *    they did not consume can be taken (once).
 */
import { copyFileSync, rmSync } from "node:fs";
import path from "node:path";
import type { Fragment } from "@dske/psrd";
import type { ThrowawayCluster } from "@dske/postgres/testing";
import { PgPsrdStore } from "../src/index.js";
import { BLOCKS, BLOCK_SIZE, KEY_PREFIX, blockBytes, localBlock, peerBlock } from "./fixtures/replica-data.js";
import { clusterForTests, freshSchema, tempDir } from "./pg-fixture.js";
import { assertDisjoint, fragKey, reported, spawnReplica } from "./replicas.js";

let cluster: ThrowawayCluster;
beforeAll(async () => {
  cluster = await clusterForTests(19904);
}, 120_000);
afterAll(async () => {
  await cluster.stop();
});

async function setup(): Promise<{ dir: string; schema: string; keyFile: string; store: PgPsrdStore }> {
  const dir = tempDir();
  const schema = freshSchema("crash");
  const keyFile = path.join(dir, "creator.key");
  const store = await PgPsrdStore.open({ url: cluster.url, schema, keyFile, refreshMs: 0, replica: "survivor" });
  const L = await store.openPool("L", "local");
  const P = await store.openPool("P", "peer");
  for (let i = 0; i < BLOCKS; i++) {
    await L.addBlock(localBlock(i), blockBytes(localBlock(i)), { keyPrefix: KEY_PREFIX });
    await P.addBlock(peerBlock(i), blockBytes(peerBlock(i)), { keyPrefix: KEY_PREFIX });
  }
  return { dir, schema, keyFile, store };
}

/** Retry while the bytes are reserved (by a dead replica, until its reservation expires). */
async function takeWhenFree(store: PgPsrdStore, frag: Fragment): Promise<{ data: Uint8Array; refusals: string[] }> {
  const P = await store.openPool("P", "peer");
  const refusals: string[] = [];
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      return { data: await P.take({ fragments: [frag] }, "after the crash"), refusals };
    } catch (e) {
      const code = (e as { code?: string }).code ?? "?";
      refusals.push(code);
      if (code !== "reserved" || Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

test("a replica killed mid-reservation: reserved until the expiry, then reservable again, consumed once", async () => {
  const { dir, schema, keyFile, store } = await setup();
  try {
    const own = path.join(dir, "holder.key");
    copyFileSync(keyFile, own);
    const frag = { blockUuid: peerBlock(1), start: 500, size: 32 };
    const holder = spawnReplica([cluster.url, schema, own, "holder", "1", "3000", "hold", frag.blockUuid, "500", "32"]);
    await holder.waitFor("reserved");
    holder.child.kill("SIGKILL");
    const end = await holder.done;
    expect(end.signal).toBe("SIGKILL");
    // The dead replica's reservation row is there, with its expiry.
    const row = cluster
      .psql(`SELECT replica, start, size, expires_at > clock_timestamp() + interval '1 second' FROM ${schema}.reservations`)
      .trim();
    const [replica, start, size, notSoon] = row.split("|");
    expect([replica, start, size]).toEqual(["holder", "500", "32"]);
    if (notSoon === "t") {
      // Well before the expiry: overlapping takes are refused as reserved.
      await expect(
        (await store.openPool("P", "peer")).take({ fragments: [{ ...frag, start: 520, size: 4 }] }, "too early"),
      ).rejects.toMatchObject({
        code: "reserved",
      });
    }
    const { data, refusals } = await takeWhenFree(store, frag);
    expect(new Set(refusals)).toEqual(new Set(refusals.length > 0 ? ["reserved"] : []));
    expect(data).toEqual(blockBytes(frag.blockUuid).subarray(500, 532));
    await expect((await store.openPool("P", "peer")).take({ fragments: [frag] }, "twice")).rejects.toMatchObject({ code: "consumed" });
    const audit = (await store.readAudit()).filter((a) => a.pool === "P");
    expect(audit.map((a) => [a.block_uuid, a.start, a.size, a.replica])).toEqual([[frag.blockUuid, 500, 32, "survivor"]]);
    expect(cluster.psql(`SELECT count(*) FROM ${schema}.reservations`).trim()).toBe("0");
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

test("three replicas killed with SIGKILL under load: no byte consumed twice, nothing reported lost, the rest takeable once", async () => {
  const { dir, schema, keyFile, store } = await setup();
  try {
    const runs = [0, 1, 2].map((r) => {
      const own = path.join(dir, `r${r}.key`);
      copyFileSync(keyFile, own);
      return spawnReplica([cluster.url, schema, own, `r${r}`, String(77 + r), "1000", "work", "100000", "8"]);
    });
    await Promise.all(runs.map((r) => r.waitFor("ready")));
    // The store names each session after its replica (pg_stat_activity.application_name).
    const sessions = () =>
      Number(cluster.psql(`SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('dske r0', 'dske r1', 'dske r2')`).trim());
    expect(sessions()).toBeGreaterThanOrEqual(3);
    // Kill them once they have consumed a good deal (a condition, not a delay).
    const end = Date.now() + 60_000;
    while (Number(cluster.psql(`SELECT count(*) FROM ${schema}.audit`).trim()) < 150 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const r of runs) r.child.kill("SIGKILL");
    const results = await Promise.all(runs.map((r) => r.done));
    // A killed client's statement may still commit on the server: read the audit once their
    // sessions are gone.
    const gone = Date.now() + 60_000;
    while (sessions() > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(sessions()).toBe(0);
    for (const r of results) {
      expect(r.signal).toBe("SIGKILL");
      expect(r.lines.filter((l) => l.startsWith("BAD"))).toEqual([]);
    }
    const lines = results.flatMap((r) => r.lines);
    const A = reported(lines, "A");
    const T = reported(lines, "T");
    assertDisjoint(A, "reported allocations");
    assertDisjoint(T, "reported takes");
    const audit = await store.readAudit();
    const of = (pool: string) =>
      audit.filter((a) => a.pool === pool).map((a) => ({ blockUuid: a.block_uuid, start: a.start, size: a.size }));
    assertDisjoint(of("L"), "audit of L");
    assertDisjoint(of("P"), "audit of P");
    // Everything reported is in the audit (the audit may hold more: committed, killed before printing).
    const auditKeys = new Set([...of("L"), ...of("P")].map(fragKey));
    for (const f of [...A, ...T]) expect(auditKeys.has(fragKey(f))).toBe(true);
    await store.tick();
    const L = await store.openPool("L", "local");
    const P = await store.openPool("P", "peer");
    const sum = (fs: { size: number }[]) => fs.reduce((a, f) => a + f.size, 0);
    expect(L.stats().used).toBe(BLOCKS * KEY_PREFIX + sum(of("L")));
    expect(P.stats().used).toBe(BLOCKS * KEY_PREFIX + sum(of("P")));
    // Every byte of peer block 0 that was not consumed can be taken now (after the dead replicas'
    // reservations expire), with the bytes that were added; then the audit is still disjoint.
    const consumed = of("P")
      .filter((f) => f.blockUuid === peerBlock(0))
      .sort((a, b) => a.start - b.start);
    const free: Fragment[] = [];
    let at = KEY_PREFIX;
    for (const c of consumed) {
      if (c.start > at) free.push({ blockUuid: peerBlock(0), start: at, size: c.start - at });
      at = Math.max(at, c.start + c.size);
    }
    if (at < BLOCK_SIZE) free.push({ blockUuid: peerBlock(0), start: at, size: BLOCK_SIZE - at });
    for (const f of free) {
      const { data } = await takeWhenFree(store, f);
      expect(data).toEqual(blockBytes(f.blockUuid).subarray(f.start, f.start + f.size));
    }
    const after = await store.readAudit();
    assertDisjoint(
      after.filter((a) => a.pool === "P").map((a) => ({ blockUuid: a.block_uuid, start: a.start, size: a.size })),
      "audit of P after",
    );
    await store.tick();
    expect(P.blockUsage()[0]).toEqual({ blockUuid: peerBlock(0), size: BLOCK_SIZE, used: BLOCK_SIZE, unused: 0 });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);

test("a reservation that expired and was taken over cannot be committed late: nothing consumed twice", async () => {
  const { dir, schema, keyFile, store } = await setup();
  const slowKey = path.join(dir, "slow.key");
  copyFileSync(keyFile, slowKey);
  const slow = await PgPsrdStore.open({ url: cluster.url, schema, keyFile: slowKey, refreshMs: 0, replica: "slow", reservationTtlMs: 300 });
  try {
    const frag = { blockUuid: peerBlock(2), start: 1000, size: 16 };
    const r = await (await slow.openPool("P", "peer")).reserve({ fragments: [frag] }, "too slow");
    const { data } = await takeWhenFree(store, frag);
    expect(data).toEqual(blockBytes(frag.blockUuid).subarray(1000, 1016));
    const late = await r.commit().catch((x: unknown) => x);
    expect(late).toMatchObject({ code: "reservation_settled" });
    expect((late as Error).message).toMatch(/expired/);
    expect(r.data.every((x) => x === 0)).toBe(true);
    const audit = (await store.readAudit()).filter((a) => a.pool === "P");
    expect(audit.map((a) => [a.start, a.size, a.replica])).toEqual([[1000, 16, "survivor"]]);
  } finally {
    await slow.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
