/** @dske/client: the DSKE client (KME) with ETSI GS QKD 014 key delivery. */
export { Client } from "./client.js";
export { DEFAULT_HELD_KEY_TTL_MS, type ClientOptions, type ClientPsrdOptions, type GatherOptions } from "./client-options.js";
export { PeerHub, type PeerHubOptions } from "./peer-hub.js";
export { HubFailure, type HubLinkOptions } from "./hub-link.js";
export { hubAgentTls, isTlsHubUrl, plainRemoteHubUrls, HUB_TLS_MIN_VERSION, type HubTlsOptions } from "./hub-tls.js";
export { PSRD_DEFAULTS, resolvePsrdOptions, type PoolKind, type PsrdOptions } from "./replenishment.js";
export type { ShareRef, FetchedShare } from "./share-fetches.js";
export type { OutgoingShare } from "./share-posts.js";
export {
  createClientRouter,
  transportStatus,
  peerCertificateCn,
  DEFAULT_OPERATOR_CN,
  type ClientRouterOptions,
  type ClientRouter,
  type SaeAuthentication,
} from "./http/router.js";
export { STATUS_OF_KIND, httpStatusOf, etsiErrorBody, type KmeHttpStatus } from "./http/errors.js";
export {
  ETSI_ROUTES,
  CLIENT_MGMT_ROUTES,
  EncKeysQuerySchema,
  DecKeysQuerySchema,
  clientOpenApi,
  clientMounts,
  clientPrefixes,
  type ClientOpenApiOptions,
} from "./http/routes.js";
export {
  registerClientMetrics,
  createClientMetrics,
  pairLabels,
  type ClientMetrics,
  type KeyRole,
  type SaePair,
} from "./client-metrics.js";
export {
  ClientMgmtStatusSchema,
  PeerHubStatusSchema,
  ClientStopResponseSchema,
  type ClientMgmtStatus,
  type PeerHubStatus,
  type ClientStopResponse,
} from "@dske/protocol";
// The ETSI wire schemas and EtsiApi live in @dske/protocol; re-exported here for compatibility.
export {
  EtsiApi,
  EtsiApiError,
  StatusSchema,
  KeyRequestSchema,
  KeyContainerSchema,
  KeyIdsSchema,
  ErrorSchema,
  type EtsiApiOptions,
  type EtsiTlsOptions,
  type EtsiStatus,
  type KeyRequest,
  type KeyContainer,
  type EtsiKey,
  type KeyIds,
  type EtsiErrorBody,
} from "@dske/protocol";
export {
  DEFAULT_ETSI_LIMITS,
  parseEncKeysBody,
  parseEncKeysQuery,
  parseDecKeysBody,
  parseDecKeysQuery,
  saeIdFromAuthorization,
  type EtsiLimits,
  type EncKeysRequest,
  type DecKeysRequest,
} from "./etsi.js";
export { KmeError, KEYS_NOT_FOUND_MESSAGE, type KmeErrorDetail, type KmeErrorKind } from "./errors.js";
export {
  makeSplitKey,
  reconstructKey,
  openSecret,
  secretLength,
  padLength,
  newKeyId,
  newBatchKeyIds,
  batchSiblings,
  MAX_KEY_ID_BATCH,
  padLengthFromKeyId,
  isMulticastKeyId,
  type SplitKey,
  type SourcedShare,
  type Reconstruction,
} from "./key.js";
export { KeyStock, MAX_STOCK_BATCH, type KeyStockOptions, type StockedKey } from "./key-stock.js";
export { KeyStore, type IssuedKey, type DeliveredMark, type KeyStoreOptions } from "./key-store.js";
export {
  KEY_SOURCES,
  lagrangeAtZero,
  secretFromPsrdShares,
  splitKeyFromPsrd,
  makePsrdSplitKeys,
  type KeySource,
  type PadAllocation,
  type PadSource,
  type PsrdSplitKey,
} from "./key-source.js";
export { UnknownKeyGuard, UNKNOWN_KEY_BUDGET, UNKNOWN_KEY_WINDOW_MS } from "./unknown-keys.js";
export { NodeState, type HubRecord } from "./node-state.js";
export { consoleLogger, silentLogger, pinoLogger, type Logger, type LogFields } from "./logger.js";
export {
  parseClientArgs,
  startClientServer,
  runClientCli,
  ClientUsageError,
  type ClientServerConfig,
  type ClientTlsConfig,
  type RunningClientServer,
  type StartClientServerOptions,
} from "./bin/standalone.js";
export type { NodeStateBackend, NodeStateEntries, DeliveryLedger, DeliveryMark } from "./shared-state.js";
export { PgClientState, type PgClientStateOptions } from "./storage/pg-client-state.js";
export { StateSealer } from "./storage/state-sealing.js";
export { openPgClientStorage, parseClientStorage, type ClientStorageConfig, type OpenedClientStorage } from "./storage/client-storage.js";
