/** @dske/client: the DSKE client (KME) with ETSI GS QKD 014 key delivery. */
export { Client, type ClientOptions } from "./client.js";
export { PeerHub, HubFailure, type PeerHubOptions, type OutgoingShare, type ShareRef, type PoolKind } from "./peer-hub.js";
export {
  createClientRouter,
  transportStatus,
  peerCertificateCn,
  DEFAULT_OPERATOR_CN,
  type ClientRouterOptions,
  type SaeAuthentication,
} from "./router.js";
export { EtsiApi, EtsiApiError, type EtsiApiOptions, type EtsiTlsOptions } from "./etsi-api.js";
export {
  DEFAULT_ETSI_LIMITS,
  StatusSchema,
  KeyRequestSchema,
  KeyContainerSchema,
  KeyIdsSchema,
  ErrorSchema,
  parseEncKeysBody,
  parseEncKeysQuery,
  parseDecKeysBody,
  parseDecKeysQuery,
  saeIdFromAuthorization,
  type EtsiLimits,
  type EtsiStatus,
  type KeyRequest,
  type KeyContainer,
  type EtsiKey,
  type KeyIds,
  type EtsiErrorBody,
  type EncKeysRequest,
  type DecKeysRequest,
} from "./etsi.js";
export { EtsiError, KEYS_NOT_FOUND_MESSAGE, type EtsiErrorDetail, type EtsiStatusCode } from "./errors.js";
export {
  makeSplitKey,
  reconstructKey,
  openSecret,
  secretLength,
  padLength,
  newKeyId,
  padLengthFromKeyId,
  isMulticastKeyId,
  type SplitKey,
  type SourcedShare,
  type Reconstruction,
} from "./key.js";
export { KeyStore, type IssuedKey, type DeliveredMark, type KeyStoreOptions } from "./key-store.js";
export { NodeState, type HubRecord } from "./node-state.js";
export { consoleLogger, silentLogger, type Logger } from "./logger.js";
export {
  parseClientArgs,
  startClientServer,
  runClientCli,
  ClientUsageError,
  type ClientServerConfig,
  type ClientTlsConfig,
  type RunningClientServer,
} from "./standalone.js";
