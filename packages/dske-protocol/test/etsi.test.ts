import http from "node:http";
import type { AddressInfo } from "node:net";
import { EtsiApi, EtsiApiError, KeyContainerSchema, KeyIdsSchema, StatusSchema } from "../src/index.js";

describe("ETSI GS QKD 014 schemas", () => {
  test("key container and key IDs round-trip; unknown members are stripped", () => {
    const container = { keys: [{ key_ID: "0f3c9a50-1111-4222-8333-444455556666", key: "AAEC" }] };
    expect(KeyContainerSchema.parse({ ...container, extra: 1 })).toEqual(container);
    expect(KeyIdsSchema.safeParse({ key_IDs: [] }).success).toBe(false);
    expect(StatusSchema.safeParse({ source_KME_ID: "a" }).success).toBe(false);
  });
});

describe("EtsiApi (node:http)", () => {
  let server: http.Server;
  let base: string;
  const seen: { url?: string; auth?: string; body: string }[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString("utf8")));
      req.on("end", () => {
        seen.push({ url: req.url, auth: req.headers.authorization, body });
        res.setHeader("Content-Type", "application/json");
        if (req.url?.includes("dec_keys"))
          return void res.writeHead(400).end(JSON.stringify({ message: "keys not found", details: [{ key_ID: "k" }] }));
        res.end(JSON.stringify({ keys: [{ key_ID: "k1", key: "AAEC" }] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/carol/etsi`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test("calls as the SAE, validates the container, maps ETSI errors", async () => {
    const api = new EtsiApi(`${base}/`, "sam");
    expect(await api.getKey("sunny", { number: 1, size: 256 })).toEqual({ keys: [{ key_ID: "k1", key: "AAEC" }] });
    expect(await api.getKeys("sunny", { number: 2 })).toEqual({ keys: [{ key_ID: "k1", key: "AAEC" }] });
    const err = await api.getKeyWithKeyId("sam", "k").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EtsiApiError);
    expect(err).toMatchObject({ status: 400, message: "keys not found", details: [{ key_ID: "k" }] });
    expect(seen.slice(0, 2)).toEqual([
      { url: "/client/carol/etsi/api/v1/keys/sunny/enc_keys?number=1&size=256", auth: "sam", body: "" },
      { url: "/client/carol/etsi/api/v1/keys/sunny/enc_keys", auth: "sam", body: '{"number":2}' },
    ]);
    api.close();
  });

  test("no KME: status 0, the connection error code", async () => {
    const port = await new Promise<number>((r) => {
      const s = http.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => r(p));
      });
    });
    const api = new EtsiApi(`http://127.0.0.1:${port}`, "sam");
    await expect(api.getStatus("sunny")).rejects.toMatchObject({
      status: 0,
      message: `KME unreachable at http://127.0.0.1:${port}: ECONNREFUSED`,
    });
    api.close();
  });
});
