/**
 * Observability of the client: OpenAPI document (valid 3.1, same routes as the router, every
 * documented route served), metrics that move with a key pair, request IDs and log lines.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import express from "express";
import request from "supertest";
import { validate } from "@readme/openapi-parser";
import { listRouterRoutes, servedOperations } from "@dske/server";
import type { PsrdStore } from "@dske/psrd";
import { Client } from "../src/client";
import { clientMounts, clientOpenApi } from "../src/http/routes";
import { ClientMgmtStatusSchema } from "@dske/protocol";
import { createClientRouter } from "../src/http/router";
import { parseClientArgs, startClientServer } from "../src/bin/standalone";
import type { Logger, LogFields } from "../src/logger";
import { OPERATOR_AUTH, TEST_OPERATOR_TOKEN, startNetwork, type TestClient, type TestNetwork } from "./harness";
import { defined } from "./defined";

const unusedStore: PsrdStore = {
  openPool: () => Promise.reject(new Error("not used")),
  deletePool: () => Promise.reject(new Error("not used")),
  listPools: () => Promise.resolve([]),
  close: () => Promise.resolve(),
};

function operations(doc: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(doc.paths)
    .flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`))
    .sort();
}

function routerOperations(router: { stack?: unknown }): string[] {
  return listRouterRoutes(router)
    .filter((r) => !r.path.includes("/docs/assets/"))
    .map((r) => `${r.method.toUpperCase()} ${r.path}`)
    .sort();
}

/** Sum of a metric's samples whose labels include `labels`. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split("\n")) {
    const m = /^([^{ ]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const kv of (m.at(2) ?? "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) have[kv[1]] = kv[2];
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total = (total ?? 0) + Number(m[3]);
  }
  return total;
}

describe("OpenAPI document", () => {
  let client: Client;
  beforeAll(async () => {
    client = await Client.create({
      name: "carol",
      encryptors: ["sam"],
      hubs: ["http://127.0.0.1:9/hub/hank", "http://127.0.0.1:9/hub/helen"],
      minNrShares: 2,
      psrdStore: unusedStore,
      kmeDirectory: { sam: "carol", sunny: "curtis" },
    });
  });
  afterAll(() => client.stop());

  test("is a valid OpenAPI 3.1 document in every variant", async () => {
    for (const doc of [
      clientOpenApi("carol"),
      clientOpenApi("carol", { standardRoot: false }),
      clientOpenApi("carol", { rootAliases: true, metrics: false }),
    ]) {
      const result = await validate(structuredClone(doc) as never);
      if (!result.valid) throw new Error(JSON.stringify(result.errors, null, 2));
      expect(result.valid).toBe(true);
    }
    const doc = clientOpenApi("carol");
    // Schemas come from etsi.ts (field names exactly as ETSI 014).
    const req = doc.components.schemas.KeyRequest as { properties: Record<string, unknown> };
    expect(Object.keys(req.properties)).toEqual(
      expect.arrayContaining(["number", "size", "additional_slave_SAE_IDs", "extension_mandatory", "extension_optional"]),
    );
    const post = doc.paths["/client/carol/etsi/api/v1/keys/{slave_SAE_ID}/enc_keys"].post as {
      security: unknown;
      parameters: { name: string; in: string }[];
    };
    expect(post.security).toEqual([{ saeAuthorization: [] }]);
    expect(post.parameters).toContainEqual(expect.objectContaining({ name: "slave_SAE_ID", in: "path" }));
    expect(doc.paths["/client/carol/etsi/api/v1/keys/{master_SAE_ID}/dec_keys"].get).toBeDefined();
    expect(doc.components.schemas.ClientStatus).toBeDefined();
  });

  test("the router serves exactly the mounted routes (with and without the standard root); each is documented once", () => {
    expect(routerOperations(createClientRouter({ client }))).toEqual(servedOperations(clientMounts("carol")));
    expect(routerOperations(createClientRouter({ client, standardRoot: false, metrics: false }))).toEqual(
      servedOperations(clientMounts("carol", { standardRoot: false, metrics: false })),
    );
    // Documented: ETSI (5, once: the standard root is an alias), management (status, stop,
    // psrd-bundles, psrd-needs, psrd-reset); served besides: the 5 aliases and 5 infrastructure endpoints.
    expect(operations(clientOpenApi("carol"))).toHaveLength(5 + 5);
    expect(servedOperations(clientMounts("carol"))).toHaveLength(5 * 2 + 5 + 5);
  });

  test("every mounted operation is served", async () => {
    const app = express();
    app.use(createClientRouter({ client, onStop: () => {} }));
    for (const op of servedOperations(clientMounts("carol"))) {
      const [method, template] = op.split(" ");
      const p = template.replace("{slave_SAE_ID}", "sunny").replace("{master_SAE_ID}", "sunny");
      const res = await request(app)[method.toLowerCase() as "get"](p).set("Authorization", "sam");
      const message = (res.body as { message?: string } | undefined)?.message ?? ""; // ETSI error bodies carry a string message
      expect([op, res.status, message]).not.toEqual([op, 404, expect.stringMatching(/^no such endpoint/)]);
      expect(message).not.toMatch(/unknown ETSI endpoint/);
    }
    const unknown = await request(app).get("/client/carol/nothing");
    expect(unknown.status).toBe(404);
  });

  test("the status schema describes the real status document", () => {
    const status = { ...client.mgmtStatus(), etsi_transport: "http", sae_authentication: "x" };
    const parsed = ClientMgmtStatusSchema.safeParse(status);
    if (!parsed.success) throw new Error(JSON.stringify(parsed.error.issues));
    // Every required field of the schema is in the real document (the schema is loose: the domain may add fields).
    const required = Object.entries(ClientMgmtStatusSchema.shape)
      .filter(([, s]) => !s.safeParse(undefined).success)
      .map(([k]) => k);
    expect(required.length).toBeGreaterThanOrEqual(6);
    for (const key of required) expect(Object.keys(status)).toContain(key);
  });
});

describe("metrics, request IDs and request log lines in a network (3 hubs, k = 2)", () => {
  let net: TestNetwork;
  let carol: TestClient;
  let curtis: TestClient;

  beforeAll(async () => {
    net = await startNetwork({ hubs: ["hank", "helen", "hilary"], k: 2, carolSaes: ["sam"] });
    ({ carol, curtis } = net);
  });
  afterAll(() => (net as TestNetwork | undefined)?.close()); // unset when beforeAll failed

  const scrape = async (c: TestClient, name: string) => {
    const res = await fetch(`http://127.0.0.1:${c.port}/client/${name}/metrics`, { headers: OPERATOR_AUTH });
    expect(res.status).toBe(200);
    return res.text();
  };

  test("a key pair moves keys, PSRD, request and auth-failure figures on both sides", async () => {
    const m0 = await scrape(carol, "carol");
    const s0 = await scrape(curtis, "curtis");
    const avail0 = defined(metric(m0, "dske_psrd_available_bytes", { peer: "hank", pool: "client_owned" }));
    const used0 = defined(metric(m0, "dske_psrd_consumed_bytes_total", { pool: "client_owned" }));
    expect(avail0).toBeGreaterThan(0);
    expect(metric(m0, "dske_client_hub_registered")).toBe(3);
    expect(metric(m0, "dske_keys_established_total")).toBeUndefined();

    const keys = await carol.etsi("sam").getKeys("sunny", { number: 3 });
    expect(keys.keys).toHaveLength(3);
    const got = await curtis.etsi("sunny").getKeysWithKeyIds(
      "sam",
      keys.keys.map((k) => k.key_ID),
    );
    expect(got.keys.map((k) => k.key)).toEqual(keys.keys.map((k) => k.key));

    // susan is not an intended slave: refused (401), counted as an auth failure only (no key series).
    await expect(curtis.etsi("susan").getKeysWithKeyIds("sam", [keys.keys[0].key_ID])).rejects.toThrow();
    // No SAE identity at all: an auth failure.
    expect((await fetch(`http://127.0.0.1:${carol.port}/api/v1/keys/sunny/status`)).status).toBe(401);

    const m1 = await scrape(carol, "carol");
    const s1 = await scrape(curtis, "curtis");
    expect(metric(m1, "dske_keys_established_total", { master_sae: "sam", slave_sae: "sunny" })).toBe(3);
    expect(metric(s1, "dske_keys_established_total")).toBeUndefined(); // counted once, at the master's KME
    expect(metric(s1, "dske_keys_delivered_total", { master_sae: "sam", slave_sae: "sunny" })).toBe(3);
    expect(metric(m1, "dske_keys_delivered_total")).toBeUndefined();
    expect(metric(s1, "dske_keys_failed_total")).toBeUndefined();
    expect(metric(s1, "dske_auth_failures_total", { reason: "etsi_unauthorized" })).toBe(1);
    expect(metric(m1, "dske_auth_failures_total", { reason: "etsi_unauthorized" })).toBe(1);
    expect(defined(metric(m1, "dske_psrd_consumed_bytes_total", { pool: "client_owned" }))).toBeGreaterThan(used0);
    expect(defined(metric(s1, "dske_psrd_consumed_bytes_total", { pool: "hub_owned" }))).toBeGreaterThan(
      defined(metric(s0, "dske_psrd_consumed_bytes_total", { pool: "hub_owned" })),
    );
    expect(metric(m1, "dske_http_requests_total", { route: "getKeyPost", status: "200" })).toBe(1);
    expect(metric(s1, "dske_http_requests_total", { route: "getKeyWithKeyIdsPost", status: "200" })).toBe(1);
    expect(metric(m1, "dske_http_request_duration_seconds_count", { route: "getKeyPost" })).toBe(1);
    expect(metric(m1, "dske_client_keys", { state: "issued" })).toBeGreaterThanOrEqual(0);
    expect(m1).toMatch(/^dske_build_info\{version="\d+\.\d+\.\d+[^"]*",kind="client"\} 1$/m);
    expect(m1).not.toMatch(/[{,]node="|[{,]kind="client",/); // no constant labels beside build_info's
  });

  /** Every series (name and labels) of a scrape. */
  const series = (text: string): string[] =>
    text
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => l.slice(0, l.lastIndexOf(" ")))
      .sort();
  const added = (before: string, after: string): string[] => {
    const had = new Set(series(before));
    return series(after).filter((s) => !had.has(s));
  };
  const etsi = (port: number, sae: string, p: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${port}/api/v1/keys/${p}`, { ...init, headers: { Authorization: sae, "Content-Type": "application/json" } });
  const decBody = JSON.stringify({ key_IDs: [{ key_ID: "5b0e4c8a-aaaa-4bbb-8ccc-000000000001" }] });

  test("unauthenticated callers (401) add no series at all; they are counted by reason", async () => {
    const m0 = await scrape(carol, "carol");
    const s0 = await scrape(curtis, "curtis");
    const refused0 = defined(metric(m0, "dske_auth_failures_total", { reason: "etsi_unauthorized" }));
    for (let i = 0; i < 20; i++) {
      // enc_keys and status by a caller that is no encryptor of carol; dec_keys by one that is none of curtis'
      expect((await etsi(carol.port, `nobody-${i}`, "sunny/enc_keys")).status).toBe(401);
      expect((await etsi(carol.port, `nobody-${i}`, `junk-${i}/enc_keys`, { method: "POST", body: "{}" })).status).toBe(401);
      expect((await etsi(curtis.port, `nobody-${i}`, "sam/dec_keys", { method: "POST", body: decBody })).status).toBe(401);
      // the metrics without the operator token
      expect((await fetch(`http://127.0.0.1:${carol.port}/client/carol/metrics`)).status).toBe(401);
    }
    const m1 = await scrape(carol, "carol");
    const s1 = await scrape(curtis, "curtis");
    expect(added(m0, m1)).toEqual([]);
    expect(added(s0, s1)).toEqual([]);
    expect(metric(m1, "dske_auth_failures_total", { reason: "etsi_unauthorized" })).toBe(refused0 + 40);
    expect(metric(m1, "dske_auth_failures_total", { reason: "operator_credential_missing" })).toBe(
      defined(metric(m0, "dske_auth_failures_total", { reason: "operator_credential_missing" })) + 20,
    );
    for (const text of [m1, s1]) expect(text).not.toMatch(/junk-|nobody-/);
  });

  test("twenty made-up SAE names create no new series beyond `other`", async () => {
    const round = async (i: number) => {
      // enc_keys for a made-up slave SAE (400) and dec_keys from a made-up master SAE (400)
      expect((await etsi(carol.port, "sam", `junk-${i}/enc_keys`)).status).toBe(400);
      expect((await etsi(curtis.port, "sunny", `junk-${i}/dec_keys`, { method: "POST", body: decBody })).status).toBe(400);
      // an unusual HTTP method
      await fetch(`http://127.0.0.1:${carol.port}/api/v1/keys/sunny/status`, { method: "PROPFIND", headers: { Authorization: "sam" } });
    };
    const before = await scrape(carol, "carol");
    await round(0);
    const m0 = await scrape(carol, "carol");
    const s0 = await scrape(curtis, "curtis");
    // The first made-up name adds only `other` series (and the request counts of the 400 answers).
    const keySeries = added(before, m0).filter((s) => s.startsWith("dske_keys_"));
    expect(keySeries).toEqual(['dske_keys_failed_total{master_sae="sam",slave_sae="other",role="master"}']);
    for (let i = 1; i <= 20; i++) await round(i);
    const m1 = await scrape(carol, "carol");
    const s1 = await scrape(curtis, "curtis");
    expect(added(m0, m1)).toEqual([]);
    expect(added(s0, s1)).toEqual([]);
    for (const text of [m1, s1]) expect(text).not.toMatch(/junk-|nobody-|PROPFIND/);
    expect(metric(m1, "dske_keys_failed_total", { master_sae: "sam", slave_sae: "other", role: "master" })).toBe(21);
    expect(metric(s1, "dske_keys_failed_total", { master_sae: "other", slave_sae: "sunny", role: "slave" })).toBe(21);
    expect(metric(m1, "dske_http_requests_total", { method: "other" })).toBe(21);
  });
});

describe("request IDs and log lines", () => {
  test("X-Request-ID is echoed (or generated) and every request line carries it", async () => {
    const lines: { message: string; fields?: LogFields; debug?: boolean }[] = [];
    const logger: Logger = {
      info: (message, fields) => void lines.push({ message, fields }),
      warn: (message, fields) => void lines.push({ message, fields }),
      error: (message, fields) => void lines.push({ message, fields }),
      debug: (message, fields) => void lines.push({ message, fields, debug: true }),
    };
    const client = await Client.create({
      name: "carol",
      encryptors: ["sam"],
      hubs: ["http://127.0.0.1:9/hub/hank"],
      minNrShares: 1,
      psrdStore: unusedStore,
      kmeDirectory: { sam: "carol", sunny: "curtis" },
    });
    try {
      const app = express();
      app.use(createClientRouter({ client, logger, operatorToken: TEST_OPERATOR_TOKEN }));
      const a = await request(app).get("/api/v1/keys/sunny/status").set("Authorization", "sam").set("X-Request-ID", "abc-123");
      expect(a.headers["x-request-id"]).toBe("abc-123");
      const b = await request(app).get("/client/carol/mgmt/v1/status").set(OPERATOR_AUTH).set("X-Request-ID", "no\u00e9good");
      expect(b.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
      const line = lines.find((l) => l.fields?.req_id === "abc-123");
      // One request line (the format of the hub's too): a short message, the facts as fields.
      expect(line?.message).toBe("request");
      expect(line?.fields).toMatchObject({ method: "GET", sae: "sam", path: "/api/v1/keys/sunny/status" });
      expect(line?.fields?.trace_id).toMatch(/^[0-9a-f]{32}$/);
      expect(typeof line?.fields?.duration_ms).toBe("number");
      expect(line?.debug).toBeUndefined();
      // Routine polling (a management status) is logged at debug.
      const poll = lines.find((l) => l.fields?.req_id === b.headers["x-request-id"]);
      expect(poll?.fields?.status).toBe(200);
      expect(poll?.debug).toBe(true);
      // The operator token (Authorization of a management request) is never logged as an SAE.
      expect(lines.find((l) => l.fields?.req_id === b.headers["x-request-id"])?.fields?.sae).toBe("-");
      const other = await request(app).get("/api/v1/keys/sunny/status").set("Authorization", "Bearer not-an-sae-of-this-topology");
      expect(lines.find((l) => l.fields?.req_id === other.headers["x-request-id"])?.fields?.sae).toBe("unknown");
      expect(JSON.stringify(lines)).not.toContain(TEST_OPERATOR_TOKEN);
      expect(JSON.stringify(lines)).not.toContain("not-an-sae-of-this-topology");
    } finally {
      await client.stop();
    }
  });
});

test("standalone: /openapi.json, /docs and /metrics at the app root too", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "dske-client-obs-"));
  try {
    const config = {
      ...(await parseClientArgs([
        "carol",
        "--port",
        "0",
        "--hubs",
        "http://127.0.0.1:9/hub/hank",
        "--min-nr-shares",
        "1",
        "--encryptors",
        "sam",
        "--state-dir",
        path.join(dir, "carol"),
      ])),
      operatorToken: TEST_OPERATOR_TOKEN,
    };
    const { silentLogger } = await import("../src/logger");
    const running = await startClientServer(config, { logger: silentLogger });
    try {
      const spec = await request(running.url).get("/openapi.json");
      expect(spec.status).toBe(200);
      expect((await validate(spec.body as never)).valid).toBe(true);
      const page = await request(running.url).get("/docs");
      expect(page.status).toBe(200);
      expect(page.text).toContain("/docs/assets/swagger-ui-bundle.js");
      expect((await request(running.url).get("/docs/assets/swagger-ui-bundle.js")).status).toBe(200);
      expect((await request(running.url).get("/metrics")).status).toBe(401); // the operator's only
      expect((await request(running.url).get("/health")).body).toEqual({ status: "ok" });
      const m = await request(running.url).get("/metrics").set(OPERATOR_AUTH);
      expect(metric(m.text, "dske_http_requests_total", { route: "getOpenApiDocument", status: "200" })).toBe(1);
      expect(m.text).not.toContain("process_cpu_user_seconds_total"); // processMetrics is off unless asked (the bin asks)
    } finally {
      await running.stop();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

describe("the shared operator guard (@dske/hub createOperatorGuard) as the client uses it", () => {
  const { createOperatorGuard, NodeMetrics } = jest.requireActual<typeof import("@dske/server")>("@dske/server");
  const call = (guard: express.RequestHandler, cn: string | undefined, authorization?: string) => {
    const req = {
      method: "GET",
      originalUrl: "/client/carol/metrics",
      socket: { authorized: cn !== undefined, getPeerCertificate: () => ({ subject: { CN: cn } }) },
      get: (h: string) => (h.toLowerCase() === "authorization" ? authorization : undefined),
    } as unknown as express.Request;
    const out: { status?: number; next: boolean } = { next: false };
    const res = {
      status(code: number) {
        out.status = code;
        return this;
      },
      json() {
        return this;
      },
    } as unknown as express.Response;
    guard(req, res, () => void (out.next = true));
    return out;
  };

  test("mTLS: operator certificate passes, SAE certificate 403, none 401; the token works too; refusals counted", async () => {
    const node = new NodeMetrics({ kind: "client", name: "carol" });
    const guard = createOperatorGuard({ operatorCn: "dske-operator", operatorToken: TEST_OPERATOR_TOKEN, metrics: node });
    expect(call(guard, "dske-operator")).toEqual({ next: true });
    expect(call(guard, "sam")).toEqual({ next: false, status: 403 });
    expect(call(guard, undefined)).toEqual({ next: false, status: 401 });
    expect(call(guard, "sam", `Bearer ${TEST_OPERATOR_TOKEN}`)).toEqual({ next: true });
    expect(call(guard, undefined, "Bearer wrong-token-wrong-token")).toEqual({ next: false, status: 403 });
    const text = (await node.text()).body;
    expect(metric(text, "dske_auth_failures_total", { reason: "operator_certificate_refused" })).toBe(1);
    expect(metric(text, "dske_auth_failures_total", { reason: "operator_credential_missing" })).toBe(1);
    expect(metric(text, "dske_auth_failures_total", { reason: "operator_token_refused" })).toBe(1);
  });

  test("plain HTTP without a token: management disabled (401), counted", async () => {
    const node = new NodeMetrics({ kind: "client", name: "carol" });
    const guard = createOperatorGuard({ metrics: node });
    expect(guard.enabled).toBe(false);
    expect(call(guard, undefined, `Bearer ${TEST_OPERATOR_TOKEN}`)).toEqual({ next: false, status: 401 });
    expect(metric((await node.text()).body, "dske_auth_failures_total", { reason: "operator_disabled" })).toBe(1);
  });
});
