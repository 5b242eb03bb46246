/**
 * Fuzzing every HTTP endpoint of a client (KME) in process over loopback (3 hubs, 2 clients, k = 2,
 * port 0): ETSI status / enc_keys GET+POST / dec_keys GET+POST on both prefixes
 * (`/client/{name}/etsi/api/v1/keys` and `/api/v1/keys`), management status, unknown paths.
 *
 * For every request: no 5xx; every 4xx (also 401) carries `{message, details?}` (431 from node's
 * header parser has no body: accepted); the client keeps answering; a rejected request consumes no
 * PSRD in any pool of any node (hubs and clients). Exception, measured and reported: a well-formed
 * dec_keys for key IDs the KME cannot rule out locally asks the hubs (signed share fetches), which
 * spends MAC PSRD before the answer "not found" (400).
 */
import fc from "fast-check";
import { newKeyId } from "../../src/key";
import { OPERATOR_AUTH, TEST_OPERATOR_TOKEN, startNetwork, type TestClient, type TestHub, type TestNetwork } from "../harness";
import {
  CONTENT_TYPES,
  FUZZ_SEED,
  NASTY_STRINGS,
  body,
  expectNoPollution,
  expectWellFormed,
  headerSafe,
  pct,
  query,
  rawHttp,
  send,
  type RawResponse,
} from "../../../dske-hub/test/security/fuzz-util";
import { accounting, consumedDiff, settle, type Accounting } from "./net";

const RUNS = 150;
let net: TestNetwork;
let hubs: TestHub[];
let carol: TestClient;
let curtis: TestClient;
const http = rawHttp();
let fuzzed = 0;
/** Rejected-but-well-formed dec_keys that consulted the hubs: count and PSRD bytes spent. */
const hubLookups = { requests: 0, bytes: 0 };

beforeAll(async () => {
  net = await startNetwork({
    hubs: ["hank", "helen", "hilary"],
    k: 2,
    client: { limits: { maxKeyPerRequest: 10, maxKeySize: 4096 }, gather: { hedgeMs: 50 } },
  });
  ({ hubs, carol, curtis } = net);
  // A first key pair: pools are filled and the network is warm.
  const got = await carol.etsi("sam").getKey("sunny");
  await curtis.etsi("sunny").getKeyWithKeyId("sam", got.keys[0].key_ID);
  await curtis.client.flushAcks(); // the warm key's acknowledgements go out now, not during the fuzzing
  await settle(read);
});

afterAll(async () => {
  console.log(
    `client fuzz: ${fuzzed} requests fuzzed; ${hubLookups.requests} rejected well-formed dec_keys consulted the hubs (${hubLookups.bytes} PSRD bytes)`,
  );
  await (net as TestNetwork | undefined)?.close(); // unset when beforeAll failed
});

const read = (): Promise<Accounting> =>
  accounting(
    hubs.map((h) => h.hub),
    [
      { name: "carol", store: carol.store },
      { name: "curtis", store: curtis.store },
    ],
  );

async function fuzzOne(
  node: TestClient,
  method: string,
  path: string,
  opts: { body?: string | Buffer; headers?: Record<string, string> },
  kind: "enc" | "dec" | "other",
): Promise<RawResponse> {
  const before = await read();
  const url = `http://127.0.0.1:${node.port}${path}`;
  const r = await send(http, method, url, opts);
  fuzzed++;
  const what = `${method} ${path.slice(0, 160)} auth=${String(opts.headers?.Authorization).slice(0, 40)} body=${String(opts.body).slice(0, 160)}`;
  const final = new URL(url).pathname; // after the URL parser's dot-segment normalization
  const foreignPath = !final.startsWith(`/client/${node.client.name}/`) && !final.startsWith("/api/v1/keys/");
  expectWellFormed(r, what, { foreignPath });
  expectNoPollution();
  if (r.status < 400) {
    if (kind !== "other") await settle(read); // a legitimate key request: let its background work finish
    return r;
  }
  const diff = consumedDiff(before, await read());
  if (Object.keys(diff).length > 0) {
    const msg = (() => {
      try {
        return String((JSON.parse(r.text) as { message?: unknown }).message);
      } catch {
        return "";
      }
    })();
    if (kind === "dec" && r.status === 400 && /not found on KME/.test(msg)) {
      hubLookups.requests++;
      hubLookups.bytes += Object.values(diff).reduce((a, b) => a + b, 0);
      await settle(read);
      return r;
    }
    throw new Error(`${what}: rejected with ${r.status} ${r.text.slice(0, 200)} but consumed PSRD ${JSON.stringify(diff)}`);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------- arbitraries

const PREFIXES = ["/client/carol/etsi/api/v1/keys", "/api/v1/keys"];
const prefixArb = fc.constantFrom(...PREFIXES);

const segmentArb = (good: string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...good, "mallory", "carol") },
    { weight: 2, arbitrary: fc.constantFrom(...NASTY_STRINGS).map(pct) },
    { weight: 1, arbitrary: fc.constantFrom("%", "%zz", "%ED%A0%80", "%00", "..", "%2e%2e", "a%2Fb", "__proto__", "constructor") },
  );

const authArb = (good: string[]) =>
  fc.option(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...good, ...good.map((g) => `Bearer ${g}`), `bearer   ${good[0]}  `) },
      { weight: 2, arbitrary: fc.constantFrom("", "Bearer", "Bearer  ", "Basic c2FtOnB3", "mallory", "Bearer sunny sam", "carol") },
      { weight: 2, arbitrary: fc.constantFrom(...NASTY_STRINGS).map(headerSafe) },
      { weight: 1, arbitrary: fc.constantFrom("s".repeat(10_000), "s".repeat(100_000)) },
    ),
    { freq: 6 },
  );

const ctArb = fc.constantFrom(...CONTENT_TYPES);

function headers(auth: string | null, ct?: string): Record<string, string> {
  const h: Record<string, string> = {};
  if (auth !== null) h.Authorization = auth;
  if (ct !== undefined) h["Content-Type"] = headerSafe(ct);
  return h;
}

const run = <T>(p: fc.IAsyncPropertyWithHooks<T>, runs = RUNS): Promise<void> =>
  fc.assert(p, { seed: FUZZ_SEED, numRuns: runs, endOnFailure: true });

async function stillAlive(): Promise<void> {
  for (const node of [carol, curtis]) {
    const r = await send(http, "GET", `http://127.0.0.1:${node.port}/client/${node.client.name}/mgmt/v1/status`, {
      headers: OPERATOR_AUTH,
    });
    expect(r.status).toBe(200);
  }
}

describe("client (ETSI 014 + management) endpoints under fuzzing", () => {
  afterEach(stillAlive);

  test("GET status", async () => {
    await run(
      fc.asyncProperty(
        prefixArb,
        segmentArb(["sunny", "sue", "sam"]),
        authArb(["sam", "sue"]),
        query({ x: "1" }),
        async (p, slave, auth, q) => {
          const r = await fuzzOne(carol, "GET", `${p}/${slave}/status${q ? `?${q}` : ""}`, { headers: headers(auth) }, "other");
          if (r.status === 200) expect(JSON.parse(r.text)).toMatchObject({ source_KME_ID: "carol" });
        },
      ),
    );
  });

  test("GET enc_keys", async () => {
    await run(
      fc.asyncProperty(
        prefixArb,
        segmentArb(["sunny", "susan", "sam"]),
        authArb(["sam", "sue"]),
        query({ number: "1", size: "256" }),
        async (p, slave, auth, q) => {
          await fuzzOne(carol, "GET", `${p}/${slave}/enc_keys?${q}`, { headers: headers(auth) }, "enc");
        },
      ),
    );
  });

  test("POST enc_keys", async () => {
    await run(
      fc.asyncProperty(
        prefixArb,
        segmentArb(["sunny", "susan"]),
        authArb(["sam", "sue"]),
        body({
          number: 1,
          size: 256,
          additional_slave_SAE_IDs: ["susan"],
          extension_optional: [{ abc: 1 }],
        }),
        ctArb,
        async (p, slave, auth, b, ct) => {
          await fuzzOne(carol, "POST", `${p}/${slave}/enc_keys`, { body: b, headers: headers(auth, ct) }, "enc");
        },
      ),
    );
  });

  test("GET dec_keys", async () => {
    const id = newKeyId(256);
    await run(
      fc.asyncProperty(
        fc.constantFrom("/client/curtis/etsi/api/v1/keys", "/api/v1/keys"),
        segmentArb(["sam", "sue", "sunny"]),
        authArb(["sunny", "susan"]),
        query({ key_ID: id }),
        async (p, master, auth, q) => {
          await fuzzOne(curtis, "GET", `${p}/${master}/dec_keys?${q}`, { headers: headers(auth) }, "dec");
        },
      ),
    );
  });

  test("POST dec_keys", async () => {
    const id = newKeyId(256);
    await run(
      fc.asyncProperty(
        fc.constantFrom("/client/curtis/etsi/api/v1/keys", "/api/v1/keys"),
        segmentArb(["sam", "sue"]),
        authArb(["sunny", "susan"]),
        fc.oneof(
          body({ key_IDs: [{ key_ID: id }], key_IDs_extension: { x: 1 } }),
          body({ key_ID: id, key_ID_extension: { a: 1 } }).map((item) => `{"key_IDs":[${Buffer.isBuffer(item) ? "0" : item}]}`),
          fc.integer({ min: 10, max: 12 }).map((n) => JSON.stringify({ key_IDs: Array.from({ length: n }, () => ({ key_ID: id })) })),
        ),
        ctArb,
        async (p, master, auth, b, ct) => {
          await fuzzOne(curtis, "POST", `${p}/${master}/dec_keys`, { body: b, headers: headers(auth, ct) }, "dec");
        },
      ),
    );
  });

  test("management status, unknown ETSI paths and methods (stop is not fuzzed)", async () => {
    await run(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"),
        fc.constantFrom(
          "/client/carol/mgmt/v1/status",
          "/client/carol/mgmt/v1/statuss",
          "/client/carol/etsi/api/v1/keys/sunny/other",
          "/client/carol/etsi/api/v1/keys/sunny",
          "/api/v1/keys/sunny/enc_keys/extra",
          "/api/v1/keys//enc_keys",
          "/api/v1/keys/%ED%A0%80/status",
          "/api/v1/keys/sunny/status",
        ),
        fc.oneof(authArb(["sam"]), fc.constant(`Bearer ${TEST_OPERATOR_TOKEN}`)),
        query({ number: "1" }),
        async (method, path, auth, q) => {
          const r = await fuzzOne(
            carol,
            method,
            `${path}?${q}`,
            { body: method === "GET" ? undefined : "{}", headers: headers(auth, "application/json") },
            "other",
          );
          if (r.status === 200 && path.endsWith("/mgmt/v1/status")) expect((JSON.parse(r.text) as { name?: unknown }).name).toBe("carol");
        },
      ),
      100,
    );
  });

  test("oversized bodies (413) and headers (431)", async () => {
    const big = JSON.stringify({ number: 1, pad: "a".repeat(2 * 1024 * 1024) });
    for (const [path, b, h, expected] of [
      ["/api/v1/keys/sunny/enc_keys", big, { Authorization: "sam", "Content-Type": "application/json" }, 413],
      ["/client/carol/etsi/api/v1/keys/sunny/dec_keys", big, { Authorization: "sam", "Content-Type": "application/json" }, 413],
      ["/api/v1/keys/sunny/enc_keys", "{}", { Authorization: "s".repeat(100_000) }, 431],
    ] as const) {
      const r = await fuzzOne(carol, "POST", path, { body: b, headers: { ...h } }, "other").catch((e: unknown) => {
        const code = (e as { code?: string }).code;
        if (code === "ECONNRESET" || code === "EPIPE") return { status: expected } as RawResponse;
        throw e;
      });
      expect(r.status).toBe(expected);
    }
  });
});
