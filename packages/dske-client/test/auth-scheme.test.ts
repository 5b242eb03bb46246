/**
 * allowed_auth_schemes defaults to [gf128]: a client requires gf128 unless told otherwise
 * (`link: { requireAuthScheme: false }`, what `--auth-schemes gf128,hmac-sha256` sets for reference hubs).
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { Hub, createHubRouter } from "@dske/hub";
import { MemoryStore } from "@dske/psrd";
import { registerTestHub, startClient, waitFor, type TestClient } from "./harness";

let hub: Hub;
let server: Server;
let url: string;
const clients: TestClient[] = [];

beforeAll(async () => {
  // A reference-style hub speaking hmac-sha256 only.
  hub = await Hub.open({ name: "hank", store: new MemoryStore(), sweepIntervalMs: 0, authSchemes: ["hmac-sha256"] });
  const app = express();
  app.use(createHubRouter({ hub, onError: () => undefined }));
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hub/hank`;
  registerTestHub(url, "hank", () => hub); // its local distributor (in process) issues the clients' bundles
});
afterAll(async () => {
  for (const c of clients) await c.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await hub.close();
});

const hubStatus = (c: TestClient) =>
  (c.client.mgmtStatus() as { peer_hubs: { registered: boolean; auth_scheme: string | null; last_error: string | null }[] }).peer_hubs[0];

test("by default a client refuses a hub without gf128 (no hmac-sha256 fallback)", async () => {
  const c = await startClient({ name: "carol", encryptors: ["sam"], hubs: [url], minNrShares: 1 });
  clients.push(c);
  // The hub issues carol's first bundle for the only scheme it has; carol refuses to use it.
  await waitFor(() => /requires gf128/.test(hubStatus(c).last_error ?? ""), 20_000, "a registration attempt with the installed bundle");
  expect(hubStatus(c)).toMatchObject({ registered: false, auth_scheme: null });
  expect(hubStatus(c).last_error).toMatch(/hub hank issued PSRD for auth scheme hmac-sha256, but this client requires gf128/);
});

test("with the fallback allowed (a topology listing hmac-sha256) it registers with hmac-sha256", async () => {
  const c = await startClient({ name: "curtis", encryptors: ["sunny"], hubs: [url], minNrShares: 1, link: { requireAuthScheme: false } });
  clients.push(c);
  await c.client.whenRegistered(1, 5000);
  expect(hubStatus(c)).toMatchObject({ registered: true, auth_scheme: "hmac-sha256" });
});
