/**
 * Key material on disk, end to end with every node file-backed (hubs: FileStore + state journal,
 * compaction interval 50 ms; clients: FileStore + state dir): keys are never written by a client
 * (keys.jsonl and client-state.json hold bookkeeping only), and once a key is delivered and
 * acknowledged, the shares the hubs held leave every file within the hubs' compaction interval.
 * The test reads the share values from the hubs' journals while they are live, then waits (on the
 * files' bytes) until no file under any node's directory holds them.
 */
import { promises as fs, readFileSync } from "node:fs";
import type http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import express from "express";
import { Hub, STATE_FILE, createHubRouter } from "@dske/hub";
import { FileStore } from "@dske/psrd";
import { registerTestHub, startClient, waitFor, type TestClient } from "./harness";

let root: string;
const hubs: { hub: Hub; store: FileStore; server: http.Server; url: string; dir: string }[] = [];
let carol: TestClient;
let curtis: TestClient;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "dske-key-material-"));
  for (const name of ["hank", "helen", "hilary"]) {
    const dir = path.join(root, name);
    const store = await FileStore.open(path.join(dir, "psrd"), { zeroSyncMs: 50 });
    const hub = await Hub.open({ name, store, stateDir: dir, sweepIntervalMs: 0, compactIntervalMs: 50 });
    const app = express();
    app.use(createHubRouter({ hub, onError: () => undefined }));
    const server = await new Promise<http.Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hub/${name}`;
    registerTestHub(url, name, () => hub); // its local distributor (in process) provisions the clients
    hubs.push({ hub, store, server, dir, url });
  }
  const common = { hubs: hubs.map((h) => h.url), minNrShares: 2, kmeDirectory: { sam: "carol", sunny: "curtis" } };
  const client = async (name: string, sae: string) => {
    const dir = path.join(root, name);
    return startClient({
      name,
      encryptors: [sae],
      stateDir: dir,
      psrdStore: await FileStore.open(path.join(dir, "psrd"), { zeroSyncMs: 50 }),
      ...common,
    });
  };
  carol = await client("carol", "sam");
  curtis = await client("curtis", "sunny");
  await carol.client.whenRegistered();
  await curtis.client.whenRegistered();
});

afterAll(async () => {
  for (const c of [carol, curtis] as (TestClient | undefined)[]) await c?.close(); // unset when beforeAll failed
  for (const h of hubs) {
    h.server.closeAllConnections();
    await new Promise<void>((r) => h.server.close(() => r()));
    await h.hub.close();
    await h.store.close();
  }
  await fs.rm(root, { recursive: true, force: true });
});

/** Every regular file under `dir`, read whole. */
async function allFiles(dir: string): Promise<{ file: string; bytes: Buffer }[]> {
  const out: { file: string; bytes: Buffer }[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath, e.name);
    try {
      out.push({ file, bytes: await fs.readFile(file) });
    } catch {
      // removed meanwhile (a journal's .tmp/.old during compaction)
    }
  }
  return out;
}

async function filesHolding(needles: readonly Buffer[]): Promise<string[]> {
  return (await allFiles(root)).filter(({ bytes }) => needles.some((n) => bytes.includes(n))).map(({ file }) => path.relative(root, file));
}

test("keys are never on a client's disk; delivered keys' shares leave every hub file within the bound", async () => {
  const got = await carol.etsi("sam").getKeys("sunny", { number: 5, size: 256 });
  const ids = got.keys.map((k) => k.key_ID);
  await waitFor(
    () => hubs.every((h) => ids.every((id) => h.hub.status().shares.some((s) => s.key_id === id))),
    20_000,
    "shares on every hub",
  );
  // The shares as the hubs journal them (base64 in `share` records), and raw.
  const shareValues = hubs.flatMap((h) =>
    readFileSync(path.join(h.dir, STATE_FILE), "utf8")
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as { t: string; k?: string; v?: string })
      .filter((r) => r.t === "share" && ids.includes(r.k ?? ""))
      .map((r) => r.v as string),
  );
  expect(shareValues).toHaveLength(ids.length * hubs.length);
  const shareNeedles = shareValues.flatMap((v) => [Buffer.from(v), Buffer.from(v, "base64")]);
  expect((await filesHolding(shareNeedles)).length).toBeGreaterThan(0); // the search finds live shares

  const back = await curtis.etsi("sunny").getKeysWithKeyIds("sam", ids);
  expect(back.keys).toEqual(got.keys);
  await curtis.client.flushAcks();
  await waitFor(() => hubs.every((h) => h.hub.shareCount === 0), 20_000, "every hub to delete the acknowledged shares");

  const keyNeedles = got.keys.flatMap((k) => [Buffer.from(k.key), Buffer.from(k.key, "base64")]);
  expect(await filesHolding(keyNeedles)).toEqual([]);
  let holding: string[] = [];
  await waitFor(async () => (holding = await filesHolding(shareNeedles)).length === 0, 20_000, "deleted shares to leave every file").catch(
    (e: unknown) => {
      throw new Error(`${String(e)}; still in ${holding.join(", ")}`);
    },
  );
  expect(await filesHolding(keyNeedles)).toEqual([]);
});
