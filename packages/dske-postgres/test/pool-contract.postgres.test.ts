/**
 * PgPsrdStore passes the Pool / PsrdStore contract tests that MemoryStore and FileStore pass
 * (@dske/psrd test/pool-contract.ts), against a real PostgreSQL server. Port 19902.
 */
import type { ThrowawayCluster } from "@dske/postgres/testing";
import { describePoolContract } from "../../psrd/test/pool-contract.js";
import { clusterForTests, makePgStore } from "./pg-fixture.js";

let cluster: ThrowawayCluster;
beforeAll(async () => {
  cluster = await clusterForTests(19902);
}, 120_000);
afterAll(async () => {
  await cluster.stop();
});

describe("PgPsrdStore", () => {
  describePoolContract(() => makePgStore(cluster), true);
});
