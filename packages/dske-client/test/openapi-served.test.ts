/**
 * The OpenAPI document a running client serves (`GET /openapi.json` over HTTP, standalone server):
 * integers typed as integers with bounds, each ETSI operation once (the standard root
 * `/api/v1/keys` named as an alias in its description), no infrastructure endpoint (openapi.json,
 * docs, redoc, metrics, health) among the operations, and `/redoc` rendered without a network.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { validate } from "@readme/openapi-parser";
import { parseClientArgs, startClientServer } from "../src/bin/standalone";
import { silentLogger } from "../src/logger";
import { TEST_OPERATOR_TOKEN } from "./harness";

interface Parameter {
  name: string;
  in: string;
  schema: Record<string, unknown>;
}
interface Operation {
  operationId: string;
  description?: string;
  parameters?: Parameter[];
}
interface Served {
  info: { description: string };
  paths: Record<string, Record<string, Operation>>;
}

let dir: string;
let running: Awaited<ReturnType<typeof startClientServer>>;
let doc: Served;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "dske-client-openapi-"));
  const args = ["carol", "--port", "0", "--hubs", "http://127.0.0.1:9/hub/hank", "--min-nr-shares", "1", "--encryptors", "sam"];
  const config = { ...(await parseClientArgs([...args, "--state-dir", path.join(dir, "carol")])), operatorToken: TEST_OPERATOR_TOKEN };
  running = await startClientServer(config, { logger: silentLogger });
  const res = await fetch(`${running.url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Served;
});

afterAll(async () => {
  await running.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

const operations = (): [string, string, Operation][] =>
  Object.entries(doc.paths).flatMap(([p, item]) => Object.entries(item).map(([m, op]): [string, string, Operation] => [m, p, op]));

test("the served document is valid OpenAPI 3.1", async () => {
  const result = await validate(structuredClone(doc) as never);
  if (!result.valid) throw new Error(JSON.stringify(result.errors, null, 2));
  expect(result.valid).toBe(true);
});

test("enc_keys number and size are integers with bounds, not strings with a pattern", () => {
  const get = doc.paths["/client/carol/etsi/api/v1/keys/{slave_SAE_ID}/enc_keys"].get;
  const param = (name: string) => get.parameters?.find((p) => p.name === name)?.schema;
  expect(param("number")).toEqual({ type: "integer", minimum: 1, maximum: 999_999_999, description: undefined });
  expect(param("size")).toMatchObject({ type: "integer", minimum: 8, multipleOf: 8 });
  // psrd-needs wait_ms (a coerced query value) too
  const needs = doc.paths["/client/carol/mgmt/v1/psrd-needs"].get;
  expect(needs.parameters?.find((p) => p.name === "wait_ms")?.schema).toMatchObject({ type: "integer", minimum: 0, maximum: 30_000 });
  // no parameter anywhere is a decimal string
  for (const [, , op] of operations()) {
    for (const p of op.parameters ?? []) expect([p.name, p.schema.pattern]).not.toEqual([p.name, expect.stringMatching(/\[0-9\]/)]);
  }
});

test("each ETSI operation once; the standard root is named as an alias", () => {
  const ids = operations().map(([, , op]) => op.operationId);
  expect(new Set(ids).size).toBe(ids.length);
  expect(Object.keys(doc.paths).filter((p) => p.startsWith("/api/v1/keys"))).toEqual([]);
  const etsi = operations().filter(([, p]) => p.startsWith("/client/carol/etsi/"));
  expect(etsi.map(([m, p]) => `${m} ${p.slice("/client/carol/etsi".length)}`).sort()).toEqual([
    "get /api/v1/keys/{master_SAE_ID}/dec_keys",
    "get /api/v1/keys/{slave_SAE_ID}/enc_keys",
    "get /api/v1/keys/{slave_SAE_ID}/status",
    "post /api/v1/keys/{master_SAE_ID}/dec_keys",
    "post /api/v1/keys/{slave_SAE_ID}/enc_keys",
  ]);
  for (const [, p, op] of etsi) expect(op.description).toContain(`Also served at \`${p.slice("/client/carol/etsi".length)}\``);
});

test("infrastructure endpoints are not operations; the description lists them", async () => {
  const infra = /\/(openapi\.json|docs|redoc|metrics|health)$/;
  expect(Object.keys(doc.paths).filter((p) => infra.test(p))).toEqual([]);
  for (const p of ["/client/carol/redoc", "/client/carol/metrics", "/redoc", "/health"])
    expect(doc.info.description).toContain(`GET ${p}\``);
  // ...and they are still served
  expect((await fetch(`${running.url}/health`)).status).toBe(200);
  expect((await fetch(`${running.url}/client/carol/openapi.json`)).status).toBe(200);
});

test("/redoc is served offline: one self-contained page, no external script, style or font", async () => {
  for (const p of ["/redoc", "/client/carol/redoc"]) {
    const res = await fetch(`${running.url}${p}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain("getKeyPost");
    expect(html).not.toMatch(/<script|<link[^>]+href=|src="https?:|url\(https?:|@import/i);
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
  }
});
