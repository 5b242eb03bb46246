import { allocationSize, type Allocation } from "@dske/psrd";
import {
  AllocationSchema,
  ErrorBodySchema,
  FetchKeySharesRequestSchema,
  FragmentSchema,
  HubStatusSchema,
  MAX_FRAGMENTS,
  MAX_PSRD_BLOCK_BYTES,
  PostKeySharesRequestSchema,
  PsrdConfirmRequestSchema,
  PsrdQuerySchema,
  RegistrationRequestSchema,
  allocationFromWire,
  allocationToWire,
} from "../src/index.js";

const UUID = "0f3c9a50-1111-4222-8333-444455556666";

describe("allocation codec (wire form built on @dske/psrd's FragmentJsonSchema)", () => {
  test("camelCase ⇄ wire round trip, and the size of both forms", () => {
    const a: Allocation = {
      fragments: [
        { blockUuid: UUID, start: 16, size: 48 },
        { blockUuid: UUID, start: 100, size: 2 },
      ],
    };
    const wire = allocationToWire(a);
    expect(wire).toEqual({
      fragments: [
        { block_uuid: UUID, start: 16, size: 48 },
        { block_uuid: UUID, start: 100, size: 2 },
      ],
    });
    expect(AllocationSchema.parse(wire)).toEqual(wire);
    expect(allocationFromWire(AllocationSchema.parse(wire))).toEqual(a);
    expect(allocationSize(wire)).toBe(50);
    expect(allocationSize(a)).toBe(50);
  });

  test("wire limits: fragment size ≤ MAX_PSRD_BLOCK_BYTES, 1..MAX_FRAGMENTS fragments", () => {
    const frag = { block_uuid: UUID, start: 0, size: 1 };
    expect(FragmentSchema.safeParse({ ...frag, size: MAX_PSRD_BLOCK_BYTES }).success).toBe(true);
    const big = FragmentSchema.safeParse({ ...frag, size: MAX_PSRD_BLOCK_BYTES + 1 });
    expect(big.success).toBe(false);
    expect(big.error?.issues[0].path).toEqual(["size"]);
    expect(AllocationSchema.safeParse({ fragments: [] }).success).toBe(false);
    expect(AllocationSchema.safeParse({ fragments: Array.from({ length: MAX_FRAGMENTS }, () => frag) }).success).toBe(true);
    expect(AllocationSchema.safeParse({ fragments: Array.from({ length: MAX_FRAGMENTS + 1 }, () => frag) }).success).toBe(false);
  });

  test.each([
    ["non-canonical block UUID", { block_uuid: "not-a-uuid", start: 0, size: 1 }],
    ["negative start", { block_uuid: UUID, start: -1, size: 1 }],
    ["zero size", { block_uuid: UUID, start: 0, size: 0 }],
    ["fractional start", { block_uuid: UUID, start: 1.5, size: 1 }],
    ["missing size", { block_uuid: UUID, start: 0 }],
  ])("refuses a fragment with %s", (_what, frag) => {
    expect(AllocationSchema.safeParse({ fragments: [frag] }).success).toBe(false);
  });
});

describe("schemas of the concept files (through the barrel)", () => {
  test("registration: defaults, unknown fields stripped", () => {
    expect(RegistrationRequestSchema.parse({ client_name: "carol", extra: 1 })).toEqual({ client_name: "carol", encryptor_names: [] });
    expect(RegistrationRequestSchema.safeParse({ client_name: "-carol" }).success).toBe(false);
  });

  test("psrd: query size coerced from the query string; confirm needs block IDs", () => {
    expect(PsrdQuerySchema.parse({ client_name: "carol", pool_owner: "hub", size: "4096" }).size).toBe(4096);
    expect(PsrdConfirmRequestSchema.safeParse({ client_name: "carol", block_uuids: [] }).success).toBe(false);
  });

  test("share: a batch post and an ack-only fetch round-trip", () => {
    const post = {
      master_client_name: "carol",
      encryption_key_allocation: { fragments: [{ block_uuid: UUID, start: 16, size: 32 }] },
      shares: [
        {
          master_sae_id: "sam",
          slave_sae_id: "sunny",
          user_key_id: UUID,
          share_index: 1,
          encrypted_share_value: Buffer.alloc(32).toString("base64"),
        },
      ],
    };
    expect(PostKeySharesRequestSchema.parse(JSON.parse(JSON.stringify(post)))).toEqual(post);
    const ackOnly = { client_name: "curtis", keys: [], ack: [{ master_sae_id: "sam", key_id: UUID }] };
    expect(FetchKeySharesRequestSchema.parse(ackOnly)).toEqual(ackOnly);
    expect(FetchKeySharesRequestSchema.safeParse({ client_name: "curtis", keys: [] }).success).toBe(false);
  });

  test("management and errors", () => {
    const status = { name: "hank", share_timeout_secs: 60, auth_schemes: ["gf128"], extensions: ["batch"], peer_clients: [], shares: [] };
    expect(HubStatusSchema.parse(status)).toEqual(status);
    expect(ErrorBodySchema.parse({ message: "m", details: [{ a: 1 }] })).toEqual({ message: "m", details: [{ a: 1 }] });
  });
});
