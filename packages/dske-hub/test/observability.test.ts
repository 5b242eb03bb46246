/**
 * Observability of the hub: the OpenAPI document (valid 3.1, same routes as the router, every
 * documented route served), the docs page (self-contained), Prometheus metrics that move with
 * traffic, request IDs and structured log lines.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import request from "supertest";
import { validate } from "@readme/openapi-parser";
import { MemoryStore } from "@dske/psrd";
import { Hub } from "../src/hub";
import { HubApi, type IssueBundleResponse } from "@dske/protocol";
import { hubMounts, hubOpenApi } from "../src/http/routes";
import { createHubRouter } from "../src/http/router";
import { listRouterRoutes, servedOperations } from "@dske/server";
import { parseHubArgs, startHubServer } from "../src/bin/standalone";
import { destroyBundleFile, openBundle, readBundleFile } from "@dske/distributor";
import { bytes, clientMirror, defined, encryptShare, errorBody, decryptShare, installOpened, useTempDir } from "./helpers";

const TOKEN = "operator-token-for-observability-tests";
const AUTH = { Authorization: `Bearer ${TOKEN}` };

const KEY = "0f3c9a50-1111-4222-8333-444455556666";

/** Operations of a document as "METHOD path". */
function operations(doc: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(doc.paths)
    .flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`))
    .sort();
}

/** Scrape a metric value from Prometheus text (labels matched as a subset). */
function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    const m = /^([^{ ]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      (m.at(2) ?? "") // an optional group: undefined when the line has no labels
        .split(/,(?=[a-z_]+=)/)
        .filter(Boolean)
        .map((kv) => {
          const i = kv.indexOf("=");
          return [kv.slice(0, i), JSON.parse(kv.slice(i + 1)) as string];
        }),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total = (total ?? 0) + Number(m[3]);
  }
  return total;
}

/** Every series (name and labels) of a scrape. */
function series(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.slice(0, l.lastIndexOf(" ")))
    .sort();
}

async function listen(app: express.Express): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("OpenAPI document", () => {
  test("is a valid OpenAPI 3.1 document (also with the standalone's root aliases)", async () => {
    for (const doc of [hubOpenApi("hank"), hubOpenApi("hank", { rootAliases: true }), hubOpenApi("h-2", { metrics: false })]) {
      expect(doc.openapi).toBe("3.1.0");
      const result = await validate(structuredClone(doc) as never);
      if (!result.valid) throw new Error(JSON.stringify(result.errors, null, 2));
      expect(result.valid).toBe(true);
    }
    // The validator does reject a broken document (a dangling $ref).
    const broken = structuredClone(hubOpenApi("hank"));
    delete broken.components.schemas.ErrorBody;
    expect((await validate(broken as never)).valid).toBe(false);
  });

  test("is generated from the wire zod schemas (constraints and refs present)", () => {
    const doc = hubOpenApi("hank");
    const reg = doc.components.schemas.RegistrationRequest as { properties: Record<string, { pattern?: string }>; required: string[] };
    expect(reg.required).toEqual(["client_name"]); // encryptor_names has a default: optional on input
    expect(reg.properties.client_name.pattern).toBe("^[A-Za-z0-9][A-Za-z0-9_.-]*$");
    const post = doc.paths["/hub/hank/dske/api/v1/key-shares"].post as {
      requestBody: { content: Record<string, { schema: unknown }> };
      parameters: { name: string; in: string }[];
    };
    expect(post.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/PostKeySharesRequest" });
    expect(post.parameters).toContainEqual(expect.objectContaining({ name: "DSKE-Signature", in: "header" }));
    const psrd = doc.paths["/hub/hank/dske/oob/v1/psrd"].get as { parameters: { name: string; required: boolean; schema: unknown }[] };
    expect(psrd.parameters.map((p) => [p.name, p.required])).toEqual([
      ["client_name", true],
      ["pool_owner", true],
      ["size", true],
    ]);
    // A coerced query integer is documented as what it means: an integer with its bounds.
    expect(psrd.parameters.find((p) => p.name === "size")).toMatchObject({ schema: { type: "integer", minimum: 1 } });
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(["ErrorBody", "HubStatus", "FetchKeySharesResponse", "PsrdResponse", "GetKeyShareResponse"]),
    );
  });

  test("documents exactly the routes the router registers", async () => {
    const hub = await Hub.open({ name: "hank", store: new MemoryStore(), sweepIntervalMs: 0 });
    try {
      const router = createHubRouter({ hub, onError: () => {} });
      const registered = listRouterRoutes(router)
        .filter((r) => !r.path.includes("/docs/assets/")) // Swagger UI's static files
        .map((r) => `${r.method.toUpperCase()} ${r.path}`)
        .sort();
      expect(registered).toEqual(servedOperations(hubMounts("hank")));
      expect(registered).toContain("POST /hub/hank/dske/api/v1/key-shares/fetch");
      // Documented: every route but the infrastructure endpoints (openapi.json, docs, redoc, metrics, health).
      expect(operations(hubOpenApi("hank"))).toEqual(registered.filter((r) => !/\/(openapi\.json|docs|redoc|metrics|health)$/.test(r)));
      // Without metrics, /metrics is neither served nor documented.
      const bare = createHubRouter({ hub, metrics: false, onError: () => {} });
      const bareOps = listRouterRoutes(bare)
        .filter((r) => !r.path.includes("/docs/assets/"))
        .map((r) => `${r.method.toUpperCase()} ${r.path}`)
        .sort();
      expect(bareOps).toEqual(servedOperations(hubMounts("hank", { metrics: false })));
      expect(bareOps).not.toContain("GET /hub/hank/metrics");
    } finally {
      await hub.close();
    }
  });

  test("every mounted operation is served (no 'no such endpoint' 404)", async () => {
    const hub = await Hub.open({ name: "hank", store: new MemoryStore(), sweepIntervalMs: 0 });
    const app = express();
    app.use(createHubRouter({ hub, onError: () => {}, onStop: () => {}, operatorToken: TOKEN }));
    try {
      for (const op of servedOperations(hubMounts("hank"))) {
        const [method, p] = op.split(" ");
        if (p.endsWith("/mgmt/v1/stop")) continue; // answered, but would stop nothing here: checked below
        const res = await request(app)[method.toLowerCase() as "get"](p);
        const body = res.body as { message?: string } | undefined;
        expect([op, res.status, body?.message ?? ""]).not.toEqual([op, 404, expect.stringMatching(/^no such endpoint/)]);
        expect(res.status).not.toBe(500);
      }
      const stop = await request(app).post("/hub/hank/mgmt/v1/stop").set(AUTH).send({});
      expect(stop.status).toBe(200);
      // A path that is not documented is a JSON 404.
      const missing = await request(app).get("/hub/hank/dske/api/v1/nothing");
      expect(missing.status).toBe(404);
      expect(errorBody(missing).message).toMatch(/^no such endpoint/);
    } finally {
      await hub.close();
    }
  });
});

describe("docs page", () => {
  test("serves Swagger UI from vendored files only (no CDN)", async () => {
    const hub = await Hub.open({ name: "hank", store: new MemoryStore(), sweepIntervalMs: 0 });
    const app = express();
    app.use(createHubRouter({ hub, onError: () => {} }));
    try {
      const page = await request(app).get("/hub/hank/docs");
      expect(page.status).toBe(200);
      expect(page.headers["content-type"]).toMatch(/text\/html/);
      const refs = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
      expect(refs.length).toBeGreaterThanOrEqual(3);
      for (const ref of refs) {
        expect(ref.startsWith("/hub/hank/")).toBe(true); // same origin, nothing external
        const asset = await request(app).get(ref);
        expect([ref, asset.status]).toEqual([ref, 200]);
      }
      const init = await request(app).get("/hub/hank/docs/assets/dske-init.js");
      expect(init.text).toContain('"/hub/hank/openapi.json"');
      const spec = await request(app).get("/hub/hank/openapi.json");
      expect(spec.status).toBe(200);
      expect(spec.body).toEqual(JSON.parse(JSON.stringify(hubOpenApi("hank"))));
    } finally {
      await hub.close();
    }
  });
});

test("createObservabilityRouter mounts a node's document anywhere", async () => {
  const { createObservabilityRouter } = await import("@dske/server");
  const app = express();
  app.use(createObservabilityRouter({ prefix: "/ops/hank", title: "hank", document: () => hubOpenApi("hank") }));
  const spec = await request(app).get("/ops/hank/openapi.json");
  expect(spec.status).toBe(200);
  expect((spec.body as { info: { title: string } }).info.title).toBe("DSKE security hub hank");
  const page = await request(app).get("/ops/hank/docs");
  expect(page.text).toContain('src="/ops/hank/docs/assets/swagger-ui-bundle.js"');
  expect((await request(app).get("/ops/hank/metrics")).status).toBe(404); // no metrics given
});

describe("metrics and request IDs", () => {
  const tmp = useTempDir("dske-hub-obs-outbox-");

  test("numbers move with bundles, registrations, PSRD, shares and refused signatures", async () => {
    const hub = await Hub.open({ name: "hank", store: new MemoryStore(), sweepIntervalMs: 0, outboxDir: tmp.path });
    const app = express();
    const router = createHubRouter({ hub, onError: () => {}, operatorToken: TOKEN });
    app.use(router);
    const srv = await listen(app);
    const scrape = async () => (await request(app).get("/hub/hank/metrics").set(AUTH)).text;
    try {
      const before = await scrape();
      expect(metric(before, "dske_hub_shares_stored")).toBe(0);
      expect(metric(before, "dske_hub_registered_clients")).toBe(0);

      const mirrors = { carol: await clientMirror("carol", "gf128"), curtis: await clientMirror("curtis", "gf128") };
      const apis = {
        carol: new HubApi(`${srv.url}/hub/hank`, { auth: { resolvePeer: () => mirrors.carol.peerAuth } }),
        curtis: new HubApi(`${srv.url}/hub/hank`, { auth: { resolvePeer: () => mirrors.curtis.peerAuth } }),
      };
      for (const [name, sae] of [
        ["carol", "sam"],
        ["curtis", "sunny"],
      ] as const) {
        // The operator issues the first bundle (4080 usable bytes per pool: blocks of 4096 with the
        // gf128 key prefix); the client installs it, confirms its hub-owned block and registers, signed.
        const issued = await request(app)
          .post("/hub/hank/mgmt/v1/psrd-bundles")
          .set(AUTH)
          .send({ client_name: name, client_owned_bytes: 4080, hub_owned_bytes: 4080 })
          .expect(200);
        const issuedFile = (issued.body as IssueBundleResponse).file;
        const opened = openBundle(await readBundleFile(issuedFile), { clientName: name, hubName: "hank", expectedSeq: 1 });
        await destroyBundleFile(issuedFile);
        const uuids = await installOpened(mirrors[name], opened);
        expect(await apis[name].confirmPsrd({ client_name: name, block_uuids: uuids.hub })).toEqual({ confirmed: 1 });
        await apis[name].registerSigned({ client_name: name, encryptor_names: [sae], auth_scheme: "gf128" });
      }
      const afterPsrd = await scrape();
      expect(metric(afterPsrd, "dske_hub_registered_clients")).toBe(2);
      const carolPools = defined(hub.status().peer_clients.find((c) => c.client_name === "carol")).pools;
      const avail0 = defined(metric(afterPsrd, "dske_psrd_available_bytes", { peer: "carol", pool: "client_owned" }));
      const used0 = defined(metric(afterPsrd, "dske_psrd_consumed_bytes_total", { peer: "carol", pool: "client_owned" }));
      expect(avail0).toBe(carolPools.client_owned.available);
      expect(avail0).toBeGreaterThan(4000); // 4096 minus the gf128 hash-key prefix of the block
      expect(used0).toBe(carolPools.client_owned.used);
      expect(metric(afterPsrd, "dske_psrd_delivered_bytes_total", { peer: "carol", pool: "hub_owned" })).toBe(4096);
      expect(metric(afterPsrd, "dske_http_requests_total", { route: "registerClient", status: "200", method: "PUT" })).toBe(2);
      expect(metric(afterPsrd, "dske_psrd_delivered_bytes_total", { peer: "carol", pool: "client_owned" })).toBe(4096);
      expect(metric(afterPsrd, "dske_http_requests_total", { route: "issuePsrdBundle", status: "200" })).toBe(2);
      expect(metric(afterPsrd, "dske_http_requests_total", { route: "confirmPsrd", status: "200" })).toBe(2);
      expect(metric(afterPsrd, "dske_http_request_duration_seconds_count", { route: "issuePsrdBundle" })).toBe(2);
      expect(metric(afterPsrd, "dske_http_requests_total", { route: "getPsrdBlock" })).toBeUndefined(); // no network delivery

      const share = bytes(48, 5);
      const enc = await encryptShare(mirrors.carol, share);
      await apis.carol.postKeyShare({
        master_client_name: "carol",
        master_sae_id: "sam",
        slave_sae_id: "sunny",
        user_key_id: KEY,
        share_index: 1,
        ...enc,
      });
      const afterPost = await scrape();
      expect(metric(afterPost, "dske_hub_shares_stored")).toBe(1);
      expect(metric(afterPost, "dske_hub_shares_received_total", { client: "carol" })).toBe(1);
      // 16 (request tag) + 48 (pad) consumed from carol's client-owned pool at the hub.
      expect(metric(afterPost, "dske_psrd_consumed_bytes_total", { peer: "carol", pool: "client_owned" })).toBe(used0 + 64);
      expect(metric(afterPost, "dske_psrd_available_bytes", { peer: "carol", pool: "client_owned" })).toBe(avail0 - 64);

      const got = await apis.curtis.getKeyShare({ client_name: "curtis", master_sae_id: "sam", slave_sae_id: "sunny", key_id: KEY });
      expect(await decryptShare(mirrors.curtis, got.encryption_key_allocation, got.encrypted_share_value)).toEqual(Buffer.from(share));
      const afterGet = await scrape();
      expect(metric(afterGet, "dske_hub_shares_released_total", { client: "curtis" })).toBe(1);
      expect(metric(afterGet, "dske_hub_shares_stored")).toBe(0); // every intended responder fetched it

      // Refused signatures are counted by reason.
      const bogus = await request(app).post("/hub/hank/dske/api/v1/key-share").send({ master_client_name: "carol" });
      expect(bogus.status).toBe(401);
      const unknown = await request(app).post("/hub/hank/dske/api/v1/key-share").send({ master_client_name: "mallory" });
      expect(unknown.status).toBe(401);
      const afterBad = await scrape();
      expect(metric(afterBad, "dske_auth_failures_total")).toBe(2);
      expect(metric(afterBad, "dske_auth_failures_total", { reason: "unknown_peer" })).toBe(1);
      // 401s are counted by reason only (those series exist from the start), not per route and status.
      expect(metric(afterBad, "dske_http_requests_total", { route: "postKeyShare", status: "401" })).toBeUndefined();
      expect(series(afterBad)).toEqual(series(afterGet));
      // No constant labels: the node's kind and version are on dske_build_info.
      expect(afterBad).toMatch(/^dske_hub_shares_stored 0$/m);
      expect(afterBad).toMatch(/^dske_build_info\{version="\d+\.\d+\.\d+[^"]*",kind="hub"\} 1$/m);

      // Label hygiene: made-up client names (unauthenticated) and odd methods create no new series.
      const junk = async (i: number) => {
        const P = "/hub/hank/dske/api/v1";
        await request(app)
          .post(`${P}/key-share`)
          .send({ master_client_name: `junk-${i}` })
          .expect(401);
        await request(app).get(`${P}/key-share?client_name=junk-${i}&master_sae_id=sam&slave_sae_id=sunny&key_id=${KEY}`).expect(401);
        await request(app)
          .post(`${P}/key-shares/fetch`)
          .send({ client_name: `junk-${i}`, keys: [] })
          .expect(401);
        await request(app).propfind(`/hub/hank/junk-${i}`);
      };
      const j0 = await scrape();
      await junk(0);
      const added = series(await scrape()).filter((l) => !series(j0).includes(l));
      expect(added.filter((l) => !l.includes('method="other"'))).toEqual([]); // the odd method's `other` series only
      const j1a = await scrape();
      for (let i = 1; i <= 20; i++) await junk(i);
      const j1 = await scrape();
      expect(series(j1)).toEqual(series(j1a));
      expect(j1).not.toMatch(/junk-|PROPFIND/);
      expect(metric(j1, "dske_http_requests_total", { method: "other" })).toBe(21);
      expect(router.metrics?.clientLabel("carol")).toBe("carol");
      expect(router.metrics?.clientLabel("mallory")).toBe("other");
      apis.carol.close();
      apis.curtis.close();
    } finally {
      await srv.close();
      await hub.close();
    }
  });

  test("two hubs in one process keep separate registries", async () => {
    const a = await Hub.open({ name: "ha", store: new MemoryStore(), sweepIntervalMs: 0 });
    const b = await Hub.open({ name: "hb", store: new MemoryStore(), sweepIntervalMs: 0 });
    const app = express();
    app.use(createHubRouter({ hub: a, onError: () => {}, operatorToken: TOKEN }));
    app.use(createHubRouter({ hub: b, onError: () => {}, operatorToken: TOKEN }));
    try {
      await request(app).put("/hub/ha/dske/oob/v1/registration").set(AUTH).send({ client_name: "carol", auth_scheme: "gf128" }).expect(200);
      const ta = (await request(app).get("/hub/ha/metrics").set(AUTH)).text;
      const tb = (await request(app).get("/hub/hb/metrics").set(AUTH)).text;
      expect(metric(ta, "dske_hub_registered_clients")).toBe(1);
      expect(metric(tb, "dske_hub_registered_clients")).toBe(0);
      expect(metric(ta, "dske_http_requests_total", { route: "registerClient" })).toBe(1);
      expect(metric(tb, "dske_http_requests_total", { route: "registerClient" })).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("X-Request-ID: echoed when well-formed, replaced otherwise", async () => {
    const hub = await Hub.open({ name: "hank", store: new MemoryStore(), sweepIntervalMs: 0 });
    const app = express();
    app.use(createHubRouter({ hub, onError: () => {} }));
    try {
      const a = await request(app).get("/hub/hank/mgmt/v1/status").set("X-Request-ID", "trace-42.a:b");
      expect(a.headers["x-request-id"]).toBe("trace-42.a:b");
      const b = await request(app).get("/hub/hank/mgmt/v1/status").set("X-Request-ID", "bad id\twith spaces");
      expect(b.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
      const c = await request(app).get("/hub/hank/mgmt/v1/status");
      expect(c.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
      expect(c.headers["x-request-id"]).not.toBe(b.headers["x-request-id"]);
    } finally {
      await hub.close();
    }
  });
});

describe("standalone server", () => {
  const tmp = useTempDir("dske-hub-obs-");

  test("root /openapi.json, /docs and /metrics; JSON log lines with req_id, also from domain log lines", async () => {
    const lines: Record<string, unknown>[] = [];
    const { createNodeLogger } = await import("@dske/server");
    const logger = createNodeLogger({
      kind: "hub",
      name: "hank",
      destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
    });
    const running = await startHubServer(
      { ...parseHubArgs(["hank", "--port", "0", "--state-dir", tmp.path]), operatorToken: TOKEN },
      { logger },
    );
    try {
      const spec = await request(running.url).get("/openapi.json");
      expect(spec.status).toBe(200);
      // Infrastructure endpoints are listed in the description, not as operations.
      expect(Object.keys((spec.body as { paths: Record<string, unknown> }).paths).filter((p) => /(metrics|health|docs)$/.test(p))).toEqual(
        [],
      );
      expect((spec.body as { info: { description: string } }).info.description).toContain("`GET /metrics`");
      expect((await validate(spec.body as never)).valid).toBe(true);
      expect((await request(running.url).get("/docs")).status).toBe(200);
      await request(running.url)
        .put("/hub/hank/dske/oob/v1/registration")
        .set("X-Request-ID", "reg-0")
        .send({ client_name: "carol", auth_scheme: "gf128" })
        .expect(401);
      await request(running.url)
        .put("/hub/hank/dske/oob/v1/registration")
        .set(AUTH)
        .set("X-Request-ID", "reg-1")
        .send({ client_name: "carol", auth_scheme: "gf128" })
        .expect(200);
      expect((await request(running.url).get("/metrics")).status).toBe(401); // the operator's only
      expect((await request(running.url).get("/health")).body).toEqual({ status: "ok" });
      const m = await request(running.url).get("/metrics").set(AUTH);
      expect(m.headers["content-type"]).toMatch(/^text\/plain/);
      expect(metric(m.text, "dske_http_requests_total", { route: "registerClient", status: "200" })).toBe(1);
      expect(metric(m.text, "dske_http_requests_total", { route: "registerClient", status: "401" })).toBeUndefined(); // counted by reason
      // reg-0 (no proof of identity) and /metrics without the operator token
      expect(metric(m.text, "dske_auth_failures_total", { reason: "hub_unauthorized" })).toBe(1);
      expect(metric(m.text, "dske_auth_failures_total", { reason: "operator_credential_missing" })).toBe(1);
      expect(metric(m.text, "dske_http_requests_total", { route: "getOpenApiDocumentAtRoot" })).toBeUndefined(); // same operation id at both mounts
      expect(metric(m.text, "dske_http_requests_total", { route: "getOpenApiDocument", status: "200" })).toBe(1);
      const reqLine = lines.find((l) => l.path === "/hub/hank/dske/oob/v1/registration" && l.status === 200);
      expect(reqLine).toMatchObject({ level: "info", kind: "hub", node: "hank", req_id: "reg-1", method: "PUT", status: 200 });
      expect(typeof reqLine?.duration_ms).toBe("number");
      expect(typeof reqLine?.time).toBe("string");
      // The hub's own line about the registration carries the request ID through the async context.
      const domain = lines.find((l) => l.msg === "client registered" && l.client === "carol");
      expect(domain).toMatchObject({
        level: "info",
        req_id: "reg-1",
        node: "hank",
        kind: "hub",
        client: "carol",
        scheme: expect.any(String) as unknown,
      });
      expect(JSON.stringify(lines)).not.toContain(TOKEN); // the operator token is never logged
    } finally {
      await running.stop();
    }
    await expect(request(running.url).get("/metrics")).rejects.toThrow();
  });
});
