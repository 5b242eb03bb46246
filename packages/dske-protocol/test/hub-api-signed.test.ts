/**
 * HubApi's signed calls against a hub that signs whatever body it is told to (a node:http server
 * with mirrored gf128 pools): the reference hub's `null` answer to POST key-share is a stored
 * share, an unexpected verified body is reported (shape only) and still counts, an unusable
 * verified body is an `authenticated` invalid_response, and a bad signature stays a signature error.
 */
import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  allocateSigningKey,
  blockKeyPrefix,
  formatSignatureHeader,
  getScheme,
  parseSignatureHeader,
  responseParts,
  type PeerAuth,
} from "@dske/auth";
import { MemoryStore, type Pool } from "@dske/psrd";
import { HubApi, HubApiError, type UnexpectedResponse } from "../src/index.js";

const scheme = getScheme("gf128");

async function mirrored(a: Pool, b: Pool): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const uuid = randomUUID();
    const data = new Uint8Array(randomBytes(4096));
    await a.addBlock(uuid, data, { keyPrefix: blockKeyPrefix("gf128") });
    await b.addBlock(uuid, data, { keyPrefix: blockKeyPrefix("gf128") });
  }
}

let server: http.Server;
let base: string;
let client: PeerAuth;
let hubLocal: Pool;
let hubPeer: Pool;
/** The raw body the hub answers next, and whether it signs it correctly. */
let answer: { body: string | undefined; status?: number; badTag?: boolean } = { body: "{}" };
const seen: string[] = [];
/** Raw request bodies, in the order of `seen`. */
const bodies: string[] = [];

beforeAll(async () => {
  const clientStore = new MemoryStore();
  const hubStore = new MemoryStore();
  client = {
    scheme: "gf128",
    localPool: await clientStore.openPool("client-owned", "local"),
    peerPool: await clientStore.openPool("hub-owned", "peer"),
  };
  hubLocal = await hubStore.openPool("hub-owned", "local");
  hubPeer = await hubStore.openPool("client-owned", "peer");
  await mirrored(client.localPool, hubPeer);
  await mirrored(hubLocal, client.peerPool);
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        seen.push(`${req.method} ${req.url}`);
        bodies.push(Buffer.concat(chunks).toString("utf8"));
        const requestTag = parseSignatureHeader(req.headers["dske-signature"], { scheme: "gf128" }).tag;
        const status = answer.status ?? 200;
        const body = Buffer.from(answer.body ?? "", "utf8");
        const material = await allocateSigningKey(scheme, hubLocal, "sign response");
        const tag = scheme.sign(material.key, responseParts("gf128", { status, requestTag, body, allocation: material.allocationString }));
        material.key.fill(0);
        if (answer.badTag === true) tag[0] ^= 1;
        res.writeHead(status, {
          "Content-Type": "application/json",
          "DSKE-Signature": formatSignatureHeader({ allocation: material.allocationString, tag }),
        });
        res.end(body);
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hub/hank`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const share = {
  master_client_name: "carol",
  master_sae_id: "sam",
  slave_sae_id: "sunny",
  user_key_id: "0f3c9a50-1111-4222-8333-444455556666",
  share_index: 1,
  encryption_key_allocation: { fragments: [{ block_uuid: "0f3c9a50-1111-4222-8333-444455556666", start: 16, size: 4 }] },
  encrypted_share_value: "AAAAAA==",
};

function api(events: UnexpectedResponse[]): HubApi {
  return new HubApi(base, { auth: { resolvePeer: () => client }, onUnexpectedResponse: (e) => events.push(e) });
}

async function failure(p: Promise<unknown>): Promise<HubApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HubApiError);
  return err as HubApiError;
}

describe("POST key-share: what a legitimate (reference) hub answers is a stored share", () => {
  test.each([
    ["the reference hub's null", "null"],
    ["our {}", "{}"],
    ["an empty body", ""],
  ])("%s: resolves {} without a warning, and both pools moved in step", async (_what, body) => {
    const events: UnexpectedResponse[] = [];
    const a = api(events);
    const before = { clientPeer: client.peerPool.stats().used, hubLocal: hubLocal.stats().used };
    answer = { body };
    await expect(a.postKeyShare(share)).resolves.toEqual({});
    expect(events).toEqual([]);
    // The response pad was consumed on both sides: the pools stay in step.
    expect(client.peerPool.stats().used - before.clientPeer).toBe(hubLocal.stats().used - before.hubLocal);
    expect(hubLocal.stats().used - before.hubLocal).toBeGreaterThan(0);
    a.close();
  });

  test("a verified body that is not an object: still stored, reported by shape (never values)", async () => {
    const events: UnexpectedResponse[] = [];
    const a = api(events);
    answer = { body: JSON.stringify({ future_field: 1 }) }; // objects: unknown fields are ignored (forward compatible)
    await expect(a.postKeyShare(share)).resolves.toEqual({});
    expect(events).toEqual([]);
    answer = { body: '"c2VjcmV0"' };
    await expect(a.postKeyShare(share)).resolves.toEqual({});
    answer = { body: "[1,2]" };
    await expect(a.postKeyShare(share)).resolves.toEqual({});
    expect(events).toEqual([
      {
        baseUrl: base,
        method: "POST",
        path: "/dske/api/v1/key-share",
        status: 200,
        received: "string",
        outcome: "share counted as stored",
      },
      expect.objectContaining({ received: "array", outcome: "share counted as stored" }),
    ]);
    expect(JSON.stringify(events)).not.toContain("c2VjcmV0");
    a.close();
  });

  test("batch post: a verified 200 without `stored` counts all shares", async () => {
    const events: UnexpectedResponse[] = [];
    const a = api(events);
    answer = { body: "null" };
    const { master_client_name, encryption_key_allocation, ...item } = share;
    await expect(a.postKeyShares({ master_client_name, encryption_key_allocation, shares: [item] })).resolves.toEqual({ stored: 1 });
    expect(events.map((e) => e.outcome)).toEqual(["all 1 shares counted as stored"]);
    a.close();
  });
});

describe("other signed calls", () => {
  test("a verified body the call cannot use: invalid_response marked authenticated", async () => {
    const a = api([]);
    answer = { body: "null" };
    const err = await failure(
      a.getKeyShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: share.user_key_id }),
    );
    expect(err).toMatchObject({ status: 0, code: "invalid_response", authenticated: true });
    a.close();
  });

  test("a wrong response signature: code signature, not authenticated; the null body is not accepted", async () => {
    const events: UnexpectedResponse[] = [];
    const a = api(events);
    answer = { body: "null", badTag: true };
    const err = await failure(a.postKeyShare(share));
    expect(err).toMatchObject({ status: 0, code: "signature", authenticated: false });
    expect(events).toEqual([]);
    a.close();
  });

  test("a signed error status stays an HTTP error", async () => {
    const a = api([]);
    answer = { body: JSON.stringify({ message: "Invalid PSRD block UUID" }), status: 400 };
    expect(await failure(a.postKeyShare(share))).toMatchObject({ status: 400, code: "http", message: "Invalid PSRD block UUID" });
    a.close();
  });

  test("stop: the reference's {result} is read as the message", async () => {
    const plain = http.createServer((_req, res) =>
      res.writeHead(200, { "Content-Type": "application/json" }).end('{"result":"Hub stopped"}'),
    );
    await new Promise<void>((r) => plain.listen(0, "127.0.0.1", () => r()));
    const a = new HubApi(`http://127.0.0.1:${(plain.address() as AddressInfo).port}/hub/hank`, { operatorToken: "op" });
    try {
      expect(await a.stop()).toEqual({ message: "Hub stopped" });
    } finally {
      a.close();
      plain.closeAllConnections();
      await new Promise<void>((r) => plain.close(() => r()));
    }
  });
});

describe("the reference's v1 wire (reference hubs)", () => {
  test("postReferenceKeyShare sends the v1 body (client_name, no SAE IDs); the signed null is a stored share", async () => {
    const events: UnexpectedResponse[] = [];
    const a = api(events);
    answer = { body: "null" };
    const body = {
      client_name: "carol",
      user_key_id: share.user_key_id,
      share_index: 0,
      encryption_key_allocation: share.encryption_key_allocation,
      encrypted_share_value: share.encrypted_share_value,
    };
    expect(await a.postReferenceKeyShare(body)).toEqual({});
    expect(events).toEqual([]);
    expect(seen.at(-1)).toBe("POST /hub/hank/dske/api/v1/key-share");
    expect(JSON.parse(bodies.at(-1) ?? "")).toEqual(body);
    a.close();
  });

  test("getReferenceKeyShare asks with client_name and key_id only", async () => {
    const a = api([]);
    const answerBody = {
      share_index: 2,
      encryption_key_allocation: share.encryption_key_allocation,
      encrypted_share_value: share.encrypted_share_value,
    };
    answer = { body: JSON.stringify(answerBody) };
    expect(await a.getReferenceKeyShare({ client_name: "curtis", key_id: share.user_key_id })).toEqual(answerBody);
    expect(seen.at(-1)).toBe(`GET /hub/hank/dske/api/v1/key-share?client_name=curtis&key_id=${share.user_key_id}`);
    a.close();
  });
});

test("the requests went to the hub's paths", () => {
  expect(seen).toContain("POST /hub/hank/dske/api/v1/key-share");
  expect(seen).toContain("POST /hub/hank/dske/api/v1/key-shares");
});
