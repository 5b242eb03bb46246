/**
 * HubApi with replicaUrls (hub-replicas.ts): a call moves on to the next replica when the active
 * one refuses the connection or answers an unsigned 503, sticks to the replica that answered, and
 * never resends after an answer that may mean the request was processed (a signed or other error).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { HubApi, HubApiError } from "../src/index.js";

interface Replica {
  server: http.Server;
  base: string;
  calls: number;
  status: number;
}

const replicas: Replica[] = [];

async function replica(status: number): Promise<Replica> {
  const r: Replica = { server: http.createServer(), base: "", calls: 0, status };
  r.server.on("request", (_req: http.IncomingMessage, res: http.ServerResponse) => {
    r.calls++;
    const body = r.status === 200 ? { status: "ok" } : { message: "shared state unavailable" };
    res.writeHead(r.status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
  });
  await new Promise<void>((done) => r.server.listen(0, "127.0.0.1", () => done()));
  r.base = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/hub/hank`;
  replicas.push(r);
  return r;
}

/** A base URL whose port refuses connections (a listener opened and closed again). */
async function refusingBase(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((done) => s.listen(0, "127.0.0.1", () => done()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((done) => s.close(() => done()));
  return `http://127.0.0.1:${port}/hub/hank`;
}

afterAll(async () => {
  for (const r of replicas) {
    r.server.closeAllConnections();
    await new Promise<void>((done) => r.server.close(() => done()));
  }
});

test("a refused connection and an unsigned 503 move the call on; the answering replica stays active", async () => {
  const down = await refusingBase();
  const unavailable = await replica(503);
  const up = await replica(200);
  const api = new HubApi(down, { replicaUrls: [unavailable.base, up.base] });
  expect(await api.health()).toEqual({ status: "ok" });
  expect(unavailable.calls).toBe(1);
  expect(up.calls).toBe(1);
  expect(api.replicas.active).toBe(up.base);
  await api.health();
  expect(up.calls).toBe(2);
  expect(unavailable.calls).toBe(1); // sticks to the replica that answered
  api.close();
});

test("an error that may follow processing is not resent; the last replica's 503 is the caller's", async () => {
  const failing = await replica(500);
  const other = await replica(200);
  const api = new HubApi(failing.base, { replicaUrls: [other.base] });
  const err = await api.health().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HubApiError);
  expect((err as HubApiError).status).toBe(500);
  expect(other.calls).toBe(0);
  api.close();

  const a = await replica(503);
  const b = await replica(503);
  const both = new HubApi(a.base, { replicaUrls: [b.base] });
  expect(((await both.health().catch((e: unknown) => e)) as HubApiError).status).toBe(503);
  expect(a.calls + b.calls).toBe(2);
  both.close();
});

test("replicas of one hub must share the path", () => {
  expect(() => new HubApi("http://127.0.0.1:1/hub/hank", { replicaUrls: ["http://127.0.0.1:2/hub/helen"] })).toThrow(/share the path/);
});
