/**
 * @dske/protocol: the DSKE wire contract shared by hubs, clients and the CLI. No server code.
 *
 * - `wire.ts`: ids, limits and the hub's request / response schemas (in-band, out-of-band, management).
 * - `hub-api.ts`: `HubApi`, the typed client of one hub.
 * - `logger.ts`: the one `Logger` interface of domain code.
 * - `client-mgmt.ts`: the client node's management wire (status, bundles, PSRD needs, stop).
 */
export * from "./wire.js";
export { HubApi, HubApiError, toHubApiError, hubApiStats, type HubApiErrorCode, type HubApiOptions, type PsrdBlock, type SignedCallOptions } from "./hub-api.js";
export * from "./client-mgmt.js";
export { silentLogger, type Logger, type LogFields } from "./logger.js";
