import { createHmac } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import axios, { AxiosError } from "axios";
import express from "express";
import { formatAllocation } from "@dske/psrd";
import {
  createSignatureMiddleware,
  formatSignatureHeader,
  installSignatureInterceptors,
  parseSignatureHeader,
  SignatureError,
  type PeerAuth,
} from "../src/index";
import { allStats, createHarness, type Harness } from "./harness";

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe("createSignatureMiddleware details", () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  test("resolvePeer sees the raw body and the (unverified) parsed body; the route sees the verified body", async () => {
    h = await createHarness("gf128");
    const app = express();
    const seen: unknown[] = [];
    app.use(
      "/api",
      createSignatureMiddleware({
        resolvePeer: (req, raw) => {
          seen.push([(req.body as { master_client_name?: string }).master_client_name, raw.length]);
          return (req.body as { master_client_name?: string }).master_client_name === "alice" ? h.hubPeer : undefined;
        },
      }),
    );
    app.post("/api/x", (req, res) => {
      res.status(201).json({ got: req.body as unknown });
    });
    const { server, url } = await listen(app);
    try {
      const client = axios.create({ baseURL: url });
      installSignatureInterceptors(client, { resolvePeer: () => h.clientPeer });
      const r = await client.post("/api/x", { master_client_name: "alice" });
      expect(r.status).toBe(201);
      expect(r.data).toEqual({ got: { master_client_name: "alice" } });
      expect(seen).toEqual([["alice", JSON.stringify({ master_client_name: "alice" }).length]]);
      const bad = await client.post("/api/x", { master_client_name: "eve" }).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(SignatureError); // unsigned 401
    } finally {
      await close(server);
    }
  });

  test("an upstream body parser is reported (500), not a hang", async () => {
    h = await createHarness("gf128");
    const app = express();
    app.use(express.json());
    app.use(createSignatureMiddleware({ resolvePeer: () => h.hubPeer }));
    app.post("/x", (_req, res) => {
      res.json({});
    });
    const { server, url } = await listen(app);
    try {
      const r = await fetch(`${url}/x`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect(r.status).toBe(500);
      expect(((await r.json()) as { message: string }).message).toMatch(/already consumed/);
    } finally {
      await close(server);
    }
  });

  test("an authenticated non-JSON body gets a signed 400; a thrown route error reaches the client unsigned", async () => {
    h = await createHarness("gf128", {
      routes: (r) => {
        r.post("/boom", () => {
          throw new Error("route failed");
        });
      },
    });
    const before = allStats(h);
    const err = (await h.client
      .post("/key-share", "not json", { headers: { "content-type": "text/plain" } })
      .catch((e: unknown) => e)) as AxiosError;
    expect(err).toBeInstanceOf(AxiosError);
    expect(err.response?.status).toBe(400);
    expect(err.response?.data).toEqual({ message: "Request body is not valid JSON", details: [{ code: "bad_message" }] });
    const after = allStats(h);
    expect(after.hubPeer - before.hubPeer).toBe(16); // request verified and consumed
    expect(after.clientPeer - before.clientPeer).toBe(16); // signed error response verified
    const boom = (await h.client.post("/boom", {}).catch((e: unknown) => e)) as SignatureError;
    expect(boom).toBeInstanceOf(SignatureError);
    expect(boom.code).toBe("missing_signature");
  });

  test("hmac-sha256 is wire-compatible with the reference layout (hand-made request, hand-checked response)", async () => {
    h = await createHarness("hmac-sha256");
    const { allocation, data } = await h.clientPeer.localPool.allocate(32, "reference-style client");
    const query = "client_name=alice&key_id=k1";
    const body = "";
    const tag = createHmac("sha256", data)
      .update(query + body)
      .digest();
    const r = await fetch(`${h.baseURL}/key-share?${query}`, {
      headers: { "DSKE-Signature": `${formatAllocation(allocation)};${tag.toString("base64")}` },
    });
    expect(r.status).toBe(200);
    const text = await r.text();
    const sig = parseSignatureHeader(r.headers.get("dske-signature") ?? undefined, { scheme: "hmac-sha256" });
    const key = await h.clientPeer.peerPool.take(sig.allocation, "check response");
    expect(Buffer.from(sig.tag).equals(createHmac("sha256", key).update(text).digest())).toBe(true);
    expect(JSON.parse(text)).toEqual({ query: { client_name: "alice", key_id: "k1" }, peerScheme: "hmac-sha256" });
    expect(formatSignatureHeader({ allocation, tag })).toBe(`${formatAllocation(allocation)}%${tag.toString("base64")}`);
  });

  test("PSRD exhaustion on the signing side rejects before sending", async () => {
    h = await createHarness("gf128", { blocks: 1, blockSize: 16 + 32 });
    await h.client.get("/key-share");
    await h.client.get("/key-share");
    const err = (await h.client.get("/key-share").catch((e: unknown) => e)) as SignatureError;
    expect(err).toBeInstanceOf(SignatureError);
    expect(err.code).toBe("psrd_exhausted");
  });

  test("a response signed by an exhausted hub pool is replaced by an unsigned 503", async () => {
    h = await createHarness("gf128");
    const peer: PeerAuth = h.hubPeer;
    // drain the hub-owned pool
    await peer.localPool.allocate(peer.localPool.stats().available, "drain");
    const err = (await h.client.get("/key-share").catch((e: unknown) => e)) as SignatureError;
    expect(err).toBeInstanceOf(SignatureError);
    expect(err.details).toContain("status: 503");
  });
});
