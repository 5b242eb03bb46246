/**
 * @dske/server: the server toolkit shared by hub and client nodes (Express, pino, prom-client).
 *
 * - `log.ts`: pino node loggers and request IDs.
 * - `metrics.ts`: `NodeMetrics`, one Prometheus registry per node, bounded labels.
 * - `route-table.ts`, `route-register.ts`: route tables that drive both the routers and OpenAPI.
 * - `openapi.ts`, `docs.ts`: the OpenAPI document, Swagger UI, `/health` and `/metrics`.
 * - `operator.ts`: who may call management routes (operator certificate or token), cross-site guard.
 * - `tls-files.ts`: the TLS files of a standalone node (certificate, key, CA), read and checked at start.
 */
export { buildOpenApiDocument, type OpenApiDocument, type OpenApiInfo, type JsonObject } from "./openapi.js";
export {
  named,
  expressPath,
  fullPath,
  servedOperations,
  MANAGEMENT_TAG,
  type RouteSpec,
  type RouteResponse,
  type RouteSecurity,
  type NamedSchema,
  type MountedRoutes,
  type HttpMethod,
} from "./route-table.js";
export { registerRoute, listRouterRoutes, type RegisteredRoute } from "./route-register.js";
export {
  mountObservability,
  createObservabilityRouter,
  observabilityRoutes,
  OBSERVABILITY_ROUTES,
  OBSERVABILITY_TAG,
  HealthSchema,
  type ObservabilityMountOptions,
} from "./docs.js";
export { NodeMetrics, OTHER_LABEL, boundedLabel, UNMATCHED_ROUTE, type NodeMetricsOptions, type PoolBytes } from "./metrics.js";
export { pinoLogger, consoleLogger } from "./logger.js";
export { openNodeLog, type NodeLog, type OpenNodeLogOptions } from "./node-log.js";
export {
  logConfigOf,
  LOG_OPTION_SPECS,
  LOG_LEVELS,
  DEFAULT_LOG_MAX_SIZE,
  DEFAULT_LOG_MAX_FILES,
  type LogConfig,
  type LogLevel,
} from "./log-options.js";
export { captureStdio, asJsonLines } from "./stdio-capture.js";
export {
  createNodeLogger,
  lineLogger,
  silentPino,
  requestIdMiddleware,
  requestLine,
  isRoutinePoll,
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
  bearerToken,
  sameSecret,
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
export {
  TlsFileError,
  readTlsFile,
  readCaFile,
  readServerTlsFiles,
  parseCertificate,
  checkKeyPair,
  checkCaCertificate,
  type TlsFileRef,
  type ServerTlsFiles,
} from "./tls-files.js";
export { plainOptionDescription, plainDefault, type HelpOption } from "./cli-help.js";
