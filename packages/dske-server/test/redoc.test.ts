/**
 * The `/redoc` page: a static, script-free reference of the node's OpenAPI document (every
 * operation, its parameters, body and responses, every named schema), self-contained (no external
 * asset), escaped, under a strict Content-Security-Policy.
 */
import { createHash } from "node:crypto";
import express from "express";
import request from "supertest";
import { z } from "zod";
import {
  buildOpenApiDocument,
  createObservabilityRouter,
  named,
  OBSERVABILITY_TAG,
  observabilityRoutes,
  type RouteSpec,
} from "../src/index.js";

const ShareSchema = z.object({
  user_key_id: z.string().min(1).max(128),
  share_index: z.int().min(0).max(255),
  kind: z.enum(["plain", "batch"]).default("plain"),
  allocation: z.object({ fragments: z.array(z.object({ block_uuid: z.string(), start: z.int() })).max(64) }),
});
const ROUTES: RouteSpec[] = [
  {
    operationId: "postKeyShare",
    method: "post",
    path: "/dske/api/v1/key-share",
    summary: "Store one encrypted key share",
    description: "Signed with `DSKE-Signature`.",
    tags: ["in-band <signed>"],
    body: named("PostKeyShareRequest", ShareSchema),
    responses: { 200: { description: "Stored", body: named("Stored", z.object({})) } },
  },
  {
    operationId: "getStatus",
    method: "get",
    path: "/mgmt/v1/status",
    summary: "Status",
    tags: ["management"],
    query: z.object({ verbose: z.string().optional() }),
    security: "operator",
    responses: { 200: { description: "Status", body: named("Status", z.object({ name: z.string() })) } },
  },
];
const document = () =>
  buildOpenApiDocument({ title: "hub <hank>", version: "1" }, [
    { prefix: "/hub/hank", routes: [...ROUTES, ...observabilityRoutes(false)] },
  ]);

function app(): express.Express {
  const a = express();
  a.use(createObservabilityRouter({ prefix: "/hub/hank", title: "hank", document }));
  return a;
}

test("200 HTML naming every route of the document, with its parameters, body fields and schemas", async () => {
  const res = await request(app()).get("/hub/hank/redoc");
  expect(res.status).toBe(200);
  expect(res.headers["content-type"]).toMatch(/^text\/html/);
  const html = res.text;
  for (const path of Object.keys(document().paths)) expect(html).toContain(`<span class="path">${path}</span>`);
  expect(html).toContain("/hub/hank/redoc"); // the page documents itself
  expect(html).toContain("<code>user_key_id</code>");
  expect(html).toContain("<code>block_uuid</code>"); // nested fields expanded
  expect(html).toMatch(/<code>share_index<\/code>: <span class="t">integer<\/span> <span class="note">\(≥ 0, ≤ 255\)/);
  expect(html).toContain("one of &#34;plain&#34;, &#34;batch&#34;");
  expect(html).toContain("<code>verbose</code></td><td>query</td>");
  expect(html).toContain('href="#schema-PostKeyShareRequest"');
  expect(html).toContain('id="schema-PostKeyShareRequest"');
  expect(html).toContain("operatorToken"); // the security of the management route
  expect(html).toContain("Signed with <code>DSKE-Signature</code>.");
  expect(html).toContain(OBSERVABILITY_TAG);
});

test("self-contained and inert: no script, no external reference, text escaped, strict CSP pinned to its style", async () => {
  const res = await request(app()).get("/hub/hank/redoc");
  const html = res.text;
  expect(html).not.toMatch(/<script/i);
  expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
  expect(html).toContain("hub &#60;hank&#62;");
  expect(html).toContain("in-band &#60;signed&#62;");
  expect(html).not.toContain("<hank>");
  const csp = res.headers["content-security-policy"];
  expect(csp).toMatch(/default-src 'none'/);
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? "";
  expect(style.length).toBeGreaterThan(100);
  expect(csp).toContain(`style-src 'sha256-${createHash("sha256").update(style).digest("base64")}'`);
});

test("rendered once per router: the same page on every request", async () => {
  let builds = 0;
  const a = express();
  a.use(
    createObservabilityRouter({
      prefix: "",
      title: "n",
      document: () => {
        builds++;
        return document();
      },
    }),
  );
  const one = await request(a).get("/redoc");
  const two = await request(a).get("/redoc");
  expect(one.text).toBe(two.text);
  expect(builds).toBe(1);
});
