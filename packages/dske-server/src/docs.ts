/**
 * The observability endpoints every node serves next to its API, as route-table routes (so they
 * are in the OpenAPI document too):
 *
 * - `GET {prefix}/openapi.json` — the node's OpenAPI 3.1 document;
 * - `GET {prefix}/docs` — an interactive page (Swagger UI, served from the vendored
 *   `swagger-ui-dist` files under `{prefix}/docs/assets/`: no CDN, works offline);
 * - `GET {prefix}/redoc` — a ReDoc-style reference of the same document, rendered on the server
 *   into static HTML (redoc.ts: no script, no asset, works offline);
 * - `GET {prefix}/metrics` — Prometheus text exposition of the node's registry (operator only:
 *   `security: "operator"`, behind the node's operator guard);
 * - `GET {prefix}/health` — `{"status":"ok"}`, open, reveals nothing.
 */
import express, { type Request, type Response, type Router } from "express";
import swaggerUiPath from "swagger-ui-dist/absolute-path.js";
import type { NodeMetrics } from "./metrics.js";
import type { OperatorGuard } from "./operator.js";
import type { OpenApiDocument } from "./openapi.js";
import { z } from "zod";
import { fullPath, named, type RouteSpec } from "./route-table.js";
import { registerRoute } from "./route-register.js";
import { redocContentSecurityPolicy, redocPage } from "./redoc.js";

export const OBSERVABILITY_TAG = "observability";

export const HealthSchema = z.object({ status: z.literal("ok") });

export const OBSERVABILITY_ROUTES = {
  openapi: {
    operationId: "getOpenApiDocument",
    method: "get",
    path: "/openapi.json",
    summary: "This node's OpenAPI 3.1 document (generated from the zod schemas)",
    tags: [OBSERVABILITY_TAG],
    responses: { 200: { description: "OpenAPI 3.1 document", media: { type: "application/json", schema: { type: "object" } } } },
  },
  docs: {
    operationId: "getApiDocsPage",
    method: "get",
    path: "/docs",
    summary: "Interactive API documentation (Swagger UI, self-contained)",
    tags: [OBSERVABILITY_TAG],
    responses: { 200: { description: "HTML page", media: { type: "text/html", schema: { type: "string" } } } },
  },
  redoc: {
    operationId: "getApiReferencePage",
    method: "get",
    path: "/redoc",
    summary: "API reference (ReDoc style): static HTML rendered from this node's OpenAPI document, no scripts",
    tags: [OBSERVABILITY_TAG],
    responses: { 200: { description: "HTML page", media: { type: "text/html", schema: { type: "string" } } } },
  },
  metrics: {
    operationId: "getMetrics",
    method: "get",
    path: "/metrics",
    summary: "Prometheus metrics of this node (operator credential)",
    tags: [OBSERVABILITY_TAG],
    security: "operator",
    responses: {
      200: {
        description: "Prometheus text exposition format 0.0.4",
        media: { type: "text/plain", schema: { type: "string" } },
      },
    },
  },
  health: {
    operationId: "getHealth",
    method: "get",
    path: "/health",
    summary: 'Liveness: `{"status":"ok"}` while the node serves requests (open; reveals nothing else)',
    tags: [OBSERVABILITY_TAG],
    responses: { 200: { description: "The node is up", body: named("Health", HealthSchema) } },
  },
} as const satisfies Record<string, RouteSpec>;

/** The observability routes a node serves under a prefix (metrics only when it has metrics). */
export function observabilityRoutes(withMetrics: boolean): RouteSpec[] {
  const { openapi, docs, redoc, metrics, health } = OBSERVABILITY_ROUTES;
  return withMetrics ? [openapi, docs, redoc, metrics, health] : [openapi, docs, redoc, health];
}

export interface ObservabilityMountOptions {
  /** Path prefix ("" for the app root). */
  prefix: string;
  /** The document (built once, lazily). */
  document: () => OpenApiDocument;
  /** Serve /metrics from this node's registry (needs `operatorGuard`). */
  metrics?: NodeMetrics;
  /** The node's operator guard: required with `metrics` (the metrics are for the operator only). */
  operatorGuard?: OperatorGuard;
  /** Page title. */
  title: string;
  /** Serve openapi.json, docs and redoc (default true; false = only metrics and health). */
  docs?: boolean;
}

let swaggerDir: string | undefined;
function swaggerUiDir(): string {
  swaggerDir ??= swaggerUiPath();
  return swaggerDir;
}

/** Register `openapi.json`, `docs` (+ its assets), `redoc`, `metrics` and `health` under `prefix` on `router`. */
export function mountObservability(router: Router, options: ObservabilityMountOptions): void {
  const { prefix } = options;
  if (options.docs ?? true) mountDocs(router, options);
  const metrics = options.metrics;
  if (metrics) {
    const guard = options.operatorGuard;
    if (!guard) throw new Error("mountObservability: metrics need the node's operatorGuard (they are for the operator only)");
    registerRoute(router, prefix, OBSERVABILITY_ROUTES.metrics, guard, async (_req: Request, res: Response) => {
      const { contentType, body } = await metrics.text();
      res.set("Content-Type", contentType).set("Cache-Control", "no-store").send(body);
    });
  }
  registerRoute(router, prefix, OBSERVABILITY_ROUTES.health, (_req: Request, res: Response) => {
    res.set("Cache-Control", "no-store").json({ status: "ok" });
  });
}

function mountDocs(router: Router, options: ObservabilityMountOptions): void {
  const { prefix } = options;
  let doc: string | undefined;
  registerRoute(router, prefix, OBSERVABILITY_ROUTES.openapi, (_req: Request, res: Response) => {
    doc ??= JSON.stringify(options.document());
    res.type("application/json").send(doc);
  });
  const assets = fullPath(prefix, "/docs/assets");
  registerRoute(router, prefix, OBSERVABILITY_ROUTES.docs, (_req: Request, res: Response) => {
    res.type("html").send(docsPage(options.title, assets, fullPath(prefix, "/openapi.json")));
  });
  let reference: string | undefined;
  registerRoute(router, prefix, OBSERVABILITY_ROUTES.redoc, (_req: Request, res: Response) => {
    reference ??= redocPage(options.title, options.document(), fullPath(prefix, "/openapi.json"));
    res.set("Content-Security-Policy", redocContentSecurityPolicy()).type("html").send(reference);
  });
  router.use(assets, express.static(swaggerUiDir(), { index: false, fallthrough: true, maxAge: "1h" }));
  // The initializer script (a file, not inline, so that a strict CSP can be used).
  router.get(`${assets}/dske-init.js`, (_req, res) => {
    res.type("application/javascript").send(initScript(fullPath(prefix, "/openapi.json")));
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function docsPage(title: string, assets: string, specUrl: string): string {
  const t = escapeHtml(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${t}</title>
<link rel="stylesheet" href="${escapeHtml(assets)}/swagger-ui.css">
<link rel="icon" type="image/png" href="${escapeHtml(assets)}/favicon-32x32.png">
</head>
<body>
<noscript>${t}: the OpenAPI document is at <a href="${escapeHtml(specUrl)}">${escapeHtml(specUrl)}</a>.</noscript>
<div id="swagger-ui"></div>
<script src="${escapeHtml(assets)}/swagger-ui-bundle.js"></script>
<script src="${escapeHtml(assets)}/dske-init.js"></script>
</body>
</html>
`;
}

function initScript(specUrl: string): string {
  return (
    `window.ui = SwaggerUIBundle({ url: ${JSON.stringify(specUrl)}, dom_id: "#swagger-ui", deepLinking: true, ` +
    `presets: [SwaggerUIBundle.presets.apis], validatorUrl: null, tryItOutEnabled: false });\n`
  );
}

/**
 * A new Express router serving `{prefix}/openapi.json`, `{prefix}/docs` (+ assets), `{prefix}/health`
 * and, with `metrics` (and `operatorGuard`), `{prefix}/metrics`: for integrators who mount the document of a node elsewhere, e.g.
 * `app.use(createObservabilityRouter({ prefix: "/dske", title: "hank", document: () => hubOpenApi("hank") }))`.
 */
export function createObservabilityRouter(options: ObservabilityMountOptions): Router {
  const router = express.Router();
  mountObservability(router, options);
  return router;
}
