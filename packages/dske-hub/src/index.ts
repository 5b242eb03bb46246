/**
 * @dske/hub: the DSKE security hub.
 *
 * - Domain (no HTTP): `Hub` and its parts (registration, PSRD delivery, shares, state), and the
 *   local distributor (`startDistribution`).
 * - HTTP: `createHubRouter({ hub })` and the route table that also drives the OpenAPI document.
 * - Standalone: `startHubServer` / `runHubCli` (the `dske-hub` binary).
 *
 * The wire contract is in @dske/protocol, the server toolkit in @dske/server.
 */
export { Hub } from "./hub.js";
export { DEFAULT_HUB_AUTH_SCHEMES, type HubOptions } from "./hub-options.js";
export { DEFAULT_COMPACT_INTERVAL_MS, STATE_FILE } from "./hub-state.js";
export type { ShareInput, UnboundShareInput } from "./shares.js";
export { DEFAULT_REFERENCE_SOURCES, ReferenceClients, normalizeAddress, type ReferenceClientsOption } from "./reference-clients.js";
export { HubError, type HubErrorKind } from "./errors.js";
export { MAX_BUNDLE_BLOCK_BYTES, type IssuedBundle } from "./bundle-issuer.js";
export {
  startDistribution,
  DistributionPlanSchema,
  type DistributionPlan,
  type DistributionOptions,
  type RunningDistribution,
} from "./distribution.js";
export { createHubRouter, type HubRouter, type HubRouterOptions, type HubRouterExtraOptions } from "./http/router.js";
export { HUB_ERROR_STATUS } from "./http/errors.js";
export type { HubMetrics } from "./http/metrics.js";
export { HUB_ROUTES, hubOpenApi, hubMounts, type HubOpenApiOptions } from "./http/routes.js";
export { parseHubArgs, CliUsageError, type HubServerConfig } from "./bin/args.js";
export { startHubServer, runHubCli, type RunningHubServer, type StartHubServerOptions } from "./bin/standalone.js";
