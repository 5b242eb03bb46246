/**
 * Hub keys/s on PostgreSQL with 1, 2 and 3 replicas against the file store (issue 17).
 *
 * One key = a signed POST key-share through one replica and a signed GET key-share of the same
 * share through ANOTHER replica (round robin), over loopback HTTP with gf128 signatures, 8 callers
 * at once. The replicas run in this one process (each its own Hub, PgStateBackend and
 * PgPsrdStore on the same database of a throwaway cluster), so the figures show the cost of the
 * shared state (round trips, transactions, row locks), not a gain from more cores: on 2 cores a
 * hub is CPU bound either way. The file store row is the same flow on one hub with its FileStore.
 *
 * Writes bench-results/hub-replicas-postgres.json at the repo root.
 * Run: pnpm --filter @dske/hub exec tsx bench/replicas-postgres.ts
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express from "express";
import { FileStore, MemoryStore, type PsrdStore } from "@dske/psrd";
import { PgPsrdStore } from "@dske/postgres";
import { startThrowawayCluster } from "@dske/postgres/testing";
import { HubApi } from "@dske/protocol";
import { Hub } from "../src/hub";
import { createHubRouter } from "../src/http/router";
import { openPgHubState } from "../src/storage/hub-storage";
import { encryptShare, provisionMirror, type ClientMirror } from "../test/helpers";

(globalThis as unknown as { expect: unknown }).expect = () => ({ toBe: () => undefined });

const KEYS = Number(process.env.BENCH_KEYS ?? 400);
const CALLERS = 8;
const PG_PORT = 19958;
/**
 * BENCH_PSRD=memory: the replicas share one in-process MemoryStore instead of PgPsrdStore, so the
 * rows show the cost of the shared hub state (read barrier, journal rows) alone.
 */
const MEMORY_PSRD = process.env.BENCH_PSRD === "memory";
/** The MemoryStore the replicas of the current run share (BENCH_PSRD=memory). */
let SHARED_MEMORY: MemoryStore | undefined;

interface Replica {
  url: string;
  close(): Promise<void>;
}

async function serve(hub: Hub): Promise<{ url: string; server: Server }> {
  const app = express();
  app.use(createHubRouter({ hub }));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hub/hank`, server };
}

async function openReplica(kind: "file" | "postgres", dir: string, dbUrl: string): Promise<{ hub: Hub; replica: Replica }> {
  let store: PsrdStore;
  let shared: Awaited<ReturnType<typeof openPgHubState>> | undefined;
  if (kind === "file") {
    store = await FileStore.open(path.join(dir, "psrd"));
  } else {
    const config = {
      kind: "postgres" as const,
      url: dbUrl,
      urlSource: "--storage-url" as const,
      keyFile: path.join(dir, "storage.key"),
      psrdKeyFile: path.join(dir, "psrd.key"),
    };
    shared = await openPgHubState(config, "hank", 60, () => {});
    store = SHARED_MEMORY ?? (await PgPsrdStore.open({ url: dbUrl, keyFile: config.psrdKeyFile }));
  }
  const hub = await Hub.open({
    name: "hank",
    store,
    ...(shared ? { stateBackend: shared.backend } : { stateDir: dir }),
    maxPsrdBlockBytes: 16 << 20,
  });
  const { url, server } = await serve(hub);
  return {
    hub,
    replica: {
      url,
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        await hub.close();
        if (store !== SHARED_MEMORY) await store.close();
        shared?.close();
      },
    },
  };
}

async function run(kind: "file" | "postgres", replicas: number, dbUrl: string): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "dske-hub-replicas-bench-"));
  SHARED_MEMORY = MEMORY_PSRD && kind === "postgres" ? new MemoryStore() : undefined;
  const opened = [];
  for (let i = 0; i < replicas; i++) opened.push(await openReplica(kind, dir, dbUrl));
  const first = opened[0].hub;
  const carol: ClientMirror = await provisionMirror(first, "carol", { encryptors: ["sam"], bytes: 512 << 10 });
  const curtis: ClientMirror = await provisionMirror(first, "curtis", { encryptors: ["sunny"], bytes: 512 << 10 });
  const apis = opened.map((o) => ({
    carol: new HubApi(o.replica.url, { auth: { resolvePeer: () => carol.peerAuth } }),
    curtis: new HubApi(o.replica.url, { auth: { resolvePeer: () => curtis.peerAuth } }),
  }));
  let next = 0;
  const one = async () => {
    const i = next++;
    const key = `bench-${kind}-${replicas}-${i}`;
    const enc = await encryptShare(carol, new Uint8Array(48).fill(7));
    const post = apis[i % apis.length];
    const get = apis[(i + 1) % apis.length]; // another replica whenever there are several
    await post.carol.postKeyShare({
      master_client_name: "carol",
      master_sae_id: "sam",
      slave_sae_id: "sunny",
      user_key_id: key,
      share_index: 1,
      ...enc,
    });
    await get.curtis.getKeyShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: key });
  };
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (next < KEYS) await one();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const a of apis) {
    a.carol.close();
    a.curtis.close();
  }
  for (const o of opened) await o.replica.close();
  rmSync(dir, { recursive: true, force: true });
  const psrd = MEMORY_PSRD && kind === "postgres" ? " (PSRD in memory)" : "";
  return {
    scenario: kind === "file" ? "file store, 1 process" : `postgres, ${replicas} replica(s)${psrd}`,
    keys: KEYS,
    seconds: Number(seconds.toFixed(2)),
    keys_per_s: Number((KEYS / seconds).toFixed(1)),
  };
}

async function main(): Promise<void> {
  const cluster = await startThrowawayCluster({ port: PG_PORT });
  const rows = [];
  try {
    rows.push(await run("file", 1, ""));
    for (const n of [1, 2, 3]) {
      const db = `bench_${n}`;
      cluster.psql(`CREATE DATABASE ${db}`);
      rows.push(await run("postgres", n, cluster.url.replace(/\/postgres$/, `/${db}`)));
    }
  } finally {
    await cluster.stop();
  }
  const base = Number(rows[0].keys_per_s);
  for (const r of rows) r.ratio_to_file = Number((Number(r.keys_per_s) / base).toFixed(2));
  console.table(rows);
  const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bench-results");
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, MEMORY_PSRD ? "hub-replicas-postgres-state-only.json" : "hub-replicas-postgres.json"),
    `${JSON.stringify({ cpus: os.cpus().length, callers: CALLERS, rows }, null, 2)}\n`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
