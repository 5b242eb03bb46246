/**
 * ETSI GS QKD 014 validation through the router (no hubs needed: every case here is decided
 * before any hub is contacted; the hubs are never registered, so a valid key request gets 503).
 */
import express from "express";
import request from "supertest";
import type { PsrdStore } from "@dske/psrd";
import type { ClientMgmtStatus, EtsiErrorBody, EtsiStatus } from "@dske/protocol";
import { Client } from "../src/client";
import { createClientRouter } from "../src/http/router";
import { OPERATOR_AUTH, TEST_OPERATOR_TOKEN } from "./harness";
import { parseEncKeysBody, saeIdFromAuthorization, DEFAULT_ETSI_LIMITS } from "../src/etsi";
import { KmeError } from "../src/errors";

const unusedStore: PsrdStore = {
  openPool: () => Promise.reject(new Error("not used")),
  deletePool: () => Promise.reject(new Error("not used")),
  listPools: () => Promise.resolve([]),
  close: () => Promise.resolve(),
};

let client: Client;
let app: express.Express;

beforeAll(async () => {
  client = await Client.create({
    name: "carol",
    encryptors: ["sam", "sue"],
    hubs: ["http://127.0.0.1:9/hub/hank", "http://127.0.0.1:9/hub/helen", "http://127.0.0.1:9/hub/hilary"],
    psrdStore: unusedStore,
    kmeDirectory: { sam: "carol", sue: "carol", sunny: "curtis", serena: "celia" },
  });
  app = express();
  app.use(createClientRouter({ client, operatorToken: TEST_OPERATOR_TOKEN }));
});

afterAll(async () => {
  await client.stop();
});

const PREFIXES = ["/api/v1/keys", "/client/carol/etsi/api/v1/keys"];

function expectError(res: request.Response, status: number, message?: RegExp): void {
  expect(res.status).toBe(status);
  const body = res.body as { message?: unknown; details?: unknown }; // checked below
  expect(typeof body.message).toBe("string");
  if (message) expect(body.message).toMatch(message);
  if (body.details !== undefined) {
    expect(Array.isArray(body.details)).toBe(true);
    for (const d of body.details as unknown[]) expect(typeof d).toBe("object");
  }
}

describe.each(PREFIXES)("ETSI validation under %s", (prefix) => {
  const url = (p: string) => `${prefix}${p}`;

  test("missing Authorization → 401", async () => {
    for (const req of [
      request(app).get(url("/sunny/status")),
      request(app).get(url("/sunny/enc_keys")),
      request(app).post(url("/sunny/enc_keys")).send({}),
      request(app).get(url("/sam/dec_keys?key_ID=abc")),
      request(app)
        .post(url("/sam/dec_keys"))
        .send({ key_IDs: [{ key_ID: "abc" }] }),
    ]) {
      expectError(await req, 401, /Authorization/);
    }
  });

  test("caller that is not an encryptor of this KME → 401", async () => {
    expectError(await request(app).get(url("/sunny/status")).set("Authorization", "mallory"), 401, /not an encryptor/);
    expectError(await request(app).get(url("/sunny/enc_keys")).set("Authorization", "sunny"), 401);
    expectError(
      await request(app)
        .post(url("/sam/dec_keys"))
        .set("Authorization", "serena")
        .send({ key_IDs: [{ key_ID: "k1" }] }),
      401,
    );
  });

  test("bad SAE IDs → 400", async () => {
    // control character in the path
    expectError(await request(app).get(url("/sun%01ny/enc_keys")).set("Authorization", "sam"), 400, /slave_SAE_ID/);
    // slave = master
    expectError(await request(app).get(url("/sam/enc_keys")).set("Authorization", "sam"), 400, /differ/);
    // unknown slave (not in the KME directory)
    expectError(await request(app).get(url("/nobody/enc_keys")).set("Authorization", "sam"), 400, /unknown slave_SAE_ID/);
    expectError(await request(app).get(url("/nobody/status")).set("Authorization", "sam"), 400);
    // additional slaves: unknown, duplicate, the master itself, malformed
    for (const additional of [["nobody"], ["serena", "serena"], ["sunny"], ["sam"], [""], [7]]) {
      const res = await request(app)
        .post(url("/sunny/enc_keys"))
        .set("Authorization", "sam")
        .send({ additional_slave_SAE_IDs: additional });
      expectError(res, 400);
    }
    // Bearer form is accepted (gets past identity, fails on the unknown slave)
    expectError(await request(app).get(url("/nobody/enc_keys")).set("Authorization", "Bearer sam"), 400, /unknown/);
    // dec_keys: master = caller
    expectError(await request(app).get(url("/sam/dec_keys?key_ID=k1")).set("Authorization", "sam"), 400);
  });

  test("size not a multiple of 8 → 400 (GET and POST)", async () => {
    expectError(await request(app).get(url("/sunny/enc_keys?size=130")).set("Authorization", "sam"), 400, /multiple of 8/);
    expectError(await request(app).post(url("/sunny/enc_keys")).set("Authorization", "sam").send({ size: 129 }), 400, /multiple of 8/);
  });

  test("size out of range → 400 naming the limits", async () => {
    for (const size of [8, 24, 65544, 1 << 24]) {
      const res = await request(app)
        .get(url(`/sunny/enc_keys?size=${size}`))
        .set("Authorization", "sam");
      expectError(res, 400, /min_key_size.*max_key_size/);
    }
    expectError(await request(app).post(url("/sunny/enc_keys")).set("Authorization", "sam").send({ size: 0 }), 400);
    expectError(await request(app).post(url("/sunny/enc_keys")).set("Authorization", "sam").send({ size: -256 }), 400);
  });

  test("number above max, zero, or not an integer → 400", async () => {
    const max = client.limits.maxKeyPerRequest;
    expectError(
      await request(app)
        .get(url(`/sunny/enc_keys?number=${max + 1}`))
        .set("Authorization", "sam"),
      400,
      /max_key_per_request/,
    );
    expectError(
      await request(app)
        .post(url("/sunny/enc_keys"))
        .set("Authorization", "sam")
        .send({ number: max + 1 }),
      400,
      /max_key_per_request/,
    );
    expectError(await request(app).get(url("/sunny/enc_keys?number=0")).set("Authorization", "sam"), 400);
    expectError(await request(app).get(url("/sunny/enc_keys?number=two")).set("Authorization", "sam"), 400);
    expectError(await request(app).post(url("/sunny/enc_keys")).set("Authorization", "sam").send({ number: 1.5 }), 400);
    expectError(await request(app).post(url("/sunny/enc_keys")).set("Authorization", "sam").send({ number: "3" }), 400);
  });

  test("GET enc_keys with parameters other than number and size → 400", async () => {
    expectError(
      await request(app).get(url("/sunny/enc_keys?number=1&additional_slave_SAE_IDs=serena")).set("Authorization", "sam"),
      400,
      /number and size/,
    );
    expectError(await request(app).get(url("/sunny/enc_keys?size=128&size=256")).set("Authorization", "sam"), 400);
  });

  test("malformed JSON → 400 with message and details", async () => {
    for (const path of ["/sunny/enc_keys", "/sam/dec_keys"]) {
      const res = await request(app)
        .post(url(path))
        .set("Authorization", path.includes("dec") ? "sue" : "sam")
        .set("Content-Type", "application/json")
        .send('{"number": 1,');
      expectError(res, 400, /malformed JSON/);
      expect((res.body as EtsiErrorBody).details?.length).toBeGreaterThan(0);
    }
    // a JSON body of the wrong shape
    const res = await request(app).post(url("/sunny/enc_keys")).set("Authorization", "sam").send([1, 2]);
    expectError(res, 400, /bad request format/);
  });

  test("unsupported extension_mandatory → 400 naming it; extension_optional is ignored", async () => {
    const res = await request(app)
      .post(url("/sunny/enc_keys"))
      .set("Authorization", "sam")
      .send({ extension_mandatory: [{ abc_route_type: "direct" }, { abc_transfer_method: "qkd" }] });
    expectError(res, 400, /not all extension_mandatory parameters are supported/);
    const details = (res.body as EtsiErrorBody).details;
    expect(JSON.stringify(details)).toContain("abc_route_type");
    expect(JSON.stringify(details)).toContain("abc_transfer_method");
    // optional extensions do not fail validation: the request reaches the hubs (none registered → 503)
    const ok = await request(app)
      .post(url("/sunny/enc_keys"))
      .set("Authorization", "sam")
      .send({ extension_optional: [{ abc_whatever: 1 }] });
    expectError(ok, 503, /only 0 of 3 hubs acknowledged, 3 needed: hank: not registered/);
  });

  test("dec_keys request shape errors → 400", async () => {
    const as = (r: request.Test) => r.set("Authorization", "sue");
    expectError(await as(request(app).get(url("/sam/dec_keys"))), 400, /key_ID is required/);
    expectError(await as(request(app).get(url("/sam/dec_keys?key_ID=a&key_ID=b"))), 400, /exactly one key_ID/);
    expectError(await as(request(app).get(url("/sam/dec_keys?key_ID=a&number=1"))), 400);
    expectError(await as(request(app).get(url("/sam/dec_keys?key_ID=bad%20id"))), 400, /invalid key_ID/);
    expectError(await as(request(app).post(url("/sam/dec_keys")).send({ key_IDs: [] })), 400);
    expectError(
      await as(
        request(app)
          .post(url("/sam/dec_keys"))
          .send({ key_IDs: [{ key_ID: 5 }] }),
      ),
      400,
    );
    expectError(
      await as(
        request(app)
          .post(url("/sam/dec_keys"))
          .send({ key_IDs: [{ key_ID: "a" }, { key_ID: "a" }] }),
      ),
      400,
      /duplicate/,
    );
    expectError(await as(request(app).post(url("/sam/dec_keys")).send({})), 400);
    expectError(await as(request(app).post(url("/sam/dec_keys"))), 400, /JSON body is required/);
  });

  test("a key ID that is not ours (no pad-length digit) → 400 not found", async () => {
    const res = await request(app).get(url("/sam/dec_keys?key_ID=not-a-uuid_x")).set("Authorization", "sue");
    expectError(res, 400, /one or more keys specified are not found on KME/);
  });

  test("status: standard field names and casing, truthful invariants", async () => {
    const res = await request(app).get(url("/sunny/status")).set("Authorization", "sam");
    expect(res.status).toBe(200);
    const body = res.body as EtsiStatus;
    expect(Object.keys(body).sort()).toEqual(
      [
        "source_KME_ID",
        "target_KME_ID",
        "master_SAE_ID",
        "slave_SAE_ID",
        "key_size",
        "stored_key_count",
        "max_key_count",
        "max_key_per_request",
        "max_key_size",
        "min_key_size",
        "max_SAE_ID_count",
      ].sort(),
    );
    expect(res.body).toMatchObject({
      source_KME_ID: "carol",
      target_KME_ID: "curtis",
      master_SAE_ID: "sam",
      slave_SAE_ID: "sunny",
      key_size: DEFAULT_ETSI_LIMITS.defaultKeySize,
      stored_key_count: 0, // no hub registered: no PSRD
      max_key_per_request: DEFAULT_ETSI_LIMITS.maxKeyPerRequest,
      min_key_size: DEFAULT_ETSI_LIMITS.minKeySize,
      max_key_size: DEFAULT_ETSI_LIMITS.maxKeySize,
      max_SAE_ID_count: DEFAULT_ETSI_LIMITS.maxSaeIdCount,
    });
    expect(body.min_key_size).toBeLessThanOrEqual(body.key_size);
    expect(body.key_size).toBeLessThanOrEqual(body.max_key_size);
    expect(body.stored_key_count).toBeLessThanOrEqual(body.max_key_count);
  });

  test("unknown ETSI endpoint → 400", async () => {
    expectError(await request(app).get(url("/sunny/keys")).set("Authorization", "sam"), 400, /unknown ETSI endpoint/);
  });
});

describe("ETSI parsing helpers", () => {
  test("Authorization header forms", () => {
    expect(saeIdFromAuthorization("sam")).toBe("sam");
    expect(saeIdFromAuthorization("Bearer sam")).toBe("sam");
    expect(saeIdFromAuthorization("bearer   sam ")).toBe("sam");
    expect(saeIdFromAuthorization("")).toBeUndefined();
    expect(saeIdFromAuthorization("Bearer ")).toBeUndefined();
    expect(saeIdFromAuthorization(undefined)).toBeUndefined();
  });

  test("POST key request defaults and errors are invalid-request KmeErrors with details", () => {
    expect(parseEncKeysBody({}, DEFAULT_ETSI_LIMITS)).toEqual({ number: 1, size: 256, additionalSlaves: [] });
    expect(parseEncKeysBody({ number: 3, size: 128, unknown_member: true }, DEFAULT_ETSI_LIMITS)).toEqual({
      number: 3,
      size: 128,
      additionalSlaves: [],
    });
    try {
      parseEncKeysBody({ size: "256" }, DEFAULT_ETSI_LIMITS);
      throw new Error("expected a failure");
    } catch (err) {
      expect(err).toBeInstanceOf(KmeError);
      expect((err as KmeError).kind).toBe("invalid-request");
      expect((err as KmeError).details?.[0]).toMatchObject({ parameter: "size" });
    }
  });

  test("mgmt status names the hubs and never carries bytes", async () => {
    const res = await request(app).get("/client/carol/mgmt/v1/status").set(OPERATOR_AUTH);
    expect(res.status).toBe(200);
    const body = res.body as ClientMgmtStatus;
    expect(body.name).toBe("carol");
    expect(body.peer_hubs.map((h) => h.hub_name)).toEqual(["hank", "helen", "hilary"]);
    expect(body.peer_hubs[0].registered).toBe(false);
  });
});
