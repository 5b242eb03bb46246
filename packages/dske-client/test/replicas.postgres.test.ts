/**
 * Two replicas of client carol on one PostgreSQL database (PgPsrdStore for the PSRD pools,
 * PgClientState for the node state and the delivered-key ledger), curtis on memory, three
 * in-process hubs; port 20020 for the throwaway cluster.
 * - carol#2 registers with the hubs on the bundle chains carol#1 installed (only #1 gets bundles);
 * - enc_keys through either replica, dec_keys at curtis; keys from curtis delivered through
 *   carol#1 are refused through carol#2 ("already delivered"), also when both race;
 * - no PSRD byte used twice across the replicas (the shared store's audit table);
 * - the chain keys in the database are sealed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import express from "express";
import { EtsiApi, EtsiApiError } from "@dske/protocol";
import { PgPsrdStore } from "@dske/postgres";
import { findPgBinaries, MISSING_POSTGRES_MESSAGE, startThrowawayCluster, type ThrowawayCluster } from "@dske/postgres/testing";
import { Client } from "../src/client";
import { createClientRouter } from "../src/http/router";
import { PgClientState } from "../src/storage/pg-client-state";
import { StateSealer } from "../src/storage/state-sealing";
import { startHub, startInProcessDistributors, startClient, TEST_OPERATOR_TOKEN, waitFor, type TestClient, type TestHub } from "./harness";

jest.setTimeout(120_000);

const PG_PORT = 20020;
const DIRECTORY = { sam: "carol", sunny: "curtis" };

interface Replica {
  client: Client;
  store: PgPsrdStore;
  server: http.Server;
  etsi(sae: string): EtsiApi;
  close(): Promise<void>;
}

let cluster: ThrowawayCluster;
let dir: string;
let hubs: TestHub[];
let carol1: Replica;
let carol2: Replica;
let curtis: TestClient;

async function startReplica(n: number, withDistributors: boolean): Promise<Replica> {
  const store = await PgPsrdStore.open({ url: cluster.url, keyFile: path.join(dir, "psrd.key"), replica: `carol#${n}`, refreshMs: 200 });
  const state = await PgClientState.open({
    url: cluster.url,
    client: "carol",
    replica: `carol#${n}`,
    sealer: await StateSealer.open(path.join(dir, "storage.key")),
  });
  const client = await Client.create({
    name: "carol",
    encryptors: ["sam"],
    hubs: hubs.map((h) => h.url),
    minNrShares: 2,
    kmeDirectory: DIRECTORY,
    psrdStore: store,
    nodeStateBackend: state,
    deliveryLedger: state,
    sharedStateRefreshMs: 100,
    link: { retryInitialMs: 20, retryMaxMs: 200, timeoutMs: 3000 },
    stock: { aheadMs: 0 },
  });
  const distributors = withDistributors
    ? startInProcessDistributors(
        client,
        client.peerHubs.map((h) => h.url),
      )
    : [];
  await client.start();
  const app = express();
  app.use(createClientRouter({ client, operatorToken: TEST_OPERATOR_TOKEN }));
  const server = await new Promise<http.Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  const apis: EtsiApi[] = [];
  return {
    client,
    store,
    server,
    etsi(sae) {
      const api = new EtsiApi(`http://127.0.0.1:${port}`, sae);
      apis.push(api);
      return api;
    },
    async close() {
      for (const a of apis) a.close();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await Promise.all(distributors.map((d) => d.stop()));
      await client.stop();
      await store.close();
    },
  };
}

beforeAll(async () => {
  if (findPgBinaries() === undefined) throw new Error(MISSING_POSTGRES_MESSAGE);
  cluster = await startThrowawayCluster({ port: PG_PORT });
  dir = mkdtempSync(path.join(tmpdir(), "dske-carol-replicas-"));
  hubs = await Promise.all(["hank", "helen", "hilary"].map((n) => startHub(n)));
  carol1 = await startReplica(1, true);
  await carol1.client.whenRegistered(3, 30_000);
  // carol#2 gets no bundle of its own: it registers on the chains carol#1 installed (shared state).
  carol2 = await startReplica(2, false);
  await carol2.client.whenRegistered(3, 30_000);
  curtis = await startClient({
    name: "curtis",
    encryptors: ["sunny"],
    hubs: hubs.map((h) => h.url),
    minNrShares: 2,
    kmeDirectory: DIRECTORY,
  });
  await curtis.client.whenRegistered(3, 30_000);
}, 120_000);

afterAll(async () => {
  await curtis.close();
  await carol1.close();
  await carol2.close();
  for (const h of hubs) {
    await h.down();
    await h.hub.close();
  }
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function refused(p: Promise<unknown>): Promise<EtsiApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof EtsiApiError) return err;
    throw err;
  }
  throw new Error("expected the call to be refused");
}

test("enc_keys through either replica: curtis reconstructs the same keys", async () => {
  for (const r of [carol1, carol2]) {
    const got = await r.etsi("sam").getKeys("sunny", { number: 3 });
    const back = await curtis.etsi("sunny").getKeysWithKeyIds(
      "sam",
      got.keys.map((k) => k.key_ID),
    );
    expect(back.keys).toEqual(got.keys);
  }
});

test("a key ID delivered through carol#1 is not delivered again through carol#2 (nor the reverse)", async () => {
  const sent = await curtis.etsi("sunny").getKeys("sam", { number: 2 });
  const ids = sent.keys.map((k) => k.key_ID);
  const first = await carol1.etsi("sam").getKeysWithKeyIds("sunny", ids);
  expect(first.keys).toEqual(sent.keys);
  const again = await refused(carol2.etsi("sam").getKeysWithKeyIds("sunny", ids));
  expect(again.status).toBe(400);
  expect(again.message).toMatch(/not found|already delivered/i);
  // As on one process: every refused key ID listed.
  expect(again.details).toEqual(ids.map((key_ID) => ({ key_ID })));
  // And the other way round.
  const sent2 = await curtis.etsi("sunny").getKeys("sam", { number: 1 });
  const ids2 = sent2.keys.map((k) => k.key_ID);
  expect((await carol2.etsi("sam").getKeysWithKeyIds("sunny", ids2)).keys).toEqual(sent2.keys);
  expect((await refused(carol1.etsi("sam").getKeysWithKeyIds("sunny", ids2))).status).toBe(400);
});

test("the same key ID asked through both replicas at once: delivered exactly once", async () => {
  for (let round = 0; round < 5; round++) {
    const sent = await curtis.etsi("sunny").getKeys("sam", { number: 1 });
    const ids = sent.keys.map((k) => k.key_ID);
    const results = await Promise.allSettled([carol1, carol2].map((r) => r.etsi("sam").getKeysWithKeyIds("sunny", ids)));
    const ok = results.filter((r) => r.status === "fulfilled");
    expect(ok).toHaveLength(1);
    expect((ok[0] as PromiseFulfilledResult<{ keys: unknown }>).value.keys).toEqual(sent.keys);
    const bad = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(bad.reason).toBeInstanceOf(EtsiApiError);
    expect((bad.reason as EtsiApiError).status).toBe(400);
  }
});

test("no PSRD byte used twice across the replicas; the chain keys in the database are sealed", () => {
  const overlaps = cluster.psql(
    "SELECT count(*) FROM dske_psrd.audit a JOIN dske_psrd.audit b ON a.pool = b.pool AND a.block_uuid = b.block_uuid " +
      "AND a.id < b.id AND a.start < b.start + b.size AND b.start < a.start + a.size",
  );
  expect(overlaps.trim()).toBe("0");
  const replicas = cluster.psql("SELECT DISTINCT replica FROM dske_psrd.audit ORDER BY 1").trim().split("\n");
  expect(replicas).toEqual(["carol#1", "carol#2"]);
  const chains = cluster
    .psql("SELECT value::text FROM dske_client_state WHERE client = 'carol' AND name LIKE 'chain %'")
    .trim()
    .split("\n");
  expect(chains).toHaveLength(3);
  for (const row of chains) {
    const v = JSON.parse(row) as Record<string, unknown>;
    expect(typeof v.key_sealed).toBe("string");
    expect(v.key).toBeUndefined();
  }
  // The delivered marks are rows (the ledger both replicas consult).
  expect(Number(cluster.psql("SELECT count(*) FROM dske_client_delivered WHERE client = 'carol'").trim())).toBeGreaterThanOrEqual(3);
});

test("PostgreSQL down: 503 from a replica (enc_keys and dec_keys), keys again once it is back", async () => {
  const sent = await curtis.etsi("sunny").getKeys("sam", { number: 1 });
  await cluster.pgStop();
  try {
    const enc = await refused(carol1.etsi("sam").getKeys("sunny", { number: 1 }));
    expect(enc.status).toBe(503);
    const dec = await refused(
      carol2.etsi("sam").getKeysWithKeyIds(
        "sunny",
        sent.keys.map((k) => k.key_ID),
      ),
    );
    expect(dec.status).toBe(503);
  } finally {
    await cluster.pgStart();
  }
  await waitFor(
    async () => {
      try {
        const back = await carol2.etsi("sam").getKeysWithKeyIds(
          "sunny",
          sent.keys.map((k) => k.key_ID),
        );
        return back.keys[0].key === sent.keys[0].key;
      } catch {
        return false;
      }
    },
    60_000,
    "dec_keys after the restart",
  );
  const got = await carol1.etsi("sam").getKeys("sunny", { number: 1 });
  expect(
    (
      await curtis.etsi("sunny").getKeysWithKeyIds(
        "sam",
        got.keys.map((k) => k.key_ID),
      )
    ).keys,
  ).toEqual(got.keys);
});
