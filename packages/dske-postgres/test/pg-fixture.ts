/**
 * Test fixtures: a PgPsrdStore in its own schema of a throwaway cluster, with its key file and
 * audit log in a temporary directory (the StoreFixture shape of @dske/psrd's contract tests).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { findPgBinaries, MISSING_POSTGRES_MESSAGE, startThrowawayCluster, type ThrowawayCluster } from "@dske/postgres/testing";
import { PgPsrdStore, type PgPsrdStoreOptions } from "../src/index.js";
import type { StoreFixture } from "../../psrd/test/stores.js";

/** Start a cluster for a test file; FAILS (never skips) when PostgreSQL is not installed. */
export async function clusterForTests(port: number): Promise<ThrowawayCluster> {
  if (findPgBinaries() === undefined) throw new Error(MISSING_POSTGRES_MESSAGE);
  return startThrowawayCluster({ port });
}

let counter = 0;

/** A fresh schema name for one test (stores of one test file share the cluster). */
export function freshSchema(prefix = "t"): string {
  counter++;
  return `${prefix}_${process.pid}_${counter}`;
}

export function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), "dske-pgstore-"));
}

export async function makePgStore(cluster: ThrowawayCluster, extra: Partial<PgPsrdStoreOptions> = {}): Promise<StoreFixture> {
  const dir = tempDir();
  const schema = freshSchema();
  const auditLog = path.join(dir, "audit.jsonl");
  const open = () => PgPsrdStore.open({ url: cluster.url, schema, keyFile: path.join(dir, "psrd.key"), auditLog, refreshMs: 0, ...extra });
  const fixture: StoreFixture = {
    store: await open(),
    dir,
    auditLog,
    async reopen() {
      await fixture.store.close();
      fixture.store = await open();
      return fixture.store;
    },
    async cleanup() {
      await fixture.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}
