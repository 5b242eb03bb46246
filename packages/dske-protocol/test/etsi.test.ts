import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  EtsiApi,
  EtsiApiError,
  KeyContainerSchema,
  KeyIdsSchema,
  ReceivedKeyContainerSchema,
  ReceivedStatusSchema,
  StatusSchema,
} from "../src/index.js";

describe("ETSI GS QKD 014 schemas", () => {
  test("key container and key IDs round-trip; unknown members are stripped", () => {
    const container = { keys: [{ key_ID: "0f3c9a50-1111-4222-8333-444455556666", key: "AAEC" }] };
    expect(KeyContainerSchema.parse({ ...container, extra: 1 })).toEqual(container);
    expect(KeyIdsSchema.safeParse({ key_IDs: [] }).success).toBe(false);
    expect(StatusSchema.safeParse({ source_KME_ID: "a" }).success).toBe(false);
  });
});

/** The reference KME's status answer (its user guide): snake_case everywhere. */
const REFERENCE_STATUS = {
  source_kme_id: "carol",
  target_kme_id: "",
  master_sae_id: "sam",
  slave_sae_id: "sunny",
  key_size: 128,
  stored_key_count: 100,
  max_key_count: 1000,
  max_key_per_request: 1,
  max_key_size: 16777216,
  min_key_size: 32,
  max_sae_id_count: 0,
};
const STANDARD_STATUS = {
  source_KME_ID: "carol",
  target_KME_ID: "",
  master_SAE_ID: "sam",
  slave_SAE_ID: "sunny",
  key_size: 128,
  stored_key_count: 100,
  max_key_count: 1000,
  max_key_per_request: 1,
  max_key_size: 16777216,
  min_key_size: 32,
  max_SAE_ID_count: 0,
};
const KEY = { key_ID: "f1f2cf55-9569-4e8f-8805-f80c8f600d48", key: "+bXUKbPwVSdpS23JXGLSRA==" };

describe("what SAE-side callers accept (the reference KME's answers)", () => {
  test("a key container whose keys is one object, or an array; the result is always an array", () => {
    expect(ReceivedKeyContainerSchema.parse({ keys: KEY })).toEqual({ keys: [KEY] });
    expect(ReceivedKeyContainerSchema.parse({ keys: [KEY, KEY] })).toEqual({ keys: [KEY, KEY] });
    expect(ReceivedKeyContainerSchema.parse({ Keys: { key_id: KEY.key_ID, Key: KEY.key } })).toEqual({ keys: [KEY] });
    expect(ReceivedKeyContainerSchema.safeParse({ keys: "x" }).success).toBe(false);
    expect(ReceivedKeyContainerSchema.safeParse({ keys: { key: "AA==" } }).success).toBe(false);
    expect(ReceivedKeyContainerSchema.safeParse(null).success).toBe(false);
    expect(KeyContainerSchema.safeParse({ keys: KEY }).success).toBe(false); // the KME's own schema stays strict
  });

  test("status fields in the reference's casing read as the standard's; the exact spelling wins over another casing", () => {
    expect(ReceivedStatusSchema.parse(REFERENCE_STATUS)).toEqual(STANDARD_STATUS);
    expect(ReceivedStatusSchema.parse(STANDARD_STATUS)).toEqual(STANDARD_STATUS);
    expect(ReceivedStatusSchema.parse({ ...STANDARD_STATUS, source_kme_id: "other" }).source_KME_ID).toBe("carol");
    const incomplete: Record<string, unknown> = { ...REFERENCE_STATUS };
    delete incomplete.max_sae_id_count;
    expect(ReceivedStatusSchema.safeParse(incomplete).success).toBe(false);
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

  test("a KME answering like the reference: keys as one object, lower-case status fields", async () => {
    const ref = http.createServer((req, res) => {
      res.setHeader("Content-Type", "application/json");
      if (req.url?.includes("/status")) return void res.end(JSON.stringify(REFERENCE_STATUS));
      res.end(JSON.stringify({ keys: KEY }));
    });
    await new Promise<void>((r) => ref.listen(0, "127.0.0.1", () => r()));
    const api = new EtsiApi(`http://127.0.0.1:${(ref.address() as AddressInfo).port}/client/carol/etsi`, "sam");
    try {
      expect(await api.getKey("sunny")).toEqual({ keys: [KEY] });
      expect(await api.getKeyWithKeyId("sam", KEY.key_ID)).toEqual({ keys: [KEY] });
      expect(await api.getStatus("sunny")).toEqual(STANDARD_STATUS);
    } finally {
      api.close();
      ref.closeAllConnections();
      await new Promise<void>((r) => ref.close(() => r()));
    }
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
