/**
 * The throwaway cluster harness (@dske/postgres/testing): a real server from initdb, its own port,
 * stop/start keeps the data, stop() removes everything. Ports 19900-19901.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { findPgBinaries, MISSING_POSTGRES_MESSAGE, startThrowawayCluster, type ThrowawayCluster } from "@dske/postgres/testing";
import pg from "pg";

let cluster: ThrowawayCluster;

beforeAll(async () => {
  if (findPgBinaries() === undefined) throw new Error(MISSING_POSTGRES_MESSAGE);
  cluster = await startThrowawayCluster({ port: 19900 });
}, 120_000);
afterAll(async () => {
  await cluster.stop();
});

async function query(sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: cluster.url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as unknown[];
  } finally {
    await client.end();
  }
}

test("a real server answers on its own port, not as root, with fsync on", async () => {
  expect(await query("SELECT 1 AS one")).toEqual([{ one: 1 }]);
  expect(await query("SHOW fsync")).toEqual([{ fsync: "on" }]);
  expect(await query("SHOW port")).toEqual([{ port: "19900" }]);
  expect(cluster.psql("SELECT current_user").trim()).toBe("postgres");
  // The postmaster runs as an unprivileged user (initdb and postgres refuse root).
  const pid = readFileSync(path.join(cluster.dataDir, "postmaster.pid"), "utf8").split("\n")[0];
  const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(path.join("/proc", pid, "status"), "utf8"))?.[1];
  expect(uid).toBeDefined();
  if (process.getuid?.() === 0) expect(Number(uid)).not.toBe(0);
  else expect(Number(uid)).toBe(process.getuid?.());
});

test("pgStop / pgStart keep the data; connections fail while it is down", async () => {
  await query("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)");
  await cluster.pgStop();
  await expect(query("SELECT 1")).rejects.toThrow();
  await cluster.pgStart();
  expect(await query("SELECT v FROM kept")).toEqual([{ v: 42 }]);
}, 120_000);

test("stop() removes the data directory; a second stop is a no-op", async () => {
  const other = await startThrowawayCluster({ port: 19901 });
  expect(existsSync(other.dataDir)).toBe(true);
  await other.stop();
  await other.stop();
  expect(existsSync(other.dataDir)).toBe(false);
}, 120_000);
