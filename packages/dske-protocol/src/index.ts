/**
 * @dske/protocol: the DSKE wire contract shared by hubs, clients and the CLI. No server code.
 *
 * - `wire.ts`: the hub's wire (ids, limits, request / response schemas), one file per concept.
 * - `hub-api.ts`: `HubApi`, the typed client of one hub (`hub-api-error.ts`: its errors;
 *   `http-transport.ts`: its one node:http transport).
 * - `logger.ts`: the one `Logger` interface of domain code.
 * - `trace-context.ts`: request and trace IDs of the request being served (W3C `traceparent`).
 * - `client-mgmt.ts`: the client node's management wire (status, bundles, PSRD needs, stop).
 * - `etsi.ts`: the ETSI GS QKD 014 data formats; `etsi-api.ts`: `EtsiApi`, the typed SAE-side client.
 * - `json-request.ts`: one JSON request over node:http(s), for management calls.
 */
export * from "./wire.js";
export {
  HUB_API_REQUEST_CHANNEL,
  HubApi,
  type HubApiOptions,
  type HubApiRequestMessage,
  type HubRequestInfo,
  type PsrdBlock,
  type SignedCallOptions,
} from "./hub-api.js";
export type { UnexpectedResponse } from "./hub-api-body.js";
export { HubApiError, toHubApiError, type HubApiErrorCode } from "./hub-api-error.js";
export * from "./client-mgmt.js";
export {
  StatusSchema,
  KeyRequestSchema,
  KeySchema,
  KeyContainerSchema,
  KeyIdsSchema,
  ErrorSchema,
  ReceivedKeyContainerSchema,
  ReceivedStatusSchema,
  type EtsiStatus,
  type KeyRequest,
  type EtsiKey,
  type KeyContainer,
  type KeyIds,
  type EtsiErrorBody,
} from "./etsi.js";
export { EtsiApi, EtsiApiError, type EtsiApiOptions, type EtsiTlsOptions } from "./etsi-api.js";
export { capturingLogger, silentLogger, type CapturedLine, type Logger, type LogFields } from "./logger.js";
export {
  TRACEPARENT_HEADER,
  requestContext,
  currentRequestId,
  currentTraceId,
  parseTraceparent,
  traceFor,
  outgoingTraceparent,
  newTraceId,
  newSpanId,
  type RequestContext,
} from "./trace-context.js";
export { jsonRequest, readJsonResponse, type JsonRequestOptions, type JsonResponse } from "./json-request.js";
