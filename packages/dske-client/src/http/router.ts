/**
 * createClientRouter: the HTTP face of a Client (thin: parse → domain call → JSON).
 *
 * - ETSI GS QKD 014 under `/client/{name}/etsi/api/v1/keys/...` and (unless `standardRoot:
 *   false`) at the standard root `/api/v1/keys/...`:
 *   `GET /{slave_SAE_ID}/status`, `GET|POST /{slave_SAE_ID}/enc_keys`, `GET|POST /{master_SAE_ID}/dec_keys`.
 * - Management: `GET /client/{name}/mgmt/v1/status`, `POST /client/{name}/mgmt/v1/stop`, and
 *   `/client/{name}/metrics`: the operator only (@dske/server operator.ts): `Authorization: Bearer
 *   <operatorToken>`, or under mutual TLS the operator certificate (CN `operatorCn`, default
 *   `dske-operator`). No credential → 401, a wrong one → 403; without a token in plain mode
 *   management is disabled (401). Writes there must be `Content-Type: application/json` (415).
 * - Every route refuses a cross-site request (an Origin other than the node itself → 403).
 * - Open: `/client/{name}/health`, `openapi.json`, `docs`.
 * - Calling SAE (`saeAuthentication`):
 *   - `"authorization-header"` (plain HTTP, default): `Authorization: <sae>` or `Authorization: Bearer <sae>`;
 *     missing → 401. NOT authenticated: for local experiments only. A client with
 *     `etsi.anonymousSingleSae` (exactly one SAE) takes a call without the header as from that
 *     SAE, as the reference does; a header naming another SAE is refused all the same.
 *   - `"tls-client-certificate"` (HTTPS with mutual TLS): the subject CN of the verified client
 *     certificate; the Authorization header is ignored for the ETSI routes.
 * - Errors: `{message, details?}` with 400 / 401 / 404 / 503 by the domain error's kind
 *   (http/errors.ts; 413 for an oversized body).
 * - Every route is registered from the route tables of http/routes.ts, which also generate the
 *   OpenAPI document (`/client/{name}/openapi.json`, page at `/client/{name}/docs`).
 * - Metrics (`/client/{name}/metrics`, per-node registry), a request ID per request (X-Request-ID
 *   in and out) and one log line per request through `logger`.
 */
import express, { type Request, type RequestHandler, type Response, type Router } from "express";
import {
  DEFAULT_OPERATOR_CN,
  NodeMetrics,
  createOperatorGuard,
  crossSiteGuard,
  jsonWritesOnly,
  mountObservability,
  peerCertificateCn,
  registerRoute,
  requestIdMiddleware,
  requestLine,
  type OperatorGuard,
} from "@dske/server";
import type { Client } from "../client.js";
import { registerClientMetrics, type ClientMetrics, type KeyRole } from "../client-metrics.js";
import { CLIENT_MGMT_ROUTES, ETSI_ROUTES, clientOpenApi, clientPrefixes } from "./routes.js";
import { KmeError, badRequest, unauthorized } from "../errors.js";
import { errorHandler } from "./errors.js";
import { parseDecKeysBody, parseDecKeysQuery, parseEncKeysBody, parseEncKeysQuery, parseSaeId, saeIdFromAuthorization } from "../etsi.js";
import type { KeyContainer } from "@dske/protocol";
import { silentLogger, type Logger } from "../logger.js";
import { BundleInstallError } from "../bundle-installer.js";
import { ClientStatusQuerySchema, InstallBundleRequestSchema, PsrdNeedsQuerySchema, ResetHubPsrdRequestSchema } from "@dske/protocol";

export interface ClientRouterOptions {
  client: Client;
  /** Also serve ETSI at the standard root `/api/v1/keys/...` (default true). */
  standardRoot?: boolean;
  /** Called after `POST .../mgmt/v1/stop` was answered. */
  onStop?: () => void | Promise<void>;
  /** Max request body (default 1 MiB). */
  maxBodyBytes?: number;
  /** Request log (one line per request with its request ID; never key bytes). */
  logger?: Logger;
  /** Serve `/client/{name}/openapi.json` and `/client/{name}/docs` (default true). */
  openapi?: boolean;
  /**
   * Prometheus metrics: `true` (default) = a new per-node registry served at `/client/{name}/metrics`;
   * a NodeMetrics = record into it (e.g. shared with the standalone server's root `/metrics`); `false` = none.
   */
  metrics?: boolean | NodeMetrics;
  /**
   * How the calling SAE is identified (default `"authorization-header"`, insecure). Use
   * `"tls-client-certificate"` only behind an https server with `requestCert: true,
   * rejectUnauthorized: true` and the topology CA.
   */
  saeAuthentication?: SaeAuthentication;
  /** CN of the operator certificate allowed on the management routes under TLS (default `dske-operator`). */
  operatorCn?: string;
  /**
   * The operator token (`Authorization: Bearer <token>`) accepted on the management routes and
   * /metrics (in both modes). In plain mode without it, management is disabled (401).
   */
  operatorToken?: string;
  /** The client serves plain HTTP on a non-loopback address (`--allow-insecure-bind`): status shows `insecure: true`. */
  insecure?: boolean;
}

export type SaeAuthentication = "authorization-header" | "tls-client-certificate";

/** Label value of key metrics for an SAE name that is not configured (label values never come from callers). */
export const UNKNOWN_SAE_LABEL = "unknown";

/** The fields a client adds to its mgmt status to show how SAEs are authenticated. */
export function transportStatus(mode: SaeAuthentication): {
  etsi_transport: "http" | "https-mtls";
  sae_authentication: "authorization-header (insecure)" | "tls-client-certificate";
} {
  return mode === "tls-client-certificate"
    ? { etsi_transport: "https-mtls", sae_authentication: "tls-client-certificate" }
    : { etsi_transport: "http", sae_authentication: "authorization-header (insecure)" };
}

export type ClientRouter = Router & {
  /** The node's metrics (undefined with `metrics: false`). */
  readonly metrics: ClientMetrics | undefined;
  /** The operator guard of this client (for further management routes, e.g. the standalone root `/metrics`). */
  readonly operatorGuard: OperatorGuard;
};

export { DEFAULT_OPERATOR_CN, peerCertificateCn };

export function createClientRouter(options: ClientRouterOptions): ClientRouter {
  const { client } = options;
  const logger = options.logger ?? silentLogger;
  const router = express.Router() as ClientRouter;
  const prefixes = clientPrefixes(client.name);
  const standardRoot = options.standardRoot ?? true;
  const node =
    options.metrics === false
      ? undefined
      : options.metrics instanceof NodeMetrics
        ? options.metrics
        : new NodeMetrics({ kind: "client", name: client.name });
  const metrics = node ? registerClientMetrics(node, client) : undefined;
  Object.defineProperty(router, "metrics", { value: metrics, enumerable: false });
  const limits = client.limits;
  const raw = express.raw({ type: () => true, limit: options.maxBodyBytes ?? 1024 * 1024 });

  const mode: SaeAuthentication = options.saeAuthentication ?? "authorization-header";
  const tls = mode === "tls-client-certificate";
  if (tls && client.anonymousSae !== undefined) {
    // Under mutual TLS the certificate names the SAE; a call without one is never anonymous.
    throw new TypeError(
      `client ${client.name}: etsi.anonymousSingleSae is for plain HTTP only; it has no meaning with client certificates`,
    );
  }
  const operatorCn = options.operatorCn ?? DEFAULT_OPERATOR_CN;
  /**
   * The calling SAE for the request log: the certificate CN, or (plain HTTP) the Authorization
   * header — on ETSI routes only, and only a configured SAE name (else "unknown"). Never the
   * header of a management request: there it carries the operator token.
   */
  const etsiPaths = standardRoot ? [prefixes.etsi, prefixes.standardEtsi] : [prefixes.etsi];
  const identity = (req: Request): string | undefined => {
    if (tls) return peerCertificateCn(req);
    const path = req.originalUrl.split("?")[0];
    if (!etsiPaths.some((p) => path === p || path.startsWith(`${p}/`))) return undefined;
    const sae = saeIdFromAuthorization(req.get("authorization")) ?? client.anonymousSae;
    return sae === undefined ? undefined : client.kmeOf(sae) !== "" ? sae : UNKNOWN_SAE_LABEL;
  };

  // Request ID, metrics and one log line for every request under this node's prefixes.
  const mounts = standardRoot ? [prefixes.node, prefixes.standardEtsi] : [prefixes.node];
  router.use(mounts, requestIdMiddleware());
  if (node) router.use(mounts, node.httpMiddleware());
  router.use(mounts, crossSiteGuard({ metrics: node }));
  const operator = createOperatorGuard({
    operatorToken: options.operatorToken,
    operatorCn: tls ? operatorCn : undefined,
    metrics: node,
    warn: (message, fields) => logger.warn(message, fields),
  });
  Object.defineProperty(router, "operatorGuard", { value: operator, enumerable: false });
  router.use(mounts, (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      // The one request line of hub and client (@dske/server requestLine; routine polling at debug).
      const line = requestLine(req, res, started, { sae: identity(req) ?? "-" });
      if (line.level === "debug") logger.debug?.(line.msg, line.fields);
      else logger.info(line.msg, line.fields);
    });
    next();
  });

  const etsi = express.Router();
  const route = (spec: Parameters<typeof registerRoute>[2], ...handlers: RequestHandler[]) => registerRoute(etsi, "", spec, ...handlers);
  /** Run the domain call, counting keys established / failed for the SAE pair (refused callers: not here). */
  const counted = async <T extends { keys: unknown[] }>(
    labels: { master_sae: string; slave_sae: string; role: KeyRole },
    requested: number,
    call: () => Promise<T>,
  ): Promise<T> => {
    try {
      const out = await call();
      if (metrics) {
        const l = metrics.pairLabels(labels);
        (labels.role === "master" ? metrics.keysEstablished : metrics.keysDelivered).inc(
          { master_sae: l.master_sae, slave_sae: l.slave_sae },
          out.keys.length,
        );
      }
      return out;
    } catch (err) {
      // A refused caller (401) is counted by reason only (dske_auth_failures_total): it adds no series.
      if (!(err instanceof KmeError && err.kind === "unauthorized")) metrics?.keysFailed.inc(metrics.pairLabels(labels), requested);
      throw err;
    }
  };

  const caller = (req: Request): string => {
    if (tls) {
      const cn = peerCertificateCn(req);
      if (cn === undefined) {
        throw unauthorized("no verified client certificate naming the calling SAE", [{ tls: "client certificate CN = SAE ID" }]);
      }
      return parseSaeId(cn, "client certificate CN");
    }
    const sae = saeIdFromAuthorization(req.get("authorization")) ?? client.anonymousSae;
    if (sae === undefined) {
      throw unauthorized("missing Authorization header naming the calling SAE", [
        { header: "Authorization", expected: "<SAE_ID> or Bearer <SAE_ID>" },
      ]);
    }
    return parseSaeId(sae, "Authorization");
  };
  const param = (req: Request, name: string): string => parseSaeId(req.params[name], name);
  // A custom "query parser" setting may leave req.query unset.
  const query = (req: Request): Record<string, unknown> => (req as { query?: Request["query"] }).query ?? {};

  route(ETSI_ROUTES.getStatus, (req, res) => {
    const sae = caller(req);
    const slave = param(req, "slave_SAE_ID");
    res.json(client.status(sae, slave));
  });

  route(ETSI_ROUTES.getKeyGet, async (req, res) => {
    const sae = caller(req);
    const slave = param(req, "slave_SAE_ID");
    const request = parseEncKeysQuery(query(req), limits);
    sendKeys(
      res,
      await counted({ master_sae: sae, slave_sae: slave, role: "master" }, request.number, () => client.getKeys(sae, slave, request)),
    );
  });

  route(ETSI_ROUTES.getKeyPost, raw, async (req, res) => {
    const sae = caller(req);
    const slave = param(req, "slave_SAE_ID");
    const request = parseEncKeysBody(jsonBody(req, true), limits);
    sendKeys(
      res,
      await counted({ master_sae: sae, slave_sae: slave, role: "master" }, request.number, () => client.getKeys(sae, slave, request)),
    );
  });

  route(ETSI_ROUTES.getKeyWithIdsGet, async (req, res) => {
    const sae = caller(req);
    const master = param(req, "master_SAE_ID");
    const { keyIds } = parseDecKeysQuery(query(req), limits);
    sendKeys(
      res,
      await counted({ master_sae: master, slave_sae: sae, role: "slave" }, keyIds.length, () => client.getKeysWithIds(sae, master, keyIds)),
    );
  });

  route(ETSI_ROUTES.getKeyWithIdsPost, raw, async (req, res) => {
    const sae = caller(req);
    const master = param(req, "master_SAE_ID");
    const { keyIds } = parseDecKeysBody(jsonBody(req, false), limits);
    sendKeys(
      res,
      await counted({ master_sae: master, slave_sae: sae, role: "slave" }, keyIds.length, () => client.getKeysWithIds(sae, master, keyIds)),
    );
  });

  etsi.use((_req, _res, next) => {
    next(badRequest("bad request format: unknown ETSI endpoint (expected {SAE_ID}/status, enc_keys or dec_keys)"));
  });
  etsi.use(errorHandler(logger, node));

  router.use(prefixes.etsi, etsi);
  if (standardRoot) router.use(prefixes.standardEtsi, etsi);

  const mgmt = express.Router();
  mgmt.use(jsonWritesOnly());
  registerRoute(mgmt, "", CLIENT_MGMT_ROUTES.status, operator, async (req, res) => {
    const q = ClientStatusQuerySchema.safeParse(req.query);
    if (!q.success) throw badRequest("invalid query: wait_ready_ms must be an integer from 0 to 30000", [{ field: "wait_ready_ms" }]);
    if (q.data.wait_ready_ms !== undefined) {
      const abort = new AbortController();
      res.on("close", () => abort.abort());
      await client.whenReady(q.data.wait_ready_ms, abort.signal);
      if (abort.signal.aborted) return;
    }
    res.json({ ...client.mgmtStatus(), ...transportStatus(mode), ...(options.insecure ? { insecure: true } : {}) });
  });
  registerRoute(mgmt, "", CLIENT_MGMT_ROUTES.installBundle, operator, express.json({ limit: "16kb" }), async (req, res) => {
    const body = InstallBundleRequestSchema.safeParse(req.body ?? {});
    if (!body.success) {
      throw badRequest(
        'invalid request body: give {"file": "PATH of the bundle on this host"}',
        body.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
      );
    }
    try {
      res.json(await client.installBundle(body.data.file));
    } catch (err) {
      if (err instanceof BundleInstallError) {
        throw new KmeError(err.code === "not_found" ? "not-found" : "invalid-request", err.message, [{ code: err.bundleCode ?? err.code }]);
      }
      throw err;
    }
  });
  registerRoute(mgmt, "", CLIENT_MGMT_ROUTES.psrdNeeds, operator, async (req, res) => {
    const q = PsrdNeedsQuerySchema.safeParse(req.query);
    if (!q.success) throw badRequest("invalid query: wait_ms must be an integer from 0 to 30000, hub a hub name", [{ field: "wait_ms" }]);
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    const needs = await client.psrdNeeds(q.data.wait_ms, abort.signal, q.data.hub);
    res.json({ client_name: client.name, needs });
  });
  registerRoute(mgmt, "", CLIENT_MGMT_ROUTES.resetHubPsrd, operator, express.json({ limit: "4kb" }), async (req, res) => {
    const body = ResetHubPsrdRequestSchema.safeParse(req.body ?? {});
    if (!body.success) throw badRequest('invalid request body: give {"hub_name": "NAME"}', [{ field: "hub_name" }]);
    await client.resetHubPsrd(body.data.hub_name);
    res.json({ message: `client ${client.name}: PSRD with hub ${body.data.hub_name} reset; waiting for a new first bundle` });
  });
  registerRoute(mgmt, "", CLIENT_MGMT_ROUTES.stop, operator, (_req, res) => {
    res.json({ message: `client ${client.name} stopping` });
    res.on("finish", () => {
      void Promise.resolve(options.onStop?.()).catch((err: unknown) => logger.error("stop failed", { err: String(err) }));
    });
  });
  mgmt.use(notFoundHandler);
  mgmt.use(errorHandler(logger, node));
  router.use(prefixes.mgmt, mgmt);

  // The metrics are for the operator (they name SAEs and count their keys); health is open.
  mountObservability(router, {
    prefix: prefixes.node,
    title: `DSKE client ${client.name} API`,
    document: () => clientOpenApi(client.name, { standardRoot, metrics: node !== undefined }),
    metrics: node,
    operatorGuard: operator,
    docs: options.openapi ?? true,
  });
  // Anything else under this client's own prefix: a JSON 404, not express' HTML page.
  router.use(prefixes.node, notFoundHandler);
  return router;
}

function notFoundHandler(req: Request, res: Response): void {
  res.status(404).json({ message: `no such endpoint: ${req.method} ${req.originalUrl.split("?")[0]}`, details: [{ method: req.method }] });
}

/** The raw body as JSON. Empty → `{}` when allowed (enc_keys), else 400. */
function jsonBody(req: Request, emptyOk: boolean): unknown {
  const buf = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const text = buf.toString("utf8");
  if (text.trim().length === 0) {
    if (emptyOk) return {};
    throw badRequest("bad request format: a JSON body is required", [{ body: "empty" }]);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest("bad request format: malformed JSON body", [{ body: err instanceof Error ? err.message : "not JSON" }]);
  }
}

/**
 * A key container response: `Cache-Control: no-store` (key material must not be cached by a
 * proxy or the SAE's HTTP stack) and no ETag (express would put a digest of the keys in a header,
 * and hashing every response costs CPU on the hot path).
 */
function sendKeys(res: Response, container: KeyContainer): void {
  const body = Buffer.from(JSON.stringify(container));
  res.status(200).set({
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": String(body.length),
    "Cache-Control": "no-store",
    Pragma: "no-cache",
  });
  res.end(body);
}
