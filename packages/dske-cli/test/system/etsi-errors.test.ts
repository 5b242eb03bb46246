/**
 * System: every ETSI GS QKD 014 error case over HTTP against a running client: bad SAE IDs,
 * unknown or already delivered key IDs, wrong callers, bad sizes and numbers, malformed JSON,
 * unsupported mandatory extensions. Errors are 400/401/503 with {message, details?}.
 */
import { randomUUID } from "node:crypto";
import { eventually, runningTopology, SYSTEM_TIMEOUT, type EtsiKey } from "./harness";

jest.setTimeout(SYSTEM_TIMEOUT);

let limits: { max_key_size: number; min_key_size: number; max_key_per_request: number; max_SAE_ID_count: number; key_size: number };
const t = runningTopology(
  18400,
  {},
  {
    afterStart: async (top) => {
      const s = await top.http.get(top.etsiUrl(top.node("carol"), "sunny", "status"), { headers: { Authorization: "sam" } });
      limits = s.data as typeof limits;
    },
  },
);
const carol = () => t.node("carol");
const curtis = () => t.node("curtis");

/** An ETSI error: the status, and the {message, details?} body shape. */
function expectError(res: { status: number; data: unknown }, status: number, message?: RegExp): string {
  expect({ status: res.status, body: res.data }).toMatchObject({ status });
  // A 401 may come without a body.
  const body = res.data as { message?: unknown; details?: unknown } | null | undefined;
  if (status !== 401 || body) {
    expect(typeof body?.message).toBe("string");
    if (body?.details !== undefined) expect(Array.isArray(body.details)).toBe(true);
  }
  if (message) expect(String(body?.message) + JSON.stringify(body?.details ?? "")).toMatch(message);
  return String(body?.message);
}

const enc = (slave: string, body: unknown, sae = "sam") =>
  t.http.post(t.etsiUrl(carol(), slave, "enc_keys"), body, { headers: { Authorization: sae } });
const encGet = (slave: string, params: Record<string, string>, sae = "sam") =>
  t.http.get(t.etsiUrl(carol(), slave, "enc_keys"), { params, headers: { Authorization: sae } });
const decGet = (master: string, keyId: string, sae: string, kme = curtis()) =>
  t.http.get(t.etsiUrl(kme, master, "dec_keys"), { params: { key_ID: keyId }, headers: { Authorization: sae } });
const decPost = (master: string, body: unknown, sae: string, kme = curtis()) =>
  t.http.post(t.etsiUrl(kme, master, "dec_keys"), body, { headers: { Authorization: sae } });

async function newKey(): Promise<EtsiKey> {
  const r = await encGet("sunny", {});
  expect(r.status).toBe(200);
  return (r.data as { keys: EtsiKey[] }).keys[0];
}

describe("calling SAE identity", () => {
  it("no Authorization header: 401", async () => {
    const r = await t.http.get(t.etsiUrl(carol(), "sunny", "enc_keys"));
    expect(r.status).toBe(401);
  });

  it("an SAE that this KME does not serve: 401", async () => {
    expectError(await encGet("sunny", {}, "serena"), 401);
    expectError(await t.http.get(t.etsiUrl(carol(), "sunny", "status"), { headers: { Authorization: "nobody" } }), 401);
  });

  it("Authorization: Bearer <sae> is accepted too", async () => {
    const r = await t.http.get(t.etsiUrl(carol(), "sunny", "status"), { headers: { Authorization: "Bearer sam" } });
    expect(r.status).toBe(200);
  });
});

describe("bad SAE IDs", () => {
  it("unknown slave SAE in Get key and Get status: 400", async () => {
    expectError(await encGet("nobody", {}), 400, /nobody/);
    expectError(await t.http.get(t.etsiUrl(carol(), "nobody", "status"), { headers: { Authorization: "sam" } }), 400, /nobody/);
  });

  it("unknown additional slave SAE: 400", async () => {
    expectError(await enc("sunny", { additional_slave_SAE_IDs: ["ghost"] }), 400, /ghost/);
  });

  it("more additional slaves than max_SAE_ID_count: 400", async () => {
    const many = Array.from({ length: limits.max_SAE_ID_count + 1 }, () => "serena");
    expectError(await enc("sunny", { additional_slave_SAE_IDs: many }), 400);
  });

  it("dec_keys naming the wrong master SAE: 400 or 401, and no key", async () => {
    const key = await newKey();
    const r = await decGet("serena", key.key_ID, "sunny");
    expect([400, 401]).toContain(r.status);
    expect(JSON.stringify(r.data)).not.toContain(key.key);
    // The right call still works afterwards.
    const ok = await decGet("sam", key.key_ID, "sunny");
    expect(ok.status).toBe(200);
    expect((ok.data as { keys: EtsiKey[] }).keys[0]).toEqual(key);
  });
});

describe("key IDs", () => {
  it("unknown key_ID: 400", async () => {
    expectError(await decGet("sam", randomUUID(), "sunny"), 400);
    expectError(await decPost("sam", { key_IDs: [{ key_ID: randomUUID() }] }, "sunny"), 400);
  });

  it("a key_ID that is not a UUID: 400", async () => {
    expectError(await decGet("sam", "not-a-uuid", "sunny"), 400);
  });

  it("already delivered key_ID: 400, and its key is not repeated", async () => {
    const key = await newKey();
    expect((await decGet("sam", key.key_ID, "sunny")).status).toBe(200);
    const again = await decGet("sam", key.key_ID, "sunny");
    expectError(again, 400);
    expect(JSON.stringify(again.data)).not.toContain(key.key);
  });

  it("a key asked for by an SAE that is not its slave: 401, and it learns nothing", async () => {
    const key = await newKey();
    // susan is on the same KME as sunny; sofia on another one.
    const susan = await decGet("sam", key.key_ID, "susan");
    expectError(susan, 401);
    expect(JSON.stringify(susan.data)).not.toContain(key.key);
    const sofia = await decGet("sam", key.key_ID, "sofia", t.node("connie"));
    expect([400, 401]).toContain(sofia.status);
    expect(JSON.stringify(sofia.data)).not.toContain(key.key);
    // The intended slave still gets it.
    expect((await decGet("sam", key.key_ID, "sunny")).status).toBe(200);
  });

  it("a unicast key its KME already delivered to another of its SAEs: 401 also after every hub dropped its shares", async () => {
    const key = await newKey();
    expect((await decGet("sam", key.key_ID, "sunny")).status).toBe(200);
    // curtis's acknowledgements reach the hubs (its flush timer): then no hub knows the key.
    await eventually(`no hub holds a share of ${key.key_ID}`, async () => {
      for (const h of t.topology.hubs) {
        const shares = (await t.status(h.name)).shares as { key_id: string }[];
        if (shares.some((s) => s.key_id === key.key_ID)) return false;
      }
      return true;
    });
    // susan is on the same KME as sunny: not "not found" (400) but "not yours" (401).
    const susan = await decGet("sam", key.key_ID, "susan");
    expectError(susan, 401);
    expect(JSON.stringify(susan.data)).not.toContain(key.key);
  });

  it("empty key_IDs or a missing key_ID query: 400", async () => {
    expectError(await decPost("sam", { key_IDs: [] }, "sunny"), 400);
    expectError(await t.http.get(t.etsiUrl(curtis(), "sam", "dec_keys"), { headers: { Authorization: "sunny" } }), 400);
  });
});

describe("size and number", () => {
  it("size not a multiple of 8: 400", async () => {
    expectError(await encGet("sunny", { size: "100" }), 400, /multiple of 8/);
    expectError(await enc("sunny", { size: 257 }), 400, /multiple of 8/);
  });

  it("size out of range: 400", async () => {
    expectError(await enc("sunny", { size: limits.max_key_size + 8 }), 400);
    expectError(await enc("sunny", { size: 0 }), 400);
    expectError(await enc("sunny", { size: -256 }), 400);
    if (limits.min_key_size > 8) expectError(await enc("sunny", { size: limits.min_key_size - 8 }), 400);
    expectError(await encGet("sunny", { size: "big" }), 400);
  });

  it("the limits themselves are accepted", async () => {
    const r = await enc("sunny", { size: limits.min_key_size });
    expect(r.status).toBe(200);
    expect(Buffer.from((r.data as { keys: EtsiKey[] }).keys[0].key, "base64")).toHaveLength(limits.min_key_size / 8);
  });

  it("number above max_key_per_request, zero or negative: 400", async () => {
    expectError(await enc("sunny", { number: limits.max_key_per_request + 1 }), 400);
    expectError(await encGet("sunny", { number: String(limits.max_key_per_request + 1) }), 400);
    expectError(await enc("sunny", { number: 0 }), 400);
    expectError(await enc("sunny", { number: -1 }), 400);
    expectError(await enc("sunny", { number: 1.5 }), 400);
  });
});

describe("request bodies", () => {
  it("malformed JSON: 400", async () => {
    const headers = { Authorization: "sam", "Content-Type": "application/json" };
    expectError(await t.http.post(t.etsiUrl(carol(), "sunny", "enc_keys"), '{"number": 1,', { headers }), 400);
    expectError(
      await t.http.post(t.etsiUrl(curtis(), "sam", "dec_keys"), "{key_IDs: [}", {
        headers: { Authorization: "sunny", "Content-Type": "application/json" },
      }),
      400,
    );
  });

  it("wrong types in the body: 400", async () => {
    expectError(await enc("sunny", { number: "many" }), 400);
    expectError(await decPost("sam", { key_IDs: "abc" }, "sunny"), 400);
  });

  it("unsupported mandatory extension: 400 naming it", async () => {
    const r = await enc("sunny", { extension_mandatory: [{ abc_route_type: "direct" }] });
    expectError(r, 400, /abc_route_type/);
  });

  it("optional extensions are ignored: 200", async () => {
    const r = await enc("sunny", { extension_optional: [{ abc_max_age: 30 }] });
    expect(r.status).toBe(200);
    expect((r.data as { keys: EtsiKey[] }).keys).toHaveLength(1);
  });
});

describe("the standard root path /api/v1/keys", () => {
  it("serves the same API (status, enc_keys, dec_keys)", async () => {
    const base = `http://127.0.0.1:${carol().port}/api/v1/keys`;
    const s = await t.http.get(`${base}/sunny/status`, { headers: { Authorization: "sam" } });
    expect(s.status).toBe(200);
    expect((s.data as { source_KME_ID: string }).source_KME_ID).toBe("carol");
    const e = await t.http.get(`${base}/sunny/enc_keys`, { headers: { Authorization: "sam" } });
    expect(e.status).toBe(200);
    const key = (e.data as { keys: EtsiKey[] }).keys[0];
    const d = await t.http.get(`http://127.0.0.1:${curtis().port}/api/v1/keys/sam/dec_keys`, {
      params: { key_ID: key.key_ID },
      headers: { Authorization: "sunny" },
    });
    expect(d.status).toBe(200);
    expect((d.data as { keys: EtsiKey[] }).keys[0]).toEqual(key);
  });
});
