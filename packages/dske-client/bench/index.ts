/**
 * @dske/client benchmark: an in-process network (5 hubs + 2 clients on loopback HTTP, k = 3,
 * 256-bit keys) measuring key pairs per second and enc_keys / dec_keys latency, with the PSRD
 * stores in memory vs on disk (FileStore, fsync'd) — the on-disk figures are paired with the
 * in-memory ones of the same run. Also PSRD bytes per key vs the 640-byte floor.
 * Run: pnpm --filter @dske/client bench
 */
import { promises as fs } from "node:fs";
import type http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import express from "express";
import { Hub, createHubRouter } from "@dske/hub";
import { FileStore, MemoryStore, type PsrdStore } from "@dske/psrd";
import { Client } from "../src/client.js";
import { EtsiApi } from "@dske/protocol";
import { createClientRouter } from "../src/http/router.js";
import { distributorsFor } from "../test/harness.js";

type StoreKind = "memory" | "file";

interface Net {
  sam: EtsiApi;
  sunny: EtsiApi;
  stores: PsrdStore[];
  close(): Promise<void>;
}

function listen(app: express.Express): Promise<http.Server> {
  return new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
}

/** `keyStockAheadMs`: the clients' key stock look-ahead (default: the client's default; 0 = off). */
async function network(kind: StoreKind, root: string, keyStockAheadMs?: number): Promise<Net> {
  const mk = async (name: string): Promise<PsrdStore> =>
    kind === "memory" ? new MemoryStore() : FileStore.open(path.join(root, name, "psrd"));
  const closers: (() => Promise<void>)[] = [];
  const urls: string[] = [];
  const hubs: { name: string; hub: () => Hub }[] = [];
  for (const name of ["hank", "helen", "hilary", "holly", "hugo"]) {
    const store = await mk(name);
    const hub = await Hub.open({ name, store, stateDir: kind === "file" ? path.join(root, name) : undefined, sweepIntervalMs: 0 });
    const app = express();
    app.use(createHubRouter({ hub, onError: () => undefined }));
    const server = await listen(app);
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hub/${name}`);
    hubs.push({ name, hub: () => hub });
    closers.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await hub.close();
      await store.close();
    });
  }
  const stores: PsrdStore[] = [];
  const apis: EtsiApi[] = [];
  const client = async (name: string, sae: string) => {
    const store = await mk(name);
    stores.push(store);
    const c = await Client.create({
      name,
      encryptors: [sae],
      hubs: urls,
      psrdStore: store,
      stateDir: kind === "file" ? path.join(root, name) : undefined,
      psrd: { stopThreshold: 20_000, startThreshold: 5_000, blockSize: 10_000 },
      stock: { aheadMs: keyStockAheadMs },
    });
    await c.start();
    // PSRD arrives in sealed bundles carried by each hub's local distributor (in process here).
    const distributors = distributorsFor(c, hubs);
    await c.whenRegistered();
    const app = express();
    app.use(createClientRouter({ client: c }));
    const server = await listen(app);
    const api = new EtsiApi(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, sae);
    apis.push(api);
    closers.unshift(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await Promise.all(distributors.map((d) => d.stop()));
      await c.stop();
      await store.close();
    });
  };
  await client("carol", "sam");
  await client("curtis", "sunny");
  return {
    sam: apis[0],
    sunny: apis[1],
    stores,
    async close() {
      for (const a of apis) a.close();
      for (const c of closers) await c();
    },
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function usedBytes(stores: PsrdStore[]): Promise<number> {
  let total = 0;
  for (const st of stores)
    for (const name of await st.listPools())
      total += (await st.openPool(name, name.endsWith("client-owned") ? "local" : "peer")).stats().used;
  return total;
}

interface Row {
  store: StoreKind;
  mode: string;
  keys_per_s: number;
  enc_p50_ms: number;
  enc_p99_ms: number;
  dec_p50_ms: number;
  dec_p99_ms: number;
}

async function run(net: Net, kind: StoreKind, number: number, concurrency: number, durationMs: number): Promise<Row> {
  const enc: number[] = [];
  const dec: number[] = [];
  let keys = 0;
  const until = performance.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const got = await net.sam.getKeys("sunny", { number, size: 256 });
        const t1 = performance.now();
        const back = await net.sunny.getKeysWithKeyIds(
          "sam",
          got.keys.map((k) => k.key_ID),
        );
        const t2 = performance.now();
        if (back.keys[0].key !== got.keys[0].key) throw new Error("key mismatch");
        enc.push(t1 - t0);
        dec.push(t2 - t1);
        keys += number;
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    store: kind,
    mode: `number=${number} x${concurrency}`,
    keys_per_s: r(keys / secs),
    enc_p50_ms: r(pct(enc, 50)),
    enc_p99_ms: r(pct(enc, 99)),
    dec_p50_ms: r(pct(dec, 50)),
    dec_p99_ms: r(pct(dec, 99)),
  };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const psrd: Record<string, number> = {};
  for (const kind of (process.env.BENCH_STORES ?? "memory,file").split(",") as StoreKind[]) {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "dske-client-bench-"));
    const net = await network(kind, root);
    try {
      await run(net, kind, 1, 1, 300); // warm-up
      rows.push(await run(net, kind, 1, 1, 3000));
      rows.push(await run(net, kind, 1, 16, 3000));
      rows.push(await run(net, kind, 100, 4, 3000));
    } finally {
      await net.close();
      await fs.rm(root, { recursive: true, force: true });
    }
    // PSRD per key pair established on demand (sequential, after the background posts settle). A
    // network of its own with the key stock off: with the stock on, these keys would come from
    // refills paid for before the measurement, and the figure would say nothing.
    const odRoot = await fs.mkdtemp(path.join(os.tmpdir(), "dske-client-bench-"));
    const od = await network(kind, odRoot, 0);
    try {
      await run(od, kind, 1, 1, 300); // warm-up (PSRD pools filled)
      await new Promise((r) => setTimeout(r, 200));
      const before = await usedBytes(od.stores);
      const n = 20;
      for (let i = 0; i < n; i++) {
        const got = await od.sam.getKeys("sunny", { size: 256 });
        await new Promise((r) => setTimeout(r, 20));
        await od.sunny.getKeysWithKeyIds("sam", [got.keys[0].key_ID]);
      }
      await new Promise((r) => setTimeout(r, 200));
      psrd[kind] = ((await usedBytes(od.stores)) - before) / n;
    } finally {
      await od.close();
      await fs.rm(odRoot, { recursive: true, force: true });
    }
  }
  console.log("\n@dske/client in-process key pairs (5 hubs, k=3, 256-bit keys, loopback HTTP)\n");
  console.table(rows);
  const mem = rows.filter((r) => r.store === "memory");
  const file = rows.filter((r) => r.store === "file");
  console.log("\nfile / memory ratio (keys per second):");
  for (let i = 0; i < mem.length; i++) console.log(`  ${mem[i].mode}: ${(file[i].keys_per_s / mem[i].keys_per_s).toFixed(2)}`);
  console.log(
    `\nPSRD bytes per 256-bit key pair established on demand (key stock off): memory ${psrd.memory}, file ${psrd.file}; floor 640 (ratio ${(psrd.file / 640).toFixed(3)})`,
  );
  const out = new URL("../../../bench-results/", import.meta.url);
  await fs.mkdir(out, { recursive: true });
  await fs.writeFile(
    new URL("client.json", out),
    JSON.stringify({ rows, psrd_bytes_per_key: psrd, psrd_floor: 640, date: new Date().toISOString() }, null, 2) + "\n",
  );
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
