/**
 * The hub's status (management plane, `GET mgmt/v1/status`): its configuration, its peer clients
 * with their pool levels and bundle counts, and the shares it holds (metadata, never values).
 * Per client also the reference's block view: `local_pool` = the hub-owned pool (the hub
 * allocates from it), `peer_pool` = the client-owned pool, each block with its usage. Block bytes
 * (the reference's `data` field) are never included: PSRD must not leave the pools.
 */
import { ACK_EXTENSION, blockPoolStatus, type HubStatus, type PoolStatus } from "@dske/protocol";
import type { BundleIssuer } from "./bundle-issuer.js";
import type { Registry } from "./registration.js";
import type { ShareStore } from "./share-store.js";

export interface StatusSources {
  readonly name: string;
  readonly shareTimeoutSecs: number;
  readonly authSchemes: readonly string[];
  readonly extensions: readonly string[];
  readonly psrdDelivery: "bundle" | "network";
  readonly registry: Registry;
  readonly issuer: BundleIssuer;
  readonly shares: ShareStore;
  /** fsync + fdatasync calls of this hub's files since it opened. */
  readonly fsyncs: number;
}

function poolStatus(p: { stats(): { blocks: number; size: number; used: number; available: number } }): PoolStatus {
  const s = p.stats();
  return { blocks: s.blocks, size: s.size, used: s.used, available: s.available };
}

export function hubStatus(h: StatusSources): HubStatus {
  const { registry, issuer } = h;
  return {
    name: h.name,
    share_timeout_secs: h.shareTimeoutSecs,
    auth_schemes: [...h.authSchemes],
    extensions: [...h.extensions],
    peer_clients: registry.list().map((c) => {
      const st = issuer.stagedBytes(c.name);
      return {
        client_name: c.name,
        encryptor_names: c.encryptorNames,
        auth_scheme: c.authScheme,
        extensions: c.ack ? [ACK_EXTENSION] : [],
        pools: { client_owned: poolStatus(c.clientOwnedPool), hub_owned: poolStatus(c.hubOwnedPool) },
        local_pool: blockPoolStatus(c.hubOwnedPool.blockUsage(), "local"),
        peer_pool: blockPoolStatus(c.clientOwnedPool.blockUsage(), "peer"),
        psrd: { bundles_issued: issuer.seq(c.name), staged: { client: st.client, hub: st.hub, blocks: st.blocks } },
      };
    }),
    psrd_delivery: h.psrdDelivery,
    shares: h.shares.list().map((s) => ({
      master_client_name: s.masterClientName,
      key_id: s.keyId,
      share_index: s.shareIndex,
      slave_sae_ids: [...s.slaveSaeIds],
      fetched_by: [...s.fetchedBy],
      acked_by: [...s.ackedBy],
      pending_ack: [...s.fetchedBy].filter((c) => !s.ackedBy.has(c) && registry.get(c)?.ack === true),
      expires_at: new Date(s.expiresAt).toISOString(),
    })),
    io: { fsyncs: h.fsyncs },
  };
}
