/**
 * Hubs of the reference implementation (dske-python; `ClientOptions.referenceHubs`, issue 14).
 * A reference hub has no bundles, no proof of identity and no extensions:
 *
 * - Registration: `PUT dske/oob/v1/registration {client_name, encryptor_names}`, unauthenticated;
 *   the answer `{hub_name}` carries no scheme (v1: hmac-sha256) and no extensions. The hub
 *   (re)creates our two pools, empty, at every registration: whatever PSRD we held with it is
 *   stale. So before every registration is used, our pools with that hub are zeroed and deleted
 *   (also after a restart of our own, and after the hub lost its state: it then refuses our calls
 *   with 400 "Client ... is not registered", `HubLink.shouldReregister`).
 * - PSRD: `GET dske/oob/v1/psrd?client_name=&pool_owner=client|hub&size=` → `{block_uuid, data}`,
 *   unauthenticated, usable at once (no confirmation). Blocks carry no MAC key prefix (hmac-sha256
 *   takes its 32-byte keys from the allocation itself), as the hub's copy does.
 * - Shares: one per message, the reference's v1 bodies (`HubApi.postReferenceKeyShare`,
 *   `getReferenceKeyShare`); the hub answers POST with a signed `null`; no batch, ack, meta or held.
 *
 * What this costs: the PSRD with such a hub is only as secret as the network path to it (anyone
 * who can reach the hub can fetch our blocks, or reset them by registering in our name), and its
 * signatures are computational (hmac-sha256). Status and startup log say so (REFERENCE_HUB_NOTICE).
 */
import { blockKeyPrefix, type AuthSchemeName } from "@dske/auth";
import type { Pool } from "@dske/psrd";
import { HubFailure, type HubLink } from "./hub-link.js";
import type { Logger } from "./logger.js";
import type { NodeState } from "./node-state.js";
import type { PoolKind, Replenishment } from "./replenishment.js";

/** What the status (per peer hub) and the startup log say about a reference hub. */
export const REFERENCE_HUB_NOTICE = "reference hub: PSRD over the network, unauthenticated";

/** The only scheme a reference hub speaks. */
export const REFERENCE_HUB_SCHEME: AuthSchemeName = "hmac-sha256";

/** The hub name a base URL ends with (`http://127.0.0.1:8100/hub/hank` → `hank`). */
export function hubNameOfUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, "");
  return trimmed.split("/").pop() || trimmed;
}

/**
 * The hubs among `hubUrls` named in `referenceHubs` (by the name their URL ends with). Throws
 * RangeError for a name that is no hub's, and when the client does not allow hmac-sha256.
 */
export function referenceHubUrls(hubUrls: readonly string[], referenceHubs: readonly string[], hmacAllowed: boolean): Set<string> {
  const names = hubUrls.map(hubNameOfUrl);
  const unknown = referenceHubs.filter((n) => !names.includes(n));
  if (unknown.length > 0) {
    throw new RangeError(
      `referenceHubs: ${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} not among the hubs (${names.join(", ")})`,
    );
  }
  if (referenceHubs.length > 0 && !hmacAllowed) {
    throw new RangeError(
      `referenceHubs (${referenceHubs.join(", ")}): reference hubs sign with hmac-sha256 only, which this client does not allow ` +
        "(library: link.requireAuthScheme false; dske-client: --auth-schemes gf128,hmac-sha256)",
    );
  }
  return new Set(hubUrls.filter((u) => referenceHubs.includes(hubNameOfUrl(u))).map((u) => u.replace(/\/+$/, "")));
}

export interface ReferenceRegistrationDeps {
  link: HubLink;
  psrd: Replenishment;
  state: NodeState;
  logger: Logger;
  clientName: string;
  encryptors: readonly string[];
  /** Runs `fn` exclusively with bundle installs and PSRD resets of this hub (registration.ts). */
  withChainLock: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** Register with a reference hub: unauthenticated, then our pools with it start over (see above). */
export async function registerWithReferenceHub(d: ReferenceRegistrationDeps): Promise<void> {
  const { link } = d;
  const res = await link.api.register({ client_name: d.clientName, encryptor_names: [...d.encryptors] });
  if (res.hub_name !== link.name) {
    throw new HubFailure(link.name, `hub at ${link.url} calls itself ${JSON.stringify(res.hub_name)}, not ${link.name}`);
  }
  if (res.auth_scheme !== undefined && res.auth_scheme !== REFERENCE_HUB_SCHEME) {
    throw new HubFailure(
      link.name,
      `reference hub ${link.name} answered auth scheme ${JSON.stringify(res.auth_scheme)}, expected none (hmac-sha256)`,
    );
  }
  // The hub now holds two new, empty pools for us: ours with it are stale. Zero and delete them.
  const dropped = await d.withChainLock(async () => {
    const pools = await d.psrd.pools();
    const blocks = pools.local.stats().blocks + pools.peer.stats().blocks;
    await d.psrd.detach();
    await d.psrd.deletePools();
    await d.psrd.attach(REFERENCE_HUB_SCHEME);
    return blocks;
  });
  await d.state.setHub(link.url, { hub_name: res.hub_name, auth_scheme: REFERENCE_HUB_SCHEME, extensions: [] });
  link.extensions = new Set();
  d.psrd.peerInFlight = 0;
  link.registered = true;
  link.noteOk();
  if (dropped > 0) {
    d.logger.warn("registered again with a reference hub, which resets the pools: blocks zeroed and deleted; fetching fresh PSRD", {
      hub: link.name,
      count: dropped,
    });
  }
  d.logger.info("registered with hub", { hub: link.name, scheme: REFERENCE_HUB_SCHEME, reason: REFERENCE_HUB_NOTICE });
  d.psrd.maybeReplenishBoth();
}

/** One block for a pool from a reference hub (`GET psrd`, unauthenticated, no confirmation), added at once. */
export async function fetchReferenceBlock(link: HubLink, clientName: string, kind: PoolKind, pool: Pool, size: number): Promise<void> {
  const block = await link.api.getPsrd({ client_name: clientName, pool_owner: kind === "local" ? "client" : "hub", size });
  try {
    await pool.addBlock(block.block_uuid, block.data, { keyPrefix: blockKeyPrefix(REFERENCE_HUB_SCHEME) });
  } finally {
    block.data.fill(0);
  }
}
