/** Loopback test/bench harness: two MemoryStores (client and hub) with mirrored pools, an Express
 *  app behind createSignatureMiddleware and an axios instance with the interceptors. */
import { randomBytes, randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import axios, { type AxiosInstance } from "axios";
import express, { type Express } from "express";
import { MemoryStore, type Pool } from "@dske/psrd";
import { blockKeyPrefix, createSignatureMiddleware, installSignatureInterceptors, type AuthSchemeName, type PeerAuth } from "../src/index";

export interface Harness {
  scheme: AuthSchemeName;
  clientPeer: PeerAuth; // client's view of the hub
  hubPeer: PeerAuth; // hub's view of the client
  app: Express;
  server: Server;
  baseURL: string;
  client: AxiosInstance;
  close(): Promise<void>;
}

export async function addMirroredBlocks(a: Pool, b: Pool, scheme: AuthSchemeName, count: number, size: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const uuid = randomUUID();
    const data = new Uint8Array(randomBytes(size));
    await a.addBlock(uuid, data, { keyPrefix: blockKeyPrefix(scheme) });
    await b.addBlock(uuid, data, { keyPrefix: blockKeyPrefix(scheme) });
  }
}

export async function createHarness(
  scheme: AuthSchemeName,
  opts: { blocks?: number; blockSize?: number; maxBodyBytes?: number; routes?: (r: express.Router) => void } = {},
): Promise<Harness> {
  const clientStore = new MemoryStore();
  const hubStore = new MemoryStore();
  const clientPeer: PeerAuth = {
    scheme,
    localPool: await clientStore.openPool("hub1-client-owned", "local"),
    peerPool: await clientStore.openPool("hub1-hub-owned", "peer"),
  };
  const hubPeer: PeerAuth = {
    scheme,
    localPool: await hubStore.openPool("alice-hub-owned", "local"),
    peerPool: await hubStore.openPool("alice-client-owned", "peer"),
  };
  const blocks = opts.blocks ?? 2;
  const blockSize = opts.blockSize ?? 4096;
  await addMirroredBlocks(clientPeer.localPool, hubPeer.peerPool, scheme, blocks, blockSize);
  await addMirroredBlocks(hubPeer.localPool, clientPeer.peerPool, scheme, blocks, blockSize);

  const app = express();
  const router = express.Router();
  router.use(
    createSignatureMiddleware({
      resolvePeer: (req) => (req.query.client_name === "mallory" ? undefined : hubPeer),
      maxBodyBytes: opts.maxBodyBytes,
    }),
  );
  router.post("/key-share", (req, res) => {
    res.json({ ok: true, echo: req.body as unknown });
  });
  router.get("/key-share", (req, res) => {
    res.json({ query: req.query, peerScheme: (res.locals.dskePeer as PeerAuth).scheme });
  });
  router.get("/missing", (_req, res) => {
    res.status(404).json({ message: "no such share" });
  });
  router.get("/text", (_req, res) => {
    res.send("hello ✓");
  });
  router.get("/empty", (_req, res) => {
    res.sendStatus(204);
  });
  opts.routes?.(router);
  app.use("/hub/h1/dske/api/v1", router);

  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  const baseURL = `http://127.0.0.1:${port}/hub/h1/dske/api/v1`;
  const client = axios.create({ baseURL });
  installSignatureInterceptors(client, { resolvePeer: () => clientPeer });
  return {
    scheme,
    clientPeer,
    hubPeer,
    app,
    server,
    baseURL,
    client,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

export function allStats(h: Harness): Record<string, number> {
  return {
    clientLocal: h.clientPeer.localPool.stats().used,
    clientPeer: h.clientPeer.peerPool.stats().used,
    hubLocal: h.hubPeer.localPool.stats().used,
    hubPeer: h.hubPeer.peerPool.stats().used,
  };
}
