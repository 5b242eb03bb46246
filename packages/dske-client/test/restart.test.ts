/**
 * Durability: clients and hubs on FileStores under temp state dirs; stopping and restarting nodes
 * loses nothing. A hub restarted WITHOUT its state is left out until the operator resets the
 * clients' PSRD with it (then it delivers new first bundles and is used again).
 */
import { promises as fs } from "node:fs";
import type http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import express from "express";
import { Hub, createHubRouter } from "@dske/hub";
import { FileStore } from "@dske/psrd";
import { consoleLogger } from "../src/logger";
import { registerTestHub, startClient, waitFor, type TestClient } from "./harness";
import { defined } from "./defined";

const NAMES = ["hank", "helen", "hilary", "holly", "hugo"];

interface FileHub {
  name: string;
  port: number;
  url: string;
  hub?: Hub;
  store?: FileStore;
  server?: http.Server;
}

let root: string;
let hubs: FileHub[];

function listen(app: express.Express, port: number): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const s = app.listen(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}

async function hubUp(h: FileHub, stateDir: string): Promise<void> {
  h.store = await FileStore.open(path.join(stateDir, "psrd"));
  h.hub = await Hub.open({ name: h.name, store: h.store, stateDir, sweepIntervalMs: 0 });
  const app = express();
  app.use(createHubRouter({ hub: h.hub, onError: () => undefined }));
  h.server = await listen(app, h.port);
  h.port = (h.server.address() as AddressInfo).port;
  h.url = `http://127.0.0.1:${h.port}/hub/${h.name}`;
  registerTestHub(h.url, h.name, () => runningHub(h));
}

async function hubDown(h: FileHub): Promise<void> {
  const s = h.server;
  if (s) {
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }
  await h.hub?.close();
  await h.store?.close();
  h.server = undefined;
  h.hub = undefined;
  h.store = undefined;
}

async function fileClient(name: string, encryptors: string[]): Promise<TestClient> {
  const stateDir = path.join(root, name);
  await fs.mkdir(stateDir, { recursive: true });
  const psrdStore = await FileStore.open(path.join(stateDir, "psrd"));
  return startClient({
    name,
    encryptors,
    hubs: hubs.map((h) => h.url),
    stateDir,
    psrdStore,
    kmeDirectory: { sam: "carol", sunny: "curtis" },
    ...(process.env.DEBUG_CLIENT ? { logger: consoleLogger(`${name}: `) } : {}),
  });
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "dske-client-restart-"));
  hubs = NAMES.map((name) => ({ name, port: 0, url: "" }));
  for (const h of hubs) await hubUp(h, path.join(root, h.name));
});

afterAll(async () => {
  for (const h of hubs) await hubDown(h);
  await fs.rm(root, { recursive: true, force: true });
});

test("restart of the slave client, of a hub (state kept) and of the master client loses nothing", async () => {
  let carol = await fileClient("carol", ["sam"]);
  let curtis = await fileClient("curtis", ["sunny"]);
  try {
    await carol.client.whenRegistered();
    await curtis.client.whenRegistered();
    const first = await carol.etsi("sam").getKeys("sunny", { number: 2 });
    const delivered = await curtis.etsi("sunny").getKeyWithKeyId("sam", first.keys[0].key_ID);
    expect(delivered.keys[0]).toEqual(first.keys[0]);
    const pending = first.keys[1];
    await waitFor(
      () =>
        hubs.every((h) =>
          runningHub(h)
            .status()
            .shares.some((s) => s.key_id === pending.key_ID),
        ),
      20_000,
      "shares",
    );

    // slave client restarts: the delivered mark survives, the pending key is still fetchable
    await curtis.close();
    curtis = await fileClient("curtis", ["sunny"]);
    await curtis.client.whenRegistered();
    await expect(curtis.etsi("sunny").getKeyWithKeyId("sam", first.keys[0].key_ID)).rejects.toMatchObject({ status: 400 });

    // a hub restarts with its state: the share posted before the restart can still be fetched
    const hank = hubs[0];
    await hubDown(hank);
    await hubUp(hank, path.join(root, hank.name));
    const all = hubs.map((h) => shareCount(h, pending.key_ID) > 0);
    expect(all).toEqual([true, true, true, true, true]);
    const back = await curtis.etsi("sunny").getKeyWithKeyId("sam", pending.key_ID);
    expect(back.keys[0]).toEqual(pending);

    // the master client restarts: registrations and pools come back from its state dir
    const before = carol.client.peerHubs.map((h) => defined(h.poolStats("local")).available);
    await carol.close();
    carol = await fileClient("carol", ["sam"]);
    await carol.client.whenRegistered();
    const after = carol.client.peerHubs.map((h) => defined(h.poolStats("local")).available);
    for (let i = 0; i < before.length; i++) expect(after[i]).toBeGreaterThanOrEqual(Math.min(before[i], 500));
    const again = await carol.etsi("sam").getKey("sunny");
    expect((await curtis.etsi("sunny").getKeyWithKeyId("sam", again.keys[0].key_ID)).keys).toEqual(again.keys);
  } finally {
    await carol.close();
    await curtis.close();
  }
});

test("a hub restarted without its state: keys flow over the others; after the operator resets the clients' PSRD with it, it is used again", async () => {
  const carol = await fileClient("carol", ["sam"]);
  const curtis = await fileClient("curtis", ["sunny"]);
  try {
    await carol.client.whenRegistered();
    await curtis.client.whenRegistered();
    const helen = hubs[1];
    await hubDown(helen);
    await fs.rm(path.join(root, helen.name), { recursive: true, force: true });
    await hubUp(helen, path.join(root, helen.name));
    // keys keep working over the 4 hubs that kept their state; the fresh helen knows no client and
    // the clients do NOT reset anything by themselves (an impostor could answer "unknown client")
    let failedAtHelen = false;
    await waitFor(
      async () => {
        const k = await carol.etsi("sam").getKey("sunny");
        const back = await curtis.etsi("sunny").getKeyWithKeyId("sam", k.keys[0].key_ID);
        expect(back.keys).toEqual(k.keys);
        const h = carol.client.peerHubs.find((p) => p.name === "helen");
        failedAtHelen = h !== undefined && typeof h.lastError === "string" && /401|unknown|not registered/i.test(h.lastError);
        return failedAtHelen;
      },
      20_000,
      "carol to report helen failing",
    );
    expect(runningHub(helen).status().peer_clients).toEqual([]);
    // the operator resets each client's PSRD with helen: a new first bundle comes, they register again
    await carol.client.resetHubPsrd("helen");
    await curtis.client.resetHubPsrd("helen");
    await carol.client.whenRegistered(5, 60_000);
    await curtis.client.whenRegistered(5, 60_000);
    expect(
      runningHub(helen)
        .status()
        .peer_clients.map((c) => c.client_name)
        .sort(),
    ).toEqual(["carol", "curtis"]);
    const k = await carol.etsi("sam").getKey("sunny");
    await waitFor(
      () =>
        runningHub(helen)
          .status()
          .shares.some((s) => s.key_id === k.keys[0].key_ID),
      20_000,
      "share at helen",
    );
    expect((await curtis.etsi("sunny").getKeyWithKeyId("sam", k.keys[0].key_ID)).keys).toEqual(k.keys);
    await expect(carol.client.resetHubPsrd("nobody")).rejects.toMatchObject({ kind: "invalid-request" });
  } finally {
    await carol.close();
    await curtis.close();
  }
});

function shareCount(h: FileHub, keyId: string): number {
  return runningHub(h)
    .status()
    .shares.filter((s) => s.key_id === keyId).length;
}

/** The hub object of a hub that is up. */
function runningHub(h: FileHub): Hub {
  return defined(h.hub, `hub ${h.name} (up)`);
}
