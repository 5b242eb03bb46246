export * from "./wire.js";
export { HubApi, HubApiError, toHubApiError, type HubApiErrorCode, type HubApiOptions, type PsrdBlock } from "./hub-api.js";
export { Hub, STATE_FILE, type HubOptions, type ShareInput } from "./hub.js";
export { HubError, HUB_ERROR_STATUS, type HubErrorKind } from "./errors.js";
export { PeerClient, poolNames, type WirePoolOwner } from "./peer-client.js";
export { ShareStore, type StoredShare, type NewShare, type JournalSink } from "./share-store.js";
export { createHubRouter, type HubRouter, type HubRouterOptions, type HubRouterExtraOptions } from "./router.js";
export { parseHubArgs, startHubServer, runHubCli, CliUsageError, type HubServerConfig, type RunningHubServer, type StartHubServerOptions } from "./standalone.js";
