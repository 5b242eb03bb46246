/**
 * createHubRouter: the hub's HTTP surface as an Express router (mount it at the app root; every
 * path is under `/hub/{name}/...`). Thin: zod-validate, call the Hub, map HubErrors to statuses
 * with an ETSI-style body `{message, details?}`.
 *
 * - It takes a built `Hub` (open it with `Hub.open`) and never opens or closes one.
 * - Every route is registered from the route table HUB_ROUTES (routes.ts), which also
 *   generates the OpenAPI document: router and document cannot drift.
 * - Out-of-band and management routes parse JSON with express.json (size-limited).
 * - In-band routes (`/dske/api/...`) use @dske/auth's createSignatureMiddleware, which captures and
 *   parses the raw body itself, verifies `DSKE-Signature` against the client-owned pool of the
 *   client named in the message, and signs every response from the hub-owned pool.
 * - Observability under the prefix: `openapi.json`, `docs` (Swagger UI), `health` (open),
 *   `metrics` (Prometheus, per-node registry); a request ID per request (X-Request-ID in and out).
 * - Management plane (@dske/server's operator guard): `mgmt/...` and `metrics` need the operator token
 *   (`operatorToken`; without one they answer 401 "management is disabled"), or with
 *   `operatorCertificate` (HTTPS verifying client certificates) the operator certificate. Every route refuses
 *   a cross-site request (an Origin other than the hub itself → 403), and writes on `mgmt/...`
 *   and `dske/oob/...` must be `Content-Type: application/json` (else 415).
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from "express";
import { createSignatureMiddleware, type PeerAuth } from "@dske/auth";
import { mountObservability } from "@dske/server";
import {
  DEFAULT_OPERATOR_CN,
  NodeMetrics,
  bearerToken,
  createOperatorGuard,
  crossSiteGuard,
  jsonWritesOnly,
  peerCertificateCn,
  registerRoute,
  requestIdMiddleware,
  sameSecret,
  type OperatorGuard,
  type PinoLogger,
} from "@dske/server";
import { HubError } from "../errors.js";
import type { Hub } from "../hub.js";
import { mapError, sendError, validate } from "./errors.js";
import { registerHubMetrics, type HubMetrics } from "./metrics.js";
import { peerAddress, psrdBody, referenceWire } from "./reference-wire.js";
import { HUB_ROUTES, hubOpenApi } from "./routes.js";
import {
  FetchKeySharesRequestSchema,
  GetKeyShareQuerySchema,
  IssueBundleRequestSchema,
  PsrdConfirmRequestSchema,
  PostKeyShareRequestSchema,
  PostKeySharesRequestSchema,
  PsrdQuerySchema,
  ReferenceGetKeyShareQuerySchema,
  ReferencePostKeyShareRequestSchema,
  RegistrationRequestSchema,
  ShareMetaRequestSchema,
  SharesHeldRequestSchema,
  UnregistrationQuerySchema,
  type FetchKeySharesResponse,
  type GetKeyShareResponse,
  type IssueBundleResponse,
  type PsrdConfirmResponse,
  type PostKeyShareResponse,
  type PostKeySharesResponse,
  type ShareMetaResponse,
  type SharesHeldResponse,
  type StopResponse,
  type UnregistrationResponse,
} from "@dske/protocol";

export interface HubRouterExtraOptions {
  /** Called (after the response is sent) on `POST /mgmt/v1/stop`; without it the route answers 501. */
  onStop?: () => void | Promise<void>;
  /** Body limit of the out-of-band JSON routes (default "64kb"). */
  jsonLimit?: string | number;
  /** Body limit of the signed in-band routes in bytes (default 4 MiB, room for batches). */
  maxSignedBodyBytes?: number;
  /** Where unexpected errors are reported (default: `logger.error`, else console.error); never gets secrets. */
  onError?: (err: unknown) => void;
  /** Serve `{prefix}/openapi.json` and `{prefix}/docs` (default true). */
  openapi?: boolean;
  /**
   * Prometheus metrics: `true` (default) = a new per-node registry, served at `{prefix}/metrics`;
   * a NodeMetrics = record into it (e.g. shared with the standalone server's root `/metrics`);
   * `false` = none.
   */
  metrics?: boolean | NodeMetrics;
  /** pino logger for one line per request (with its request ID); default: no request lines. */
  logger?: PinoLogger;
  /**
   * The operator token (`Authorization: Bearer <token>`) that management routes and metrics
   * require. Absent: management is disabled (401 on every guarded route).
   */
  operatorToken?: string;
  /** Under TLS: CN of the operator's client certificate (default `dske-operator`). */
  operatorCn?: string;
  /**
   * The server verifies client certificates against the topology CA (the standalone hub's
   * `--tls-ca`): management routes then also accept the operator certificate (CN `operatorCn`).
   */
  operatorCertificate?: boolean;
  /** The hub listens on a non-loopback address over plain HTTP (`--allow-insecure-bind`): status shows `insecure: true`. */
  insecure?: boolean;
}

export type HubRouterOptions = { hub: Hub } & HubRouterExtraOptions;

export type HubRouter = Router & {
  /** The hub behind the router (the caller opened it and closes it). */
  readonly hub: Hub;
  /** The node's metrics (undefined with `metrics: false`). */
  readonly metrics: HubMetrics | undefined;
  /** The operator guard of this hub (for further management routes, e.g. the standalone root `/metrics`). */
  readonly operatorGuard: OperatorGuard;
};

export function createHubRouter(options: HubRouterOptions): HubRouter {
  const hub = options.hub;
  const name = hub.name;
  const prefix = `/hub/${encodeURIComponent(name)}`;
  const logger = options.logger;
  const onError =
    options.onError ??
    ((err: unknown) => (logger ? logger.error({ err }, "unexpected error") : console.error("dske-hub: unexpected error:", err)));
  const router = express.Router() as HubRouter;
  Object.defineProperty(router, "hub", { value: hub, enumerable: false });

  const node =
    options.metrics === false
      ? undefined
      : options.metrics instanceof NodeMetrics
        ? options.metrics
        : new NodeMetrics({ kind: "hub", name });
  const metrics = node ? registerHubMetrics(node, hub) : undefined;
  Object.defineProperty(router, "metrics", { value: metrics, enumerable: false });

  router.use(prefix, requestIdMiddleware({ logger }));
  if (node) router.use(prefix, node.httpMiddleware());
  router.use(prefix, crossSiteGuard({ metrics: node }));
  // Replicas sharing a backend: first apply what the other replicas wrote (shared-state.ts).
  const barrier = hub.barrier;
  if (barrier) router.use(prefix, (_req, _res, next) => void barrier().then(() => next(), next));
  const jsonWrites = jsonWritesOnly();
  router.use([`${prefix}/mgmt`, `${prefix}/dske/oob`], jsonWrites);
  const operator = createOperatorGuard({
    operatorToken: options.operatorToken,
    operatorCn: options.operatorCertificate === true ? (options.operatorCn ?? DEFAULT_OPERATOR_CN) : undefined,
    metrics: node,
    warn: (message, fields) => logger?.warn(fields ?? {}, message),
  });
  Object.defineProperty(router, "operatorGuard", { value: operator, enumerable: false });

  const json = express.json({ limit: options.jsonLimit ?? "64kb", type: () => true });
  const signed = (pick: (body: unknown, req: Request) => unknown) =>
    createSignatureMiddleware({
      maxBodyBytes: options.maxSignedBodyBytes ?? 4 * 1024 * 1024,
      // req.body: the middleware's single parse of the raw body (not yet verified; only the
      // client name is read from it to pick the pools to verify with).
      resolvePeer: (req: Request, rawBody: Buffer): PeerAuth | undefined => {
        const body: unknown = rawBody.length === 0 ? undefined : req.body;
        return hub.peerAuth(pick(body, req));
      },
      onReject: node ? (_req, status, code) => node.authFailure(status === 401 ? code : `${code}_${status}`) : undefined,
    });
  const fromBody = (field: string) => (body: unknown) =>
    body !== null && typeof body === "object" ? (body as Record<string, unknown>)[field] : undefined;
  const route = registerRoute.bind(null, router, prefix);

  // A route that a client may call signed (its PSRD proves who it is; the response is signed
  // too) or unsigned with another credential, checked by the handler (see `credentialOf`).
  const signedOr = (pick: (body: unknown, req: Request) => unknown, plain: RequestHandler): RequestHandler => {
    const withSignature = signed(pick);
    return (req, res, next) => (req.headers["dske-signature"] !== undefined ? withSignature(req, res, next) : plain(req, res, next));
  };
  const isSigned = (req: Request) => req.headers["dske-signature"] !== undefined; // verified by then
  const operatorToken = options.operatorToken;
  const operatorCn = options.operatorCn ?? DEFAULT_OPERATOR_CN;
  /** Who an unsigned request proves to be, for client `clientName`. */
  const credentialOf = (req: Request, clientName: string): "operator" | "certificate" | "enrollment" | "other_certificate" | undefined => {
    const cn = peerCertificateCn(req);
    if (cn !== undefined) {
      if (cn === operatorCn) return "operator";
      return cn === clientName ? "certificate" : "other_certificate";
    }
    const token = bearerToken(req.get("authorization"));
    if (token === undefined) return undefined;
    if (operatorToken !== undefined && sameSecret(token, operatorToken)) return "operator";
    return hub.checkEnrollmentSecret(clientName, token) ? "enrollment" : undefined;
  };
  const reference = referenceWire(hub);
  const unauthorized = (what: string) =>
    new HubError(
      "unauthorized",
      `${what} needs proof of identity: a DSKE-Signature made with the client's PSRD, its TLS client certificate, ` +
        `Authorization: Bearer <enrollment secret from its first PSRD bundle>, or the operator credential`,
      [{ header: "Authorization" }],
    );

  // ------------------------------------------------------------------ out of band
  route(HUB_ROUTES.register, signedOr(fromBody("client_name"), json), async (req, res) => {
    const body = validate(RegistrationRequestSchema, req.body, "request body");
    if (!isSigned(req)) {
      const who = credentialOf(req, body.client_name);
      const proven = who !== undefined && who !== "other_certificate";
      // Reference-client mode: a named reference client from a listed address needs no proof.
      if (!proven && !(who === undefined && reference.from(req, body.client_name))) {
        throw unauthorized(`registration of client ${body.client_name}`);
      }
    }
    res.json(await hub.register(body, peerAddress(req)));
  });

  route(
    HUB_ROUTES.unregister,
    signedOr(
      (_body, req) => req.query.client_name,
      (_req, _res, next) => next(),
    ),
    async (req, res) => {
      const query = validate(UnregistrationQuerySchema, req.query, "query");
      if (!isSigned(req) && credentialOf(req, query.client_name) !== "operator") {
        throw new HubError("unauthorized", `only client ${query.client_name} itself (signed) or the operator may unregister it`, [
          { header: "DSKE-Signature" },
        ]);
      }
      // The answer to a signed request is signed from the client's hub-owned pool: its pools are
      // zeroed and deleted once the answer is out.
      const { unregistered, deletePools } = await hub.unregisterDeferred(query.client_name);
      res.on("close", () => {
        deletePools().catch((err: unknown) => onError(err));
      });
      const body: UnregistrationResponse = { hub_name: hub.name, unregistered };
      res.json(body);
    },
  );

  route(HUB_ROUTES.psrd, async (req, res) => {
    const query = validate(PsrdQuerySchema, req.query, "query");
    const who = hub.isReferenceClient(query.client_name) ? undefined : credentialOf(req, query.client_name);
    if (who === undefined && reference.from(req, query.client_name)) {
      // Reference-client mode: only the named reference clients, only from the listed addresses.
      res.json(psrdBody(await hub.createReferencePsrdBlock(query.client_name, query.pool_owner, query.size)));
      return;
    }
    if (who !== "certificate" && who !== "enrollment") {
      throw new HubError(
        "unauthorized",
        `PSRD of client ${query.client_name} is delivered only to that client: present its TLS client certificate or ` +
          `Authorization: Bearer <enrollment secret from its first PSRD bundle>`,
        [{ header: "Authorization" }],
      );
    }
    res.json(psrdBody(await hub.createPsrdBlock(query.client_name, query.pool_owner, query.size)));
  });

  // ------------------------------------------------------------------ in band (signed)
  // The reference body names the master as `client_name` (reference-client mode).
  route(HUB_ROUTES.postKeyShare, signed(reference.shareSigner), async (req, res) => {
    let master: string;
    if (reference.isShareBody(req.body)) {
      const body = validate(ReferencePostKeyShareRequestSchema, req.body, "request body");
      await hub.postUnboundShare(body.client_name, body.encryption_key_allocation, body);
      master = body.client_name;
    } else {
      const body = validate(PostKeyShareRequestSchema, req.body, "request body");
      await hub.postShare(body);
      master = body.master_client_name;
    }
    metrics?.sharesReceived.inc({ client: metrics.clientLabel(master) });
    const response: PostKeyShareResponse = {};
    res.json(response);
  });

  route(
    HUB_ROUTES.getKeyShare,
    signed((_body, req) => req.query.client_name),
    async (req, res) => {
      let client: string;
      let share: GetKeyShareResponse;
      if (reference.isFetch(req.query)) {
        const query = validate(ReferenceGetKeyShareQuerySchema, req.query, "query");
        share = await hub.getShareByKeyId(query);
        client = query.client_name;
      } else {
        const query = validate(GetKeyShareQuerySchema, req.query, "query");
        share = await hub.getShare(query);
        client = query.client_name;
      }
      metrics?.sharesReleased.inc({ client: metrics.clientLabel(client) });
      res.json(share);
    },
  );

  route(HUB_ROUTES.postKeyShares, signed(fromBody("master_client_name")), async (req, res) => {
    const body = validate(PostKeySharesRequestSchema, req.body, "request body");
    const stored = await hub.postShares(body.master_client_name, body.encryption_key_allocation, body.shares);
    metrics?.sharesReceived.inc({ client: metrics.clientLabel(body.master_client_name) }, stored);
    const response: PostKeySharesResponse = { stored };
    res.json(response);
  });

  route(HUB_ROUTES.fetchKeyShares, signed(fromBody("client_name")), async (req, res) => {
    const body = validate(FetchKeySharesRequestSchema, req.body, "request body");
    const fetched: FetchKeySharesResponse = await hub.fetchShares(body.client_name, body.keys, body.ack);
    if (fetched.shares.length > 0) metrics?.sharesReleased.inc({ client: metrics.clientLabel(body.client_name) }, fetched.shares.length);
    res.json(fetched);
  });

  route(HUB_ROUTES.confirmPsrd, signed(fromBody("client_name")), async (req, res) => {
    const body = validate(PsrdConfirmRequestSchema, req.body, "request body");
    const response: PsrdConfirmResponse = { confirmed: await hub.confirmPsrd(body.client_name, body.block_uuids) };
    res.json(response);
  });

  route(HUB_ROUTES.shareMeta, signed(fromBody("client_name")), (req, res) => {
    const body = validate(ShareMetaRequestSchema, req.body, "request body");
    const response: ShareMetaResponse = hub.shareMeta(body.client_name, body.key_ids);
    res.json(response);
  });

  route(HUB_ROUTES.sharesHeld, json, (req, res) => {
    const body = validate(SharesHeldRequestSchema, req.body, "request body");
    const response: SharesHeldResponse = { held: hub.sharesHeld(body.key_ids) };
    res.json(response);
  });

  // ------------------------------------------------------------------ management
  route(HUB_ROUTES.issueBundle, operator, json, async (req, res) => {
    const body = validate(IssueBundleRequestSchema, req.body, "request body");
    const issued = await hub.issueBundle(body.client_name, body.client_owned_bytes, body.hub_owned_bytes, { authScheme: body.auth_scheme });
    const response: IssueBundleResponse = {
      file: issued.file,
      hub_name: issued.hubName,
      client_name: issued.clientName,
      seq: issued.seq,
      client_owned_bytes: issued.clientOwnedBytes,
      hub_owned_bytes: issued.hubOwnedBytes,
      blocks: issued.blocks,
    };
    res.json(response);
  });

  route(HUB_ROUTES.unregisterByOperator, operator, async (req, res) => {
    const query = validate(UnregistrationQuerySchema, req.query, "query");
    const unregistered = await hub.unregister(query.client_name);
    const body: UnregistrationResponse = { hub_name: hub.name, unregistered };
    res.json(body);
  });

  route(HUB_ROUTES.status, operator, (_req, res) => {
    res.json(options.insecure ? { ...hub.status(), insecure: true } : hub.status());
  });

  route(HUB_ROUTES.stop, operator, (_req, res) => {
    const onStop = options.onStop;
    if (!onStop) {
      sendError(res, 501, { message: "stop is not available: this hub is embedded without an onStop handler" });
      return;
    }
    const body: StopResponse = { message: `hub ${name} is stopping` };
    res.on("finish", () => {
      Promise.resolve()
        .then(onStop)
        .catch((err: unknown) => onError(err));
    });
    res.json(body);
  });

  // ------------------------------------------------------------------ observability
  mountObservability(router, {
    prefix,
    title: `DSKE hub ${name} API`,
    document: () => hubOpenApi(name, { metrics: node !== undefined }),
    metrics: node,
    operatorGuard: operator,
    docs: options.openapi ?? true,
  });

  // ------------------------------------------------------------------ fallbacks
  router.use(prefix, (req, res) => {
    sendError(res, 404, {
      message: `no such endpoint: ${req.method} ${req.originalUrl.split("?")[0]}`,
      details: [{ method: req.method }],
    });
  });

  router.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!req.originalUrl.startsWith(prefix + "/") && req.originalUrl !== prefix) {
      next(err);
      return;
    }
    if (res.headersSent) {
      onError(err);
      res.end();
      return;
    }
    const mapped = mapError(err);
    if (mapped.status >= 500 && !(err instanceof HubError)) onError(err);
    if (err instanceof HubError && (err.kind === "unauthorized" || err.kind === "forbidden")) node?.authFailure(`hub_${err.kind}`);
    sendError(res, mapped.status, mapped.body);
  });

  return router;
}
