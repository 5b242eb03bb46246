/**
 * Embedding dske in an existing Express app: five hubs and two clients (KMEs) mounted as routers
 * next to the app's own routes, all on one port. Every router matches full paths
 * (`/hub/{name}/...`, `/client/{name}/...`), so many nodes can share one app behind one proxy.
 * (The ETSI routes at the standard root `/api/v1/keys/...` belong to one client per app: here the
 * clients are reached under their `/client/{name}/etsi` prefix.)
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { MemoryStore, type PsrdStore } from "@dske/psrd";
import { Hub, createHubRouter, startDistribution, type RunningDistribution } from "@dske/hub";
import { Client, EtsiApi, createClientRouter } from "@dske/client";

export const HUBS = ["hank", "helen", "hilary", "holly", "hugo"] as const;

export interface EmbeddedNetwork {
  app: express.Express;
  baseUrl: string;
  hubs: Hub[];
  clients: { carol: Client; curtis: Client };
  /** The operator token the nodes' management routes and metrics require (`Authorization: Bearer ...`). */
  operatorToken: string;
  /** ETSI callers for the encryptors: sam on carol (master), sunny on curtis (slave). */
  sam: EtsiApi;
  sunny: EtsiApi;
  close(): Promise<void>;
}

export async function startEmbeddedNetwork(port = 0): Promise<EmbeddedNetwork> {
  // The existing application, with a route of its own.
  const app = express();
  app.get("/healthz", (_req, res) => {
    res.json({ ok: true });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(port, "127.0.0.1", () => resolve(s));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // Management (status, stop, metrics) is the operator's: keep this token secret (e.g. a 0600 file).
  const operatorToken = randomBytes(32).toString("hex");
  const stores: PsrdStore[] = [];
  const hubs: Hub[] = [];
  // PSRD travels out of band in sealed bundle files: each hub writes them into its outbox, its
  // local distributor moves them into the client's inbox (here: directories of one temp dir).
  const dir = mkdtempSync(path.join(tmpdir(), "dske-embed-"));
  for (const name of HUBS) {
    const store = new MemoryStore();
    stores.push(store);
    const hub = await Hub.open({ name, store, outboxDir: path.join(dir, "outbox", name) });
    hubs.push(hub);
    app.use(createHubRouter({ hub, operatorToken }));
  }

  const hubUrls = HUBS.map((h) => `${baseUrl}/hub/${h}`);
  const kmeDirectory = { sam: "carol", sunny: "curtis" };
  const makeClient = async (name: string, encryptors: string[]): Promise<Client> => {
    const psrdStore = new MemoryStore();
    stores.push(psrdStore);
    const client = await Client.create({ name, encryptors, hubs: hubUrls, psrdStore, kmeDirectory });
    app.use(createClientRouter({ client, standardRoot: false, operatorToken }));
    await client.start();
    return client;
  };
  const carol = await makeClient("carol", ["sam"]);
  const curtis = await makeClient("curtis", ["sunny"]);
  // Each hub's local distributor serves both clients through their management API (operator token).
  const plan = { clients: ["carol", "curtis"].map((c) => ({ name: c, url: `${baseUrl}/client/${c}`, inbox: path.join(dir, "inbox", c) })) };
  const distributions: RunningDistribution[] = hubs.map((hub) => startDistribution({ hub, plan, operatorToken }));
  await Promise.all([carol.whenRegistered(), curtis.whenRegistered()]);

  const sam = new EtsiApi(`${baseUrl}/client/carol/etsi`, "sam");
  const sunny = new EtsiApi(`${baseUrl}/client/curtis/etsi`, "sunny");
  return {
    app,
    baseUrl,
    hubs,
    clients: { carol, curtis },
    operatorToken,
    sam,
    sunny,
    async close() {
      sam.close();
      sunny.close();
      await Promise.all(distributions.map((d) => d.stop()));
      await Promise.all([carol.stop(), curtis.stop()]);
      await Promise.all(hubs.map((h) => h.close()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await Promise.all(stores.map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
