/**
 * @dske/hub: the DSKE security hub.
 *
 * - Domain (no HTTP): `Hub` and its parts (registration, pools, shares, bundles, distribution).
 * - HTTP: `createHubRouter(options)` and the route table that also drives the OpenAPI document.
 * - Standalone: `startHubServer` / `runHubCli` (the `dske-hub` binary).
 *
 * The wire contract is in @dske/protocol, the server toolkit in @dske/server.
 */
export { DEFAULT_COMPACT_INTERVAL_MS, DEFAULT_HUB_AUTH_SCHEMES, Hub, STATE_FILE, type HubOptions, type ShareInput } from "./hub.js";
export { HubError, HUB_ERROR_STATUS, type HubErrorKind } from "./errors.js";
export { MAX_BUNDLE_BLOCK_BYTES, type IssuedBundle } from "./bundle-issuer.js";
export { registerHubMetrics, type HubMetrics } from "./hub-metrics.js";
export { startDistribution, DistributionPlanSchema, type DistributionPlan, type DistributionOptions, type RunningDistribution } from "./distribution.js";
export { createHubRouter, type HubRouter, type HubRouterOptions, type HubRouterExtraOptions } from "./router.js";
export { HUB_ROUTES, hubOpenApi, hubMounts, type HubOpenApiOptions } from "./hub-routes.js";
export { parseHubArgs, startHubServer, runHubCli, CliUsageError, type HubServerConfig, type RunningHubServer, type StartHubServerOptions } from "./standalone.js";
