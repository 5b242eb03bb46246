export * from "./wire.js";
export { HubApi, HubApiError, toHubApiError, hubApiStats, type HubApiErrorCode, type HubApiOptions, type PsrdBlock, type SignedCallOptions } from "./hub-api.js";
export { DEFAULT_COMPACT_INTERVAL_MS, DEFAULT_HUB_AUTH_SCHEMES, Hub, STATE_FILE, type HubOptions, type ShareInput } from "./hub.js";
export { HubError, HUB_ERROR_STATUS, type HubErrorKind } from "./errors.js";
export { PeerClient, poolNames, type WirePoolOwner } from "./peer-client.js";
export { ShareStore, type StoredShare, type NewShare, type JournalSink } from "./share-store.js";
export { createHubRouter, type HubRouter, type HubRouterOptions, type HubRouterExtraOptions } from "./router.js";
export { parseHubArgs, startHubServer, runHubCli, CliUsageError, type HubServerConfig, type RunningHubServer, type StartHubServerOptions } from "./standalone.js";
export { HUB_ROUTES, hubOpenApi, hubMounts, type HubOpenApiOptions } from "./hub-routes.js";
export { buildOpenApiDocument, type OpenApiDocument, type OpenApiInfo, type JsonObject } from "./openapi.js";
export { named, expressPath, fullPath, MANAGEMENT_TAG, type RouteSpec, type RouteResponse, type RouteSecurity, type NamedSchema, type MountedRoutes, type HttpMethod } from "./route-table.js";
export { registerRoute, listRouterRoutes, type RegisteredRoute } from "./route-register.js";
export { mountObservability, createObservabilityRouter, observabilityRoutes, OBSERVABILITY_ROUTES, OBSERVABILITY_TAG, HealthSchema, type ObservabilityMountOptions } from "./docs.js";
export { NodeMetrics, OTHER_LABEL, boundedLabel, registerHubMetrics, UNMATCHED_ROUTE, type NodeMetricsOptions, type HubMetrics, type PoolBytes } from "./metrics.js";
export {
  createNodeLogger,
  lineLogger,
  silentPino,
  requestIdMiddleware,
  inRequestContext,
  requestContext,
  currentRequestId,
  acceptableRequestId,
  REQUEST_ID_HEADER,
  type NodeLoggerOptions,
  type RequestIdOptions,
  type RequestContext,
  type PinoLogger,
} from "./log.js";
export {
  createOperatorGuard,
  crossSiteGuard,
  jsonWritesOnly,
  isJsonContentType,
  sameOrigin,
  isLoopbackHost,
  isOperatorGuard,
  peerCertificateCn,
  readOperatorTokenFile,
  operatorTokenOf,
  operatorTokenProblem,
  OperatorTokenFileError,
  DEFAULT_OPERATOR_CN,
  OPERATOR_TOKEN_FILE,
  OPERATOR_CREDENTIAL_REQUIRED,
  MANAGEMENT_DISABLED,
  type OperatorGuard,
  type OperatorGuardOptions,
} from "./operator.js";
export { startDistribution, DistributionPlanSchema, type DistributionPlan, type DistributionOptions, type RunningDistribution } from "./distribution.js";
export { BundleIssuer, MAX_BUNDLE_BLOCK_BYTES, type IssuedBundle } from "./bundle-issuer.js";
