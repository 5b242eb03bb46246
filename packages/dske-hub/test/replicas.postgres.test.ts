/**
 * Replicas of one hub sharing their state in a real PostgreSQL server (throwaway cluster, port
 * 19920): two Hub instances, each with its own PgStateBackend on one database (and, standing in
 * for a shared PsrdStore, one MemoryStore). What one replica stored is seen by the other after its
 * read barrier; share values are sealed in the database; a database restart gives 503 and heals.
 */
import os from "node:os";
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { MemoryStore } from "@dske/psrd";
import { findPgBinaries, MISSING_POSTGRES_MESSAGE, startThrowawayCluster, type ThrowawayCluster } from "@dske/postgres/testing";
import { Hub } from "../src/hub";
import { HubError } from "../src/errors";
import { openPgHubState } from "../src/storage/hub-storage";
import { bytes, decryptShare, defined, encryptShare, provisionMirror, type ClientMirror } from "./helpers";

const KEY = "8f7a2c1e-0000-4000-8000-0000000000e1";
let cluster: ThrowawayCluster;
let dir: string;

beforeAll(async () => {
  if (findPgBinaries() === undefined) throw new Error(MISSING_POSTGRES_MESSAGE);
  cluster = await startThrowawayCluster({ port: 19920 });
  cluster.psql("CREATE DATABASE hank");
  dir = mkdtempSync(path.join(os.tmpdir(), "dske-hub-replicas-"));
}, 120_000);
afterAll(async () => {
  await cluster.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function openReplica(store: MemoryStore): Promise<{ hub: Hub; close: () => Promise<void> }> {
  const url = cluster.url.replace(/\/postgres$/, "/hank");
  const shared = await openPgHubState(
    { kind: "postgres", url, urlSource: "--storage-url", keyFile: path.join(dir, "storage.key"), psrdKeyFile: path.join(dir, "psrd.key") },
    "hank",
    60,
    () => {},
  );
  const hub = await Hub.open({ name: "hank", store, stateBackend: shared.backend, sweepIntervalMs: 0, shareTimeoutSecs: 60 });
  return {
    hub,
    close: async () => {
      await hub.close();
      shared.close();
    },
  };
}

async function waitFor(cond: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("a share posted through replica A is fetched through replica B; the ack through B deletes it at A", async () => {
  const store = new MemoryStore();
  const a = await openReplica(store);
  const b = await openReplica(store);
  try {
    // Provisioning and registration through A only.
    const carol: ClientMirror = await provisionMirror(a.hub, "carol", { encryptors: ["sam"], bytes: 65536, ack: true });
    const curtis: ClientMirror = await provisionMirror(a.hub, "curtis", { encryptors: ["sunny"], bytes: 65536, ack: true });
    const barrierB = defined(b.hub.barrier, "B's read barrier");
    await barrierB();
    expect(b.hub.client("curtis")?.ack).toBe(true);

    const value = bytes(32, 7);
    const enc = await encryptShare(carol, value);
    await a.hub.postShare({
      master_client_name: "carol",
      master_sae_id: "sam",
      slave_sae_id: "sunny",
      user_key_id: KEY,
      share_index: 1,
      ...enc,
    });
    // The database holds the share sealed, never its value.
    const rows = cluster.psql("SELECT rec::text FROM dske_hub_journal WHERE rec->>'t' = 'share'", "hank");
    expect(rows).toContain(KEY);
    expect(rows).not.toContain(Buffer.from(value).toString("base64"));

    await barrierB();
    const got = await b.hub.getShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY });
    expect(
      Buffer.from(await decryptShare(curtis, got.encryption_key_allocation, got.encrypted_share_value)).equals(Buffer.from(value)),
    ).toBe(true);
    expect((await b.hub.fetchShares("curtis", [], [{ master_sae_id: "sam", key_id: KEY }])).acknowledged).toBe(1);

    const barrierA = defined(a.hub.barrier, "A's read barrier");
    await waitFor(async () => {
      await barrierA();
      return a.hub.shareCount === 0;
    }, "the deletion through B to reach A");
    expect(cluster.psql("SELECT count(*) FROM dske_hub_journal WHERE rec->>'t' = 'share'", "hank").trim()).toBe("0");

    // A third replica started now rebuilds the same registrations from the database.
    const c = await openReplica(store);
    try {
      expect(c.hub.client("carol")?.encryptorNames).toEqual(["sam"]);
      expect(c.hub.shareCount).toBe(0);
    } finally {
      await c.close();
    }
  } finally {
    await a.close();
    await b.close();
  }
}, 120_000);

test("the database down: the barrier fails with `unavailable` (503) and heals by itself once it is back", async () => {
  const store = new MemoryStore();
  const a = await openReplica(store);
  try {
    const barrier = defined(a.hub.barrier, "the read barrier");
    await barrier();
    await cluster.pgStop();
    const err = await barrier().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).kind).toBe("unavailable");
    await cluster.pgStart();
    await waitFor(
      () =>
        barrier().then(
          () => true,
          () => false,
        ),
      "the barrier to pass again",
    );
  } finally {
    await a.close();
  }
}, 120_000);
