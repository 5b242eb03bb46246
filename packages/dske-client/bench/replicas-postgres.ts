/**
 * Client (KME) keys/s on PostgreSQL with 1 and 2 replicas against the file store (issue 17).
 *
 * Three in-process hubs (memory), curtis (memory) and carol in the variant measured: FileStore and
 * state dir (one process), or PgPsrdStore + PgClientState on one database with 1 or 2 replicas
 * (each its own Client, HTTP server, store and connection pool, all in this one process). One
 * operation is a key pair in either direction, alternating: sam enc_keys at carol → sunny
 * dec_keys at curtis, and sunny enc_keys at curtis → sam dec_keys at carol; the calls to carol go
 * round robin to its replicas. 8 callers at once, 256-bit keys, key stock off (every call reaches
 * the hubs: the figures show the cost of the shared state, not of the stock). On 2 shared cores
 * the replicas add no CPU: the figures show the cost of the database round trips, not a gain.
 *
 * Writes bench-results/client-replicas-postgres.json at the repo root.
 * Run: pnpm --filter @dske/client exec tsx bench/replicas-postgres.ts
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express from "express";
import { EtsiApi } from "@dske/protocol";
import { FileStore, MemoryStore, type PsrdStore } from "@dske/psrd";
import { PgPsrdStore } from "@dske/postgres";
import { startThrowawayCluster } from "@dske/postgres/testing";
import { Client, type ClientOptions } from "../src/client.js";
import { createClientRouter } from "../src/http/router.js";
import { PgClientState } from "../src/storage/pg-client-state.js";
import { StateSealer } from "../src/storage/state-sealing.js";
import { startHub, startInProcessDistributors, type TestHub } from "../test/harness.js";

const KEYS = Number(process.env.BENCH_KEYS ?? 400);
const CALLERS = 8;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PG_PORT = 20022;
const DIRECTORY = { sam: "carol", sunny: "curtis" };

interface Node {
  client: Client;
  api(sae: string): EtsiApi;
  close(): Promise<void>;
}

async function node(
  options: Omit<ClientOptions, "hubs" | "kmeDirectory" | "minNrShares">,
  hubs: TestHub[],
  distribute: boolean,
  extra: () => Promise<void> = async () => {},
): Promise<Node> {
  const client = await Client.create({
    ...options,
    hubs: hubs.map((h) => h.url),
    minNrShares: 2,
    kmeDirectory: DIRECTORY,
    stock: { aheadMs: 0 },
    psrd: { initialBytes: 2 << 20, startThreshold: 5_000, stopThreshold: 20_000, blockSize: 10_000 },
  });
  const distributors = distribute
    ? startInProcessDistributors(
        client,
        hubs.map((h) => h.url),
      )
    : [];
  await client.start();
  await client.whenRegistered(hubs.length, 60_000);
  const app = express();
  app.use(createClientRouter({ client }));
  const server = await new Promise<http.Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  const apis = new Map<string, EtsiApi>();
  return {
    client,
    api(sae) {
      let a = apis.get(sae);
      if (!a) apis.set(sae, (a = new EtsiApi(`http://127.0.0.1:${port}`, sae)));
      return a;
    },
    async close() {
      for (const a of apis.values()) a.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await Promise.all(distributors.map((d) => d.stop()));
      await client.stop();
      await options.psrdStore.close();
      await extra();
    },
  };
}

async function run(kind: "file" | "postgres", replicas: number, dbUrl: string): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "dske-client-replicas-bench-"));
  const hubs = await Promise.all(["hank", "helen", "hilary"].map((n) => startHub(n)));
  const carols: Node[] = [];
  for (let r = 1; r <= replicas; r++) {
    if (kind === "file") {
      carols.push(
        await node(
          { name: "carol", encryptors: ["sam"], psrdStore: await FileStore.open(path.join(dir, "psrd")), stateDir: dir },
          hubs,
          true,
        ),
      );
    } else {
      const store = await PgPsrdStore.open({ url: dbUrl, keyFile: path.join(dir, "psrd.key"), replica: `carol#${r}` });
      const state = await PgClientState.open({
        url: dbUrl,
        client: "carol",
        replica: `carol#${r}`,
        sealer: await StateSealer.open(path.join(dir, "storage.key")),
      });
      carols.push(
        await node(
          {
            name: "carol",
            encryptors: ["sam"],
            psrdStore: store,
            nodeStateBackend: state,
            deliveryLedger: state,
            sharedStateRefreshMs: 100,
          },
          hubs,
          r === 1,
        ),
      );
    }
  }
  const curtisStore: PsrdStore = new MemoryStore();
  const curtis = await node({ name: "curtis", encryptors: ["sunny"], psrdStore: curtisStore }, hubs, true);
  let next = 0;
  const lat = { enc: [] as number[], dec: [] as number[] };
  const timed = async <T>(into: number[], p: Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await p;
    into.push(performance.now() - t0);
    return r;
  };
  const one = async () => {
    const i = next++;
    const carol = carols[Math.floor(i / 2) % carols.length];
    if (i % 2 === 0) {
      const enc = await timed(lat.enc, carol.api("sam").getKeys("sunny", { number: 1 }));
      const dec = await curtis.api("sunny").getKeysWithKeyIds(
        "sam",
        enc.keys.map((k) => k.key_ID),
      );
      if (dec.keys[0].key !== enc.keys[0].key) throw new Error("mismatched key");
    } else {
      const enc = await curtis.api("sunny").getKeys("sam", { number: 1 });
      const dec = await timed(
        lat.dec,
        carol.api("sam").getKeysWithKeyIds(
          "sunny",
          enc.keys.map((k) => k.key_ID),
        ),
      );
      if (dec.keys[0].key !== enc.keys[0].key) throw new Error("mismatched key");
    }
  };
  // Warm-up (connections, prepared statements), not measured.
  for (let w = 0; w < 4 * carols.length; w++) await one();
  next = 0;
  lat.enc.length = 0;
  lat.dec.length = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (next < KEYS) await one();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await curtis.close();
  for (const c of carols) await c.close();
  for (const h of hubs) {
    await h.down();
    await h.hub.close();
  }
  rmSync(dir, { recursive: true, force: true });
  return {
    scenario: kind === "file" ? "carol on the file store, 1 process" : `carol on postgres, ${replicas} replica(s)`,
    key_pairs: KEYS,
    seconds: Number(seconds.toFixed(2)),
    key_pairs_per_s: Number((KEYS / seconds).toFixed(1)),
    carol_enc_p50_ms: pct(lat.enc, 50),
    carol_enc_p99_ms: pct(lat.enc, 99),
    carol_dec_p50_ms: pct(lat.dec, 50),
    carol_dec_p99_ms: pct(lat.dec, 99),
  };
}

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Number((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0).toFixed(1));
}

async function main(): Promise<void> {
  const cluster = await startThrowawayCluster({ port: PG_PORT });
  const rows: Record<string, number | string>[] = [];
  const loadBefore = os.loadavg()[0];
  try {
    // Rounds interleave the scenarios, so that load from other processes spreads over all of them.
    for (let round = 1; round <= ROUNDS; round++) {
      const file = await run("file", 1, "");
      rows.push({ round, ...file, ratio_to_file: 1 });
      for (const n of [1, 2]) {
        const db = `bench_client_${round}_${n}`;
        cluster.psql(`CREATE DATABASE ${db}`);
        const r = await run("postgres", n, cluster.url.replace(/\/postgres$/, `/${db}`));
        rows.push({ round, ...r, ratio_to_file: Number((Number(r.key_pairs_per_s) / Number(file.key_pairs_per_s)).toFixed(2)) });
      }
    }
  } finally {
    await cluster.stop();
  }
  console.table(rows);
  const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bench-results");
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, "client-replicas-postgres.json"),
    `${JSON.stringify(
      {
        cpus: os.cpus().length,
        load_avg_1m: { before: loadBefore, after: os.loadavg()[0] },
        callers: CALLERS,
        key_bits: 256,
        key_stock: "off",
        rows,
      },
      null,
      2,
    )}\n`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
