/**
 * A PostgreSQL restart (pg_ctl stop / start of the throwaway cluster): while the server is down
 * every store operation fails with PsrdUnavailableError (code "unavailable", which the hub maps
 * to 503), the process does not crash (the background tick keeps failing quietly), the caches
 * still answer; once the server is back the same store works again without being reopened, and a
 * reservation made before the restart can still be committed. Port 19905.
 */
import { rmSync } from "node:fs";
import type { ThrowawayCluster } from "@dske/postgres/testing";
import { PgPsrdStore, PsrdUnavailableError, createStatePool, loadPg, withConnection } from "../src/index.js";
import { BLOCK_SIZE, KEY_PREFIX, blockBytes, localBlock, peerBlock } from "./fixtures/replica-data.js";
import { clusterForTests, freshSchema, tempDir } from "./pg-fixture.js";
import path from "node:path";

let cluster: ThrowawayCluster;
beforeAll(async () => {
  cluster = await clusterForTests(19905);
}, 120_000);
afterAll(async () => {
  await cluster.stop();
});

async function eventually<T>(op: () => Promise<T>, deadlineMs = 60_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await op();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

test("down: clear 'unavailable' errors, no crash; back: works again without reopening", async () => {
  const dir = tempDir();
  const store = await PgPsrdStore.open({
    url: cluster.url,
    schema: freshSchema("restart"),
    keyFile: path.join(dir, "k"),
    refreshMs: 50,
    connectTimeoutMs: 2000,
  });
  try {
    const L = await store.openPool("L", "local");
    const P = await store.openPool("P", "peer");
    await L.addBlock(localBlock(0), blockBytes(localBlock(0)), { keyPrefix: KEY_PREFIX });
    await P.addBlock(peerBlock(0), blockBytes(peerBlock(0)), { keyPrefix: KEY_PREFIX });
    const first = await L.allocate(10, "before");
    expect(first.data).toEqual(blockBytes(localBlock(0)).subarray(16, 26));
    const pending = await P.reserve({ fragments: [{ blockUuid: peerBlock(0), start: 100, size: 8 }] }, "across the restart");
    const statsBefore = L.stats();

    await cluster.pgStop();
    const attempts: [string, Promise<unknown>][] = [
      ["allocate", L.allocate(5, "down")],
      ["take", P.take({ fragments: [{ blockUuid: peerBlock(0), start: 200, size: 4 }] }, "down")],
      ["reserve", P.reserve({ fragments: [{ blockUuid: peerBlock(0), start: 300, size: 4 }] }, "down")],
      ["addBlock", L.addBlock(localBlock(1), blockBytes(localBlock(1)))],
      ["blockKey", L.blockKey(localBlock(0))],
      ["openPool", store.openPool("new", "local")],
      ["listPools", store.listPools()],
      ["commit", pending.commit()],
      ["tick", store.tick()],
    ];
    for (const [what, p] of attempts) {
      const e = await p.then(
        () => new Error(`${what} succeeded while the server was down`),
        (x: unknown) => x,
      );
      expect([what, e]).toEqual([what, expect.any(PsrdUnavailableError)]);
      expect((e as PsrdUnavailableError).code).toBe("unavailable");
      expect((e as Error).message).toMatch(/^PostgreSQL is unavailable/);
    }
    // The synchronous views answer from the cache.
    expect(L.stats()).toEqual(statsBefore);
    expect(L.hasBlock(localBlock(0))).toBe(true);

    await cluster.pgStart();
    const after = await eventually(() => L.allocate(10, "after"));
    expect(after.allocation.fragments).toEqual([{ blockUuid: localBlock(0), start: 26, size: 10 }]);
    expect(after.data).toEqual(blockBytes(localBlock(0)).subarray(26, 36));
    // The reservation survived (its row is in the database) and commits once.
    await pending.commit();
    expect(pending.data).toEqual(blockBytes(peerBlock(0)).subarray(100, 108));
    await expect(P.take({ fragments: [{ blockUuid: peerBlock(0), start: 104, size: 1 }] }, "again")).rejects.toMatchObject({
      code: "consumed",
    });
    // A background pass (refreshMs 50) that began while the server was still starting may still
    // be running, and tick() joins it: wait for a pass that succeeds (seen under load).
    await eventually(() => store.tick());
    expect(L.stats()).toMatchObject({ size: BLOCK_SIZE, used: KEY_PREFIX + 20 });
    expect(P.stats()).toMatchObject({ used: KEY_PREFIX + 8 });
    const audit = await store.readAudit();
    expect(audit.map((a) => [a.pool, a.start, a.size, a.purpose])).toEqual([
      ["L", 16, 10, "before"],
      ["L", 26, 10, "after"],
      ["P", 100, 8, "across the restart"],
    ]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

test("a refused request keeps its connection: 40 replayed takes of a consumed range open no new server session", async () => {
  const dir = tempDir();
  const store = await PgPsrdStore.open({
    url: cluster.url,
    schema: freshSchema("keep"),
    keyFile: path.join(dir, "k"),
    refreshMs: 0,
    replica: "keepconn",
  });
  const { Client } = await loadPg();
  const admin = new Client({ connectionString: cluster.url });
  await admin.connect();
  // The store's server sessions: application_name is "dske <replica>".
  const sessions = async () =>
    (await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = 'dske keepconn'")).rows.map(
      (r) => r.pid,
    );
  try {
    const P = await store.openPool("P", "peer");
    await P.addBlock(peerBlock(0), blockBytes(peerBlock(0)), { keyPrefix: KEY_PREFIX });
    const fragments = [{ blockUuid: peerBlock(0), start: 100, size: 8 }];
    await P.take({ fragments }, "first");
    const before = await sessions();
    expect(before.length).toBeGreaterThan(0);
    for (let i = 0; i < 40; i++) {
      await expect(P.take({ fragments }, `replay ${i}`)).rejects.toMatchObject({ code: "consumed" });
    }
    // Each refusal is the server's RAISE on a connection that stays usable: no new session (with
    // node-postgres' Pool.query each refusal closed its connection, and the next opened another).
    const after = await sessions();
    expect(after.filter((pid) => !before.includes(pid))).toEqual([]);
    expect(after.length).toBeGreaterThan(0);
  } finally {
    await admin.end();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

test("withConnection: a connection comes back after fn, a failed statement included; not after broken() or a server-side kill", async () => {
  const idleErrors: Error[] = [];
  const pool = await createStatePool({ url: cluster.url, poolSize: 1, applicationName: "dske withconn" }, (e) => idleErrors.push(e));
  const { Client } = await loadPg();
  const admin = new Client({ connectionString: cluster.url });
  await admin.connect();
  const pidOf = (c: { query(q: string): Promise<{ rows: { pid: number }[] }> }) =>
    c.query("SELECT pg_backend_pid() AS pid").then((r) => r.rows[0]?.pid);
  try {
    const first = await withConnection(pool, (c) => pidOf(c));
    expect(typeof first).toBe("number");
    // A statement error of its own (division by zero) thrown out of fn: the session is kept.
    await expect(withConnection(pool, (c) => c.query("SELECT 1 / 0"))).rejects.toMatchObject({ code: "22012" });
    expect(await withConnection(pool, (c) => pidOf(c))).toBe(first);
    // fn says the session's state is unknown: it is discarded, the next caller gets a new one.
    await withConnection(pool, async (c, broken) => {
      await c.query("SELECT 1");
      broken(new Error("ROLLBACK failed"));
    });
    const second = await withConnection(pool, (c) => pidOf(c));
    expect(second).not.toBe(first);
    // The server ends the session while it is checked out: the "error" event does not crash the
    // process, the running query fails, and the session is not handed out again.
    await expect(
      withConnection(pool, async (c) => {
        await admin.query("SELECT pg_terminate_backend($1)", [second]);
        await c.query("SELECT pg_sleep(5)");
      }),
    ).rejects.toThrow();
    const third = await withConnection(pool, (c) => pidOf(c));
    expect([first, second]).not.toContain(third);
  } finally {
    await admin.end();
    await pool.end();
  }
}, 120_000);
