/**
 * The client's route tables: ETSI GS QKD 014 (relative to the keys base, mounted at
 * `/client/{name}/etsi/api/v1/keys` and at the standard root `/api/v1/keys`) and management
 * (relative to `/client/{name}/mgmt/v1`). createClientRouter registers its handlers from them and
 * `clientOpenApi` generates the OpenAPI 3.1 document from them: the two cannot drift. Body schemas
 * are those of etsi.ts and @dske/protocol (client-mgmt.ts).
 */
import { z } from "zod";
import { SaeIdSchema } from "@dske/protocol";
import {
  MANAGEMENT_TAG,
  buildOpenApiDocument,
  named,
  observabilityRoutes,
  type MountedRoutes,
  type OpenApiDocument,
  type RouteResponse,
  type RouteSpec,
} from "@dske/server";
import { ErrorSchema, KeyContainerSchema, KeyIdsSchema, KeyRequestSchema, StatusSchema } from "@dske/protocol";
import {
  ClientMgmtStatusSchema,
  ClientStopResponseSchema,
  InstallBundleRequestSchema,
  InstallBundleResponseSchema,
  ClientStatusQuerySchema,
  PsrdNeedsQuerySchema,
  PsrdNeedsResponseSchema,
  ResetHubPsrdRequestSchema,
  ResetHubPsrdResponseSchema,
} from "@dske/protocol";

const error = (description: string): RouteResponse => ({ description, body: named("Error", ErrorSchema) });
const E400 = error("Bad request format, or keys not found / not for this SAE (ETSI clause 5)");
const E401 = error("Unauthorized: no calling SAE identity, or the SAE may not use this KME / key");
const E413 = error("Request body too large");
const E503 = error("Error on the server side (e.g. not enough hubs reachable, PSRD exhausted)");

const ETSI = "ETSI GS QKD 014";
const MGMT = MANAGEMENT_TAG;

/** GET enc_keys query (clause 5.2): decimal integers (parsed by etsi.ts); only these two parameters are accepted. */
export const EncKeysQuerySchema = z.object({
  number: z.int().min(1).max(999_999_999).optional().describe("Number of keys (default 1, at most max_key_per_request of the status)"),
  size: z
    .int()
    .min(8)
    .max(999_999_992)
    .multipleOf(8)
    .optional()
    .describe("Key size in bits (a multiple of 8 from min_key_size to max_key_size of the status; default key_size)"),
});

/** GET dec_keys query (clause 5.3): exactly one key_ID. */
export const DecKeysQuerySchema = z.object({
  key_ID: z.string().describe("The key ID (use POST dec_keys for several)"),
});

const SlaveParam = z.object({ slave_SAE_ID: SaeIdSchema.describe("The SAE that will get the same keys with dec_keys") });
const MasterParam = z.object({ master_SAE_ID: SaeIdSchema.describe("The SAE that got the keys with enc_keys") });

const keyContainer = { description: "Key container", body: named("KeyContainer", KeyContainerSchema) };

export const ETSI_ROUTES = {
  getStatus: {
    operationId: "getStatus",
    method: "get",
    path: "/{slave_SAE_ID}/status",
    summary: "Get status (clause 5.1): key counts and limits towards slave_SAE_ID",
    tags: [ETSI],
    security: "sae-authorization",
    pathParams: SlaveParam,
    responses: { 200: { description: "Status", body: named("Status", StatusSchema) }, 400: E400, 401: E401, 503: E503 },
  },
  getKeyGet: {
    operationId: "getKeyGet",
    method: "get",
    path: "/{slave_SAE_ID}/enc_keys",
    summary: "Get key (clause 5.2, GET): new keys for the calling (master) SAE and slave_SAE_ID",
    tags: [ETSI],
    security: "sae-authorization",
    pathParams: SlaveParam,
    query: EncKeysQuerySchema,
    responses: { 200: keyContainer, 400: E400, 401: E401, 503: E503 },
  },
  getKeyPost: {
    operationId: "getKeyPost",
    method: "post",
    path: "/{slave_SAE_ID}/enc_keys",
    summary: "Get key (clause 5.2, POST): number, size and additional_slave_SAE_IDs (multicast) in the body",
    tags: [ETSI],
    security: "sae-authorization",
    pathParams: SlaveParam,
    body: { ...named("KeyRequest", KeyRequestSchema), required: false },
    responses: { 200: keyContainer, 400: E400, 401: E401, 413: E413, 503: E503 },
  },
  getKeyWithIdsGet: {
    operationId: "getKeyWithKeyIdsGet",
    method: "get",
    path: "/{master_SAE_ID}/dec_keys",
    summary: "Get key with key IDs (clause 5.3, GET): one key the master SAE obtained, for an intended slave SAE",
    tags: [ETSI],
    security: "sae-authorization",
    pathParams: MasterParam,
    query: DecKeysQuerySchema,
    responses: { 200: keyContainer, 400: E400, 401: E401, 503: E503 },
  },
  getKeyWithIdsPost: {
    operationId: "getKeyWithKeyIdsPost",
    method: "post",
    path: "/{master_SAE_ID}/dec_keys",
    summary: "Get key with key IDs (clause 5.3, POST): several key IDs in the body",
    tags: [ETSI],
    security: "sae-authorization",
    pathParams: MasterParam,
    body: named("KeyIds", KeyIdsSchema),
    responses: { 200: keyContainer, 400: E400, 401: E401, 413: E413, 503: E503 },
  },
} as const satisfies Record<string, RouteSpec>;

export const CLIENT_MGMT_ROUTES = {
  status: {
    operationId: "getClientStatus",
    method: "get",
    path: "/status",
    summary: "Client status: peer hubs, registrations, PSRD pool levels, key counts (never key bytes); operator only",
    description:
      "With wait_ready_ms, a long poll: answers once the client is registered with every hub with PSRD both ways, or after wait_ready_ms.",
    tags: [MGMT],
    security: "operator",
    query: ClientStatusQuerySchema,
    responses: {
      200: { description: "Status", body: named("ClientStatus", ClientMgmtStatusSchema) },
      400: error("wait_ready_ms is not an integer from 0 to 30000"),
      401: error("No operator credential (token, or the operator certificate under mutual TLS), or management disabled"),
      403: error("Wrong operator token or certificate, or a cross-site request"),
    },
  },
  installBundle: {
    operationId: "installPsrdBundle",
    method: "post",
    path: "/psrd-bundles",
    summary: "Install a PSRD bundle file from this client's host (operator / local distributor)",
    description: "Refused, with nothing installed, when tampered, truncated, replayed, out of order, or meant for another client or hub.",
    tags: [MGMT],
    security: "operator",
    body: named("InstallBundleRequest", InstallBundleRequestSchema),
    responses: {
      200: { description: "Installed", body: named("InstallBundleResponse", InstallBundleResponseSchema) },
      400: error("Bundle refused (see message)"),
      404: error("No such file"),
      401: error("No operator credential"),
      403: error("Not the operator"),
    },
  },
  psrdNeeds: {
    operationId: "getPsrdNeeds",
    method: "get",
    path: "/psrd-needs",
    summary: "PSRD this client's pools need (long poll for the local distributor; each need is handed over once)",
    tags: [MGMT],
    security: "operator",
    query: PsrdNeedsQuerySchema,
    responses: {
      200: { description: "Needs (empty when none within wait_ms)", body: named("PsrdNeeds", PsrdNeedsResponseSchema) },
      401: error("No operator credential"),
      403: error("Not the operator"),
    },
  },
  resetHubPsrd: {
    operationId: "resetHubPsrd",
    method: "post",
    path: "/psrd-reset",
    summary: "Forget this client's PSRD with one hub (e.g. the hub lost its state); a new first bundle follows",
    tags: [MGMT],
    security: "operator",
    body: named("ResetHubPsrdRequest", ResetHubPsrdRequestSchema),
    responses: {
      200: { description: "Reset", body: named("ResetHubPsrdResponse", ResetHubPsrdResponseSchema) },
      400: error("Unknown hub"),
      401: error("No operator credential"),
      403: error("Not the operator"),
    },
  },
  stop: {
    operationId: "stopClient",
    method: "post",
    path: "/stop",
    summary: "Stop the client gracefully (answers first); operator only, Content-Type: application/json (body {})",
    tags: [MGMT],
    security: "operator",
    responses: {
      200: { description: "Stopping", body: named("StopResponse", ClientStopResponseSchema) },
      401: error("No operator credential (token, or the operator certificate under mutual TLS), or management disabled"),
      403: error("Wrong operator token or certificate, or a cross-site request"),
      415: error("Content-Type is not application/json"),
    },
  },
} as const satisfies Record<string, RouteSpec>;

export interface ClientOpenApiOptions {
  /** Document the ETSI routes at the standard root `/api/v1/keys` too (default true, as the router). */
  standardRoot?: boolean;
  /** Document /metrics (default true). */
  metrics?: boolean;
  /** Also list the app-root aliases `/openapi.json`, `/docs`, `/redoc`, `/metrics`, `/health` of the standalone server. */
  rootAliases?: boolean;
  version?: string;
}

/** Prefixes of client `name`. */
export function clientPrefixes(name: string): { node: string; etsi: string; mgmt: string; standardEtsi: string } {
  const node = `/client/${encodeURIComponent(name)}`;
  return { node, etsi: `${node}/etsi/api/v1/keys`, mgmt: `${node}/mgmt/v1`, standardEtsi: "/api/v1/keys" };
}

export function clientMounts(name: string, options: ClientOpenApiOptions = {}): MountedRoutes[] {
  const p = clientPrefixes(name);
  const withMetrics = options.metrics ?? true;
  const mounts: MountedRoutes[] = [
    { prefix: p.etsi, routes: Object.values(ETSI_ROUTES) },
    { prefix: p.mgmt, routes: Object.values(CLIENT_MGMT_ROUTES) },
    { prefix: p.node, routes: observabilityRoutes(withMetrics), infrastructure: true },
  ];
  // The ETSI standard root serves the same operations: an alias, documented on each operation.
  if (options.standardRoot ?? true) mounts.push({ prefix: p.standardEtsi, routes: Object.values(ETSI_ROUTES), aliasOf: p.etsi });
  if (options.rootAliases) mounts.push({ prefix: "", routes: observabilityRoutes(withMetrics), infrastructure: true });
  return mounts;
}

/** The OpenAPI 3.1 document of client `name` (absolute paths). */
export function clientOpenApi(name: string, options: ClientOpenApiOptions = {}): OpenApiDocument {
  return buildOpenApiDocument(
    {
      title: `DSKE client (KME) ${name}`,
      version: options.version ?? "1",
      description:
        "Key management entity of Distributed Symmetric Key Establishment (DSKE). Encryptors (SAEs) get keys through " +
        "ETSI GS QKD 014 (enc_keys on the master SAE's KME, dec_keys on each slave SAE's KME). The calling SAE is named by " +
        "the Authorization header (plain HTTP, insecure) or by the client certificate CN (mutual TLS). Errors: `{message, details?}`.",
    },
    clientMounts(name, options),
  );
}
