/**
 * Every documented client (ETSI) limit (README "Security: limits"), at the limit and one past it:
 * body ≤ 1 MiB (413), headers ≤ 16 KiB (431, node's parser), number ≤ max_key_per_request,
 * key_IDs per request ≤ max_key_per_request, size within min/max key size and a multiple of 8,
 * additional_slave_SAE_IDs ≤ max_SAE_ID_count. Errors are 4xx with `{message}`.
 */
import { randomUUID } from "node:crypto";
import { DEFAULT_ETSI_LIMITS } from "../../src/etsi";
import { startClient, startHub, type TestClient, type TestHub } from "../harness";
import { expectWellFormed, rawHttp, send } from "../../../dske-hub/test/security/fuzz-util";

const http = rawHttp();
let hub: TestHub;
let carol: TestClient;
let base: string;
// The defaults (DEFAULT_ETSI_LIMITS: 1000 keys per request, 16 additional slaves) with smaller
// counts here so that the at-limit requests stay quick; the checks are the same code.
const L = { ...DEFAULT_ETSI_LIMITS, maxKeyPerRequest: 20, maxSaeIdCount: 4 };
const saes = Array.from({ length: L.maxSaeIdCount + 1 }, (_, i) => `s${i}`);

beforeAll(async () => {
  hub = await startHub("hank");
  carol = await startClient({
    name: "carol",
    encryptors: ["sam", ...saes],
    hubs: [hub.url],
    minNrShares: 1,
    limits: { maxKeyPerRequest: L.maxKeyPerRequest, maxSaeIdCount: L.maxSaeIdCount },
    link: { timeoutMs: 10_000 },
    kmeDirectory: { sam: "carol", ...Object.fromEntries(saes.map((s) => [s, "carol"])) },
  });
  await carol.client.whenRegistered();
  base = `http://127.0.0.1:${carol.port}/api/v1/keys`;
});
afterAll(async () => {
  await carol.close();
  await hub.down();
  await hub.hub.close();
});

const post = (path: string, body: unknown, extra: Record<string, string> = {}) =>
  send(http, "POST", `${base}${path}`, {
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { Authorization: "sam", "Content-Type": "application/json", ...extra },
  });

async function expect4xx(
  p: Promise<{ status: number; text: string; headers: Record<string, unknown> }>,
  status: number,
  re: RegExp,
): Promise<void> {
  const r = await p;
  expectWellFormed(r, re.source);
  expect(r.status).toBe(status);
  expect(r.text).toMatch(re);
}

describe("ETSI limits", () => {
  it(`number ≤ max_key_per_request (${L.maxKeyPerRequest})`, async () => {
    const ok = await post("/s1/enc_keys", { number: L.maxKeyPerRequest, size: 32 });
    expect(ok.status).toBe(200);
    await expect4xx(post("/s1/enc_keys", { number: L.maxKeyPerRequest + 1, size: 32 }), 400, /max_key_per_request/);
  });

  it(`key size ${L.minKeySize}..${L.maxKeySize} bits, a multiple of 8`, async () => {
    expect((await post("/s1/enc_keys", { size: L.maxKeySize })).status).toBe(200);
    expect((await post("/s1/enc_keys", { size: L.minKeySize })).status).toBe(200);
    await expect4xx(post("/s1/enc_keys", { size: L.maxKeySize + 8 }), 400, /size/);
    await expect4xx(post("/s1/enc_keys", { size: L.minKeySize - 8 }), 400, /size/);
    await expect4xx(post("/s1/enc_keys", { size: 260 }), 400, /size/);
  });

  it(`additional_slave_SAE_IDs ≤ max_SAE_ID_count (${L.maxSaeIdCount})`, async () => {
    const ok = await post("/s0/enc_keys", { additional_slave_SAE_IDs: saes.slice(1, L.maxSaeIdCount + 1) });
    expect(ok.status).toBe(200);
    await expect4xx(
      post("/s0/enc_keys", { additional_slave_SAE_IDs: [...saes.slice(1), "sam2"] }),
      400,
      /max_SAE_ID_count|additional_slave_SAE_IDs/,
    );
  });

  it(`key_IDs per dec_keys ≤ max_key_per_request (${L.maxKeyPerRequest})`, async () => {
    const ids = (n: number) => Array.from({ length: n }, () => ({ key_ID: randomUUID() }));
    await expect4xx(post("/s1/dec_keys", { key_IDs: ids(L.maxKeyPerRequest + 1) }), 400, /too many key_IDs/);
  });

  it("request bodies ≤ 1 MiB: 413 past it", async () => {
    const pad = " ".repeat(1024 * 1024 + 10);
    await expect4xx(post("/s1/enc_keys", `{"number":1${pad}}`), 413, /too large/);
  });

  it("request headers ≤ 16 KiB (node's limit): 431", async () => {
    const r = await send(http, "GET", `${base}/s1/status`, { headers: { Authorization: "sam", "X-Big": "h".repeat(17 * 1024) } });
    expect(r.status).toBe(431);
  });
});
