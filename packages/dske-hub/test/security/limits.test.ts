/**
 * Every documented hub limit (README "Security: limits"), at the limit (accepted) and one past it
 * (rejected with a 4xx and `{message}`): body sizes over HTTP, and each wire field limit through
 * the exported zod schemas the router validates with. The share-size limit over signed HTTP (413).
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { MemoryStore } from "@dske/psrd";
import { Hub } from "../../src/hub";
import { HubApi, HubApiError } from "@dske/protocol";
import { createHubRouter } from "../../src/http/router";
import {
  AllocationSchema,
  FetchKeySharesRequestSchema,
  KeyIdSchema,
  MAX_ADDITIONAL_SLAVES,
  MAX_BATCH_SHARES,
  MAX_ENCRYPTORS,
  MAX_FRAGMENTS,
  MAX_KEY_ID_LENGTH,
  MAX_NAME_LENGTH,
  MAX_PSRD_BLOCK_BYTES,
  MAX_SAE_ID_LENGTH,
  MAX_SHARE_BYTES,
  NodeNameSchema,
  PostKeyShareRequestSchema,
  PostKeySharesRequestSchema,
  PsrdQuerySchema,
  RegistrationRequestSchema,
  SaeIdSchema,
} from "@dske/protocol";
import { encryptShare, provisionMirror } from "../helpers";
import { expectWellFormed, rawHttp, send } from "./fuzz-util";

const http = rawHttp();
let hub: Hub;
let server: Server;
let base: string;
const OPERATOR_TOKEN = "operator-token-for-the-limits-tests";

beforeAll(async () => {
  hub = await Hub.open({ name: "hank", store: new MemoryStore(), shareTimeoutSecs: 60, sweepIntervalMs: 0, maxShareBytes: 64 });
  const app = express();
  app.use(createHubRouter({ hub, onError: () => undefined, operatorToken: OPERATOR_TOKEN }));
  server = await new Promise<Server>((r) => {
    const s = app.listen(0, "127.0.0.1", () => r(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hub/hank`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await hub.close();
});

const uuid = "0f3c9a50-1111-4222-8333-444455556666";
const frag = { block_uuid: uuid, start: 16, size: 48 };
const share = {
  master_client_name: "carol",
  master_sae_id: "sam",
  slave_sae_id: "sunny",
  user_key_id: uuid,
  share_index: 1,
  encryption_key_allocation: { fragments: [frag] },
  encrypted_share_value: Buffer.alloc(48).toString("base64"),
};
const item = {
  master_sae_id: "sam",
  slave_sae_id: "sunny",
  user_key_id: uuid,
  share_index: 1,
  encrypted_share_value: share.encrypted_share_value,
};

/** [limit, schema, value at the limit, value one past it] */
const cases: [string, { safeParse(v: unknown): { success: boolean } }, unknown, unknown][] = [
  [`node names ≤ ${MAX_NAME_LENGTH} chars`, NodeNameSchema, "n".repeat(MAX_NAME_LENGTH), "n".repeat(MAX_NAME_LENGTH + 1)],
  [`SAE IDs ≤ ${MAX_SAE_ID_LENGTH} chars`, SaeIdSchema, "s".repeat(MAX_SAE_ID_LENGTH), "s".repeat(MAX_SAE_ID_LENGTH + 1)],
  [`key IDs ≤ ${MAX_KEY_ID_LENGTH} chars`, KeyIdSchema, "k".repeat(MAX_KEY_ID_LENGTH), "k".repeat(MAX_KEY_ID_LENGTH + 1)],
  [
    `≤ ${MAX_ENCRYPTORS} encryptors per registration`,
    RegistrationRequestSchema,
    { client_name: "carol", encryptor_names: Array.from({ length: MAX_ENCRYPTORS }, (_, i) => `s${i}`) },
    { client_name: "carol", encryptor_names: Array.from({ length: MAX_ENCRYPTORS + 1 }, (_, i) => `s${i}`) },
  ],
  [
    `PSRD blocks ≤ ${MAX_PSRD_BLOCK_BYTES} bytes`,
    PsrdQuerySchema,
    { client_name: "carol", pool_owner: "client", size: String(MAX_PSRD_BLOCK_BYTES) },
    { client_name: "carol", pool_owner: "client", size: String(MAX_PSRD_BLOCK_BYTES + 1) },
  ],
  [
    `≤ ${MAX_FRAGMENTS} fragments per allocation`,
    AllocationSchema,
    { fragments: Array.from({ length: MAX_FRAGMENTS }, () => frag) },
    { fragments: Array.from({ length: MAX_FRAGMENTS + 1 }, () => frag) },
  ],
  [
    `≤ ${MAX_ADDITIONAL_SLAVES} additional slave SAEs per share`,
    PostKeyShareRequestSchema,
    { ...share, additional_slave_sae_ids: Array.from({ length: MAX_ADDITIONAL_SLAVES }, (_, i) => `x${i}`) },
    { ...share, additional_slave_sae_ids: Array.from({ length: MAX_ADDITIONAL_SLAVES + 1 }, (_, i) => `x${i}`) },
  ],
  [
    `≤ ${MAX_BATCH_SHARES} shares per batch post`,
    PostKeySharesRequestSchema,
    {
      master_client_name: "carol",
      encryption_key_allocation: { fragments: [frag] },
      shares: Array.from({ length: MAX_BATCH_SHARES }, () => item),
    },
    {
      master_client_name: "carol",
      encryption_key_allocation: { fragments: [frag] },
      shares: Array.from({ length: MAX_BATCH_SHARES + 1 }, () => item),
    },
  ],
  [
    `≤ ${MAX_BATCH_SHARES} keys per batch fetch`,
    FetchKeySharesRequestSchema,
    {
      client_name: "curtis",
      keys: Array.from({ length: MAX_BATCH_SHARES }, () => ({ master_sae_id: "sam", slave_sae_id: "sunny", key_id: uuid })),
    },
    {
      client_name: "curtis",
      keys: Array.from({ length: MAX_BATCH_SHARES + 1 }, () => ({ master_sae_id: "sam", slave_sae_id: "sunny", key_id: uuid })),
    },
  ],
  ["share index 0..255", PostKeyShareRequestSchema, { ...share, share_index: 255 }, { ...share, share_index: 256 }],
];

describe("wire field limits (the schemas the router validates with)", () => {
  it.each(cases)("%s", (_what, schema, ok, over) => {
    expect(schema.safeParse(ok).success).toBe(true);
    expect(schema.safeParse(over).success).toBe(false);
  });
});

describe("over HTTP", () => {
  it("unsigned JSON bodies ≤ 64 KiB (registration): 413 past it", async () => {
    // Registration needs a credential (here the operator's); the body limit applies before it is checked.
    const headers = { "Content-Type": "application/json", Authorization: `Bearer ${OPERATOR_TOKEN}` };
    const small = await send(http, "PUT", `${base}/dske/oob/v1/registration`, {
      body: JSON.stringify({ client_name: "carol", encryptor_names: ["a".repeat(200)], auth_scheme: "gf128" }),
      headers,
    });
    expect(small.status).toBe(200);
    const big = await send(http, "PUT", `${base}/dske/oob/v1/registration`, {
      body: JSON.stringify({ client_name: "carol", encryptor_names: Array.from({ length: 300 }, (_, i) => `${"a".repeat(250)}${i}`) }),
      headers,
    });
    expectWellFormed(big, "registration 75 KB");
    expect(big.status).toBe(413);
  });

  it("signed bodies ≤ 4 MiB: 413 past it (before any signature work)", async () => {
    const r = await send(http, "POST", `${base}/dske/api/v1/key-share`, {
      body: Buffer.alloc(4 * 1024 * 1024 + 1024, 0x20),
      headers: { "Content-Type": "application/json", "DSKE-Signature": `${uuid}:0:16%${Buffer.alloc(16).toString("base64")}` },
    }).catch((err: unknown) => {
      const e = err as { code?: string };
      return {
        status: e.code === "ECONNRESET" || e.code === "EPIPE" ? 413 : 0,
        headers: {},
        text: '{"message":"reset"}',
      };
    });
    expect(r.status).toBe(413);
  });

  it("a PSRD block request past the block limit: 400 naming size", async () => {
    const r = await send(http, "GET", `${base}/dske/oob/v1/psrd?client_name=carol&pool_owner=client&size=${MAX_PSRD_BLOCK_BYTES + 1}`, {});
    expectWellFormed(r, "psrd size");
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/size/);
  });

  it(`shares ≤ maxShareBytes (default ${MAX_SHARE_BYTES}; 64 here), signed: 413 past it`, async () => {
    const mirror = await provisionMirror(hub, "cindy", { encryptors: ["sia"], bytes: 4096 });
    const api = new HubApi(base, { auth: { resolvePeer: () => mirror.peerAuth } });
    const post = async (len: number) =>
      api.postKeyShare({
        ...share,
        master_client_name: "cindy",
        master_sae_id: "sia",
        user_key_id: `${uuid.slice(0, -2)}${len}`,
        ...(await encryptShare(mirror, new Uint8Array(len))),
      });
    await expect(post(64)).resolves.toEqual({});
    const err = await post(65).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubApiError);
    expect((err as HubApiError).status).toBe(413);
    expect((err as HubApiError).message).toMatch(/exceeds the hub's limit of 64/);
  });
});
