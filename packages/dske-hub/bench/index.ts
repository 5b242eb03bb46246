/**
 * @dske/hub benchmark: one hub over loopback HTTP with real DSKE-Signature (gf128) on every
 * in-band message, the hub's PSRD in a FileStore (fsync'd) under a temp dir.
 *
 * Pairs measured in the same run:
 *  1. single POST key-share + GET key-share per key (the v1 wire) vs the batch extension
 *     (100 shares per signed message): keys/s, ratio batch/single;
 *  2. the same single flow with 16 concurrent callers vs sequential: keys/s, ratio;
 *  3. FileStore hub vs MemoryStore hub (sequential single flow): cost of durability, ratio.
 * Latencies p50/p99 are per HTTP call as seen by the caller (HubApi).
 *
 * Writes bench-results/hub.json at the repo root. Run: pnpm --filter @dske/hub bench
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express from "express";
import { FileStore, MemoryStore, type PsrdStore } from "@dske/psrd";
import { Hub } from "../src/hub";
import { HubApi } from "@dske/protocol";
import { createHubRouter } from "../src/http/router";
import { encryptBatch, encryptShare, provisionMirror, type ClientMirror } from "../test/helpers";

// helpers.ts uses jest's `expect` in decrypt helpers we do not call; give it a stub anyway.
(globalThis as unknown as { expect: unknown }).expect = () => ({ toBe: () => undefined });

const SHARE_BYTES = 48; // 256-bit key + padding/check word, as the client builds it
const BATCH = 100;

interface Setup {
  carol: { api: HubApi; mirror: ClientMirror };
  curtis: { api: HubApi; mirror: ClientMirror };
  close(): Promise<void>;
}

async function setup(kind: "file" | "memory"): Promise<Setup> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "dske-hub-bench-"));
  const store: PsrdStore = kind === "file" ? await FileStore.open(path.join(dir, "psrd")) : new MemoryStore();
  const hub = await Hub.open({ name: "hank", store, stateDir: kind === "file" ? dir : undefined, maxPsrdBlockBytes: 16 << 20 });
  const app = express();
  app.use(createHubRouter({ hub }));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hub/hank`;
  // Provisioned as the local distributor does it (a first sealed bundle of 12 MiB per pool):
  // registration and PSRD need proof of identity, so no unauthenticated GET psrd here.
  const make = async (name: string, sae: string) => {
    const mirror = await provisionMirror(hub, name, { encryptors: [sae], bytes: 12 << 20, scheme: "gf128" });
    const api = new HubApi(url, { auth: { resolvePeer: () => mirror.peerAuth } });
    return { api, mirror };
  };
  const carol = await make("carol", "sam");
  const curtis = await make("curtis", "sunny");
  return {
    carol,
    curtis,
    close: async () => {
      carol.api.close();
      curtis.api.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await hub.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let keyCounter = 0;
const nextKey = () => `bench-${process.pid}-${++keyCounter}`;
const share = () => new Uint8Array(SHARE_BYTES).fill(7);

async function singlePair(s: Setup, post: number[], get: number[]): Promise<void> {
  const key = nextKey();
  const enc = await encryptShare(s.carol.mirror, share());
  let t = performance.now();
  await s.carol.api.postKeyShare({
    master_client_name: "carol",
    master_sae_id: "sam",
    slave_sae_id: "sunny",
    user_key_id: key,
    share_index: 1,
    ...enc,
  });
  post.push(performance.now() - t);
  t = performance.now();
  await s.curtis.api.getKeyShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: key });
  get.push(performance.now() - t);
}

async function batchPair(s: Setup, post: number[], get: number[]): Promise<void> {
  const keys = Array.from({ length: BATCH }, nextKey);
  const enc = await encryptBatch(s.carol.mirror, keys.map(share));
  let t = performance.now();
  await s.carol.api.postKeyShares({
    master_client_name: "carol",
    encryption_key_allocation: enc.encryption_key_allocation,
    shares: keys.map((user_key_id, i) => ({
      master_sae_id: "sam",
      slave_sae_id: "sunny",
      user_key_id,
      share_index: 1,
      encrypted_share_value: enc.ciphertexts[i],
    })),
  });
  post.push(performance.now() - t);
  t = performance.now();
  const r = await s.curtis.api.getKeyShares({
    client_name: "curtis",
    keys: keys.map((key_id) => ({ master_sae_id: "sam", slave_sae_id: "sunny", key_id })),
  });
  if (r.shares.length !== BATCH) throw new Error(`fetched ${r.shares.length} of ${BATCH}`);
  get.push(performance.now() - t);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

interface Row {
  scenario: string;
  keys: number;
  seconds: number;
  keys_per_s: number;
  post_p50_ms: number;
  post_p99_ms: number;
  get_p50_ms: number;
  get_p99_ms: number;
}

async function run(
  scenario: string,
  s: Setup,
  keysPerOp: number,
  ops: number,
  concurrency: number,
  op: (s: Setup, p: number[], g: number[]) => Promise<void>,
): Promise<Row> {
  // warm-up
  for (let i = 0; i < Math.min(20, ops); i++) await op(s, [], []);
  const post: number[] = [];
  const get: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ops) {
        next++;
        await op(s, post, get);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    scenario,
    keys: ops * keysPerOp,
    seconds: r2(seconds),
    keys_per_s: Math.round((ops * keysPerOp) / seconds),
    post_p50_ms: r2(pct(post, 50)),
    post_p99_ms: r2(pct(post, 99)),
    get_p50_ms: r2(pct(get, 50)),
    get_p99_ms: r2(pct(get, 99)),
  };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const file = await setup("file");
  rows.push(await run("file: single, sequential", file, 1, 600, 1, singlePair));
  rows.push(await run("file: single, 16 concurrent", file, 1, 1500, 16, singlePair));
  rows.push(await run("file: batch 100, sequential", file, BATCH, 40, 1, batchPair));
  rows.push(await run("file: batch 100, 16 concurrent", file, BATCH, 120, 16, batchPair));
  await file.close();
  const mem = await setup("memory");
  rows.push(await run("memory: single, sequential", mem, 1, 600, 1, singlePair));
  rows.push(await run("memory: single, 16 concurrent", mem, 1, 1500, 16, singlePair));
  await mem.close();

  const by = (name: string) => {
    const row = rows.find((r) => r.scenario === name);
    if (!row) throw new Error(`bench: no scenario ${name}`);
    return row;
  };
  const ratio = (a: string, b: string) => Math.round((by(a).keys_per_s / by(b).keys_per_s) * 100) / 100;
  const ratios = {
    batch_over_single_sequential: ratio("file: batch 100, sequential", "file: single, sequential"),
    batch_over_single_concurrent: ratio("file: batch 100, 16 concurrent", "file: single, 16 concurrent"),
    concurrent_over_sequential_single: ratio("file: single, 16 concurrent", "file: single, sequential"),
    file_over_memory_sequential: ratio("file: single, sequential", "memory: single, sequential"),
    file_over_memory_concurrent: ratio("file: single, 16 concurrent", "memory: single, 16 concurrent"),
  };

  console.log("\n@dske/hub: one hub, loopback HTTP, gf128-signed, 48-byte shares; keys = post+get pairs through the hub\n");
  console.table(rows);
  console.table(ratios);

  const outDir = fileURLToPath(new URL("../../../bench-results/", import.meta.url));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    path.join(outDir, "hub.json"),
    JSON.stringify(
      { package: "@dske/hub", date: new Date().toISOString(), node: process.version, share_bytes: SHARE_BYTES, batch: BATCH, rows, ratios },
      null,
      2,
    ) + "\n",
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
