/**
 * The hub's route table (paths relative to `/hub/{name}`), used by createHubRouter to register
 * its handlers and by `hubOpenApi` to generate the OpenAPI 3.1 document. Schemas are the wire
 * schemas of @dske/protocol (no copies).
 */
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
import {
  ErrorBodySchema,
  FetchKeySharesRequestSchema,
  FetchKeySharesResponseSchema,
  GetKeyShareQuerySchema,
  GetKeyShareResponseSchema,
  HubStatusSchema,
  IssueBundleRequestSchema,
  IssueBundleResponseSchema,
  PsrdConfirmRequestSchema,
  PsrdConfirmResponseSchema,
  PostKeyShareRequestSchema,
  PostKeyShareResponseSchema,
  PostKeySharesRequestSchema,
  PostKeySharesResponseSchema,
  PsrdQuerySchema,
  PsrdResponseSchema,
  RegistrationRequestSchema,
  RegistrationResponseSchema,
  ShareMetaRequestSchema,
  ShareMetaResponseSchema,
  SharesHeldRequestSchema,
  SharesHeldResponseSchema,
  StopResponseSchema,
  UnregistrationQuerySchema,
  UnregistrationResponseSchema,
} from "@dske/protocol";

const error = (description: string): RouteResponse => ({ description, body: named("ErrorBody", ErrorBodySchema) });
const E400 = error("Invalid request (zod issues in `details`)");
const E401 = error("Signature missing or wrong, or unknown signer");
const E404 = error("Unknown client, or no share available to the caller");
const E409 = error("Conflict (auth scheme change while registered, encryptor hosted by another client, duplicate share)");
const E413 = error("Request body too large");
const E503 = error("PSRD exhausted or state store unavailable");

const OOB = "out-of-band";
const INBAND = "in-band (signed)";
const MGMT = MANAGEMENT_TAG;

export const HUB_ROUTES = {
  register: {
    operationId: "registerClient",
    method: "put",
    path: "/dske/oob/v1/registration",
    summary: "Register a client (out of band) and negotiate the auth scheme",
    description:
      "Only for clients in the hub's acceptance policy, proven by one of: a `DSKE-Signature` made with PSRD of the client's " +
      "first bundle (what dske clients do; the response is then signed too), `Authorization: Bearer <enrollment secret>` " +
      "(from the first bundle), or the operator credential. The client proposes `auth_scheme` (e.g. `gf128`); the hub " +
      "echoes the scheme it chose. A missing echo means v1 `hmac-sha256`. Reference-client mode (opt-in): a client the hub " +
      "names a reference client may register without proof from the listed source addresses (hmac-sha256, fresh pools each time).",
    tags: [OOB],
    body: named("RegistrationRequest", RegistrationRequestSchema),
    responses: {
      200: { description: "Registered", body: named("RegistrationResponse", RegistrationResponseSchema) },
      400: E400,
      401: E401,
      403: error("Client not in the acceptance policy"),
      409: E409,
      413: E413,
      503: E503,
    },
  },
  unregister: {
    operationId: "unregisterClient",
    method: "delete",
    path: "/dske/oob/v1/registration",
    summary: "Unregister a client: zero and delete its pools and shares (idempotent)",
    description: "Only by the client itself (`DSKE-Signature`) or the operator.",
    tags: [OOB],
    query: UnregistrationQuerySchema,
    responses: {
      200: { description: "Unregistered (or was not registered)", body: named("UnregistrationResponse", UnregistrationResponseSchema) },
      400: E400,
      401: E401,
      503: E503,
    },
  },
  psrd: {
    operationId: "getPsrdBlock",
    method: "get",
    path: "/dske/oob/v1/psrd",
    summary: "Network PSRD delivery (optional, `psrd_delivery: network`) to the authenticated client itself",
    description:
      "Off by default: PSRD comes in bundles carried out of band. When on, only the client itself may call it (TLS client " +
      "certificate CN = client_name, or `Authorization: Bearer <enrollment secret>` from its first bundle), and the block is " +
      "used by the hub only after the client confirms it in band (`psrd-confirm`). Network delivery makes PSRD " +
      "confidentiality computational (it rests on TLS). `pool_owner=client`: client-owned; `hub`: hub-owned. Reference-client " +
      "mode (opt-in): a named reference client gets blocks without proof from the listed source addresses, usable at once.",
    tags: [OOB],
    query: PsrdQuerySchema,
    responses: {
      200: { description: "The block (standard base64)", body: named("PsrdResponse", PsrdResponseSchema) },
      400: E400,
      401: E401,
      403: error("Network delivery disabled, or another client's PSRD"),
      404: E404,
      413: E413,
      503: E503,
    },
  },
  confirmPsrd: {
    operationId: "confirmPsrd",
    method: "post",
    path: "/dske/api/v1/psrd-confirm",
    summary: "Confirm received PSRD blocks (client → hub, signed): the hub starts using them",
    description:
      "Hub-owned blocks of a bundle and every network-delivered block are staged at the hub until the client confirms them here.",
    tags: [INBAND],
    security: "dske-signature",
    body: named("PsrdConfirmRequest", PsrdConfirmRequestSchema),
    responses: {
      200: { description: "Confirmed", body: named("PsrdConfirmResponse", PsrdConfirmResponseSchema) },
      400: E400,
      401: E401,
      404: E404,
      503: E503,
    },
  },
  postKeyShare: {
    operationId: "postKeyShare",
    method: "post",
    path: "/dske/api/v1/key-share",
    summary: "Store one encrypted key share (master client → hub)",
    description:
      "A reference client (reference-client mode) may send the reference body instead: `{client_name, user_key_id, " +
      "share_index, encryption_key_allocation, encrypted_share_value}` (`client_name` = master, no SAE IDs): an unbound share, " +
      "released to whichever registered client names its key ID.",
    tags: [INBAND],
    security: "dske-signature",
    body: named("PostKeyShareRequest", PostKeyShareRequestSchema),
    responses: {
      200: { description: "Stored", body: named("PostKeyShareResponse", PostKeyShareResponseSchema) },
      400: E400,
      401: E401,
      409: E409,
      413: E413,
      503: E503,
    },
  },
  getKeyShare: {
    operationId: "getKeyShare",
    method: "get",
    path: "/dske/api/v1/key-share",
    summary: "Fetch one key share, re-encrypted with hub-owned PSRD (responder client ← hub)",
    description:
      "A reference client (reference-client mode) may omit `master_sae_id` and `slave_sae_id`: it gets the share if it is " +
      "unbound or meant for an SAE it hosts.",
    tags: [INBAND],
    security: "dske-signature",
    query: GetKeyShareQuerySchema,
    responses: {
      200: { description: "The share", body: named("GetKeyShareResponse", GetKeyShareResponseSchema) },
      400: E400,
      401: E401,
      404: E404,
      503: E503,
    },
  },
  postKeyShares: {
    operationId: "postKeyShares",
    method: "post",
    path: "/dske/api/v1/key-shares",
    summary: "Store many encrypted key shares in one signed message (batch extension)",
    description:
      'All or nothing; one PSRD allocation for all pads, cut in item order. Advertised as `extensions: ["batch"]` at registration.',
    tags: [INBAND],
    security: "dske-signature",
    body: named("PostKeySharesRequest", PostKeySharesRequestSchema),
    responses: {
      200: { description: "Stored", body: named("PostKeySharesResponse", PostKeySharesResponseSchema) },
      400: E400,
      401: E401,
      409: E409,
      413: E413,
      503: E503,
    },
  },
  fetchKeyShares: {
    operationId: "fetchKeyShares",
    method: "post",
    path: "/dske/api/v1/key-shares/fetch",
    summary: "Fetch many key shares in one signed message (batch extension)",
    tags: [INBAND],
    security: "dske-signature",
    body: named("FetchKeySharesRequest", FetchKeySharesRequestSchema),
    responses: {
      200: {
        description: "Available shares, and the key IDs that are not",
        body: named("FetchKeySharesResponse", FetchKeySharesResponseSchema),
      },
      400: E400,
      401: E401,
      413: E413,
      503: E503,
    },
  },
  shareMeta: {
    operationId: "getKeyShareMeta",
    method: "post",
    path: "/dske/api/v1/key-shares/meta",
    summary: "Who listed keys are for (master and slave SAE IDs; never values), for a responder client",
    description:
      "Lists only stored, unexpired shares of which the calling client hosts an intended slave SAE. Lets the client answer " +
      "ETSI 401 (not for this SAE) rather than 400, and hold a multicast key for a further local slave SAE.",
    tags: [INBAND],
    security: "dske-signature",
    body: named("ShareMetaRequest", ShareMetaRequestSchema),
    responses: {
      200: { description: "The metadata", body: named("ShareMetaResponse", ShareMetaResponseSchema) },
      400: E400,
      401: E401,
      413: E413,
    },
  },
  sharesHeld: {
    operationId: "getKeySharesHeld",
    method: "post",
    path: "/dske/api/v1/key-shares/held",
    summary: "Which of the given key IDs the hub holds a live share of (unsigned, no PSRD; nothing about other IDs)",
    description:
      "Reveals no SAE or client names and nothing about key IDs not given (key IDs are unguessable). A client checks key IDs " +
      "here before it spends PSRD on signed lookups (its unknown-key guard).",
    tags: [INBAND],
    body: named("SharesHeldRequest", SharesHeldRequestSchema),
    responses: {
      200: { description: "The held subset", body: named("SharesHeldResponse", SharesHeldResponseSchema) },
      400: E400,
      413: E413,
    },
  },
  status: {
    operationId: "getHubStatus",
    method: "get",
    path: "/mgmt/v1/status",
    summary: "Hub status: peer clients, PSRD pool levels, shares held (never values); operator only",
    tags: [MGMT],
    security: "operator",
    responses: { 200: { description: "Status", body: named("HubStatus", HubStatusSchema) } },
  },
  issueBundle: {
    operationId: "issuePsrdBundle",
    method: "post",
    path: "/mgmt/v1/psrd-bundles",
    summary: "Issue a sealed PSRD bundle for a client into the hub's outbox (operator / local distributor)",
    description:
      "The bundle file is written on the hub's host (mode 0600); its bytes never travel over HTTP. Carry it to the client " +
      "and install it there (`dske-cli psrd install`). The first bundle registers the client (acceptance policy).",
    tags: [MGMT],
    security: "operator",
    body: named("IssueBundleRequest", IssueBundleRequestSchema),
    responses: {
      200: { description: "Issued", body: named("IssueBundleResponse", IssueBundleResponseSchema) },
      400: E400,
      403: error("Client not in the acceptance policy"),
      409: error("A cap (max_pool_bytes, max_pool_blocks, max_clients) would be exceeded"),
      503: E503,
    },
  },
  unregisterByOperator: {
    operationId: "unregisterClientByOperator",
    method: "delete",
    path: "/mgmt/v1/registration",
    summary: "Unregister a client (operator): zero and delete its pools, shares and bundle chain",
    tags: [MGMT],
    security: "operator",
    query: UnregistrationQuerySchema,
    responses: {
      200: { description: "Unregistered (or was not registered)", body: named("UnregistrationResponse", UnregistrationResponseSchema) },
      400: E400,
      503: E503,
    },
  },
  stop: {
    operationId: "stopHub",
    method: "post",
    path: "/mgmt/v1/stop",
    summary: "Stop the hub gracefully (answers first); operator only, Content-Type: application/json (body {})",
    tags: [MGMT],
    security: "operator",
    responses: {
      200: { description: "Stopping", body: named("StopResponse", StopResponseSchema) },
      501: error("Embedded without an onStop handler"),
    },
  },
} as const satisfies Record<string, RouteSpec>;

export interface HubOpenApiOptions {
  /** Document /metrics (default true). */
  metrics?: boolean;
  /** Also list the app-root aliases `/openapi.json`, `/docs`, `/redoc`, `/metrics`, `/health` of the standalone server. */
  rootAliases?: boolean;
  /** info.version (default the wire version "1"). */
  version?: string;
}

/** The hub's mounted route tables (API + the infrastructure endpoints under `/hub/{name}`, and at the root with rootAliases). */
export function hubMounts(name: string, options: HubOpenApiOptions = {}): MountedRoutes[] {
  const prefix = `/hub/${encodeURIComponent(name)}`;
  const withMetrics = options.metrics ?? true;
  const mounts: MountedRoutes[] = [
    { prefix, routes: Object.values(HUB_ROUTES) },
    { prefix, routes: observabilityRoutes(withMetrics), infrastructure: true },
  ];
  if (options.rootAliases) mounts.push({ prefix: "", routes: observabilityRoutes(withMetrics), infrastructure: true });
  return mounts;
}

/** The OpenAPI 3.1 document of hub `name` (paths are absolute: `/hub/{name}/...`). */
export function hubOpenApi(name: string, options: HubOpenApiOptions = {}): OpenApiDocument {
  return buildOpenApiDocument(
    {
      title: `DSKE security hub ${name}`,
      version: options.version ?? "1",
      description:
        "Security hub of Distributed Symmetric Key Establishment (DSKE). Out-of-band routes stand in for PSRD delivery and " +
        "registration; in-band routes carry one-time-pad-encrypted key shares and are authenticated with the `DSKE-Signature` " +
        "header (PSRD-based MAC), which this page cannot produce. Errors: `{message, details?}`.",
    },
    hubMounts(name, options),
  );
}
