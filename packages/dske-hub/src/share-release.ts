/**
 * ShareRelease: who may fetch a stored share, who may see its metadata, and when every intended
 * responder is done with it (release rules: @dske/protocol's share.ts, "Share release rules").
 *
 * - A bound share (posted with SAE IDs) goes to a registered client hosting an intended slave SAE
 *   that the caller names (our fetches) or, for a reference client's fetch by key ID only, one of
 *   the intended slave SAEs it hosts. It is done once every intended slave SAE's host client fetched
 *   it (v1 client) or acknowledged it (client with the `ack` extension).
 * - An unbound share (posted by a reference client without SAE IDs: reference-client mode) has
 *   no intended slaves; the key ID is the capability, as at the reference hub. It goes to whichever
 *   registered client names its key ID (our fetches also name a slave SAE, which the caller
 *   must host as always; the master SAE they name is not checked: the share has none). It is done
 *   after the first fetch by a client other than its master (the reference deletes on fetch).
 */
import type { ShareMetaResponse } from "@dske/protocol";
import type { PeerClient } from "./peer-client.js";
import type { Registry } from "./registration.js";
import type { ShareStore, StoredShare } from "./share-store.js";

/** A share posted without SAE IDs (reference-client mode). */
export function isUnbound(share: StoredShare): boolean {
  return share.slaveSaeIds.length === 0;
}

export class ShareRelease {
  constructor(
    private readonly registry: Registry,
    private readonly shares: ShareStore,
    private readonly now: () => number,
  ) {}

  /** The share the client may fetch for this query (our wire), or undefined (unknown, expired or not for it). */
  releasable(client: PeerClient, q: { master_sae_id: string; slave_sae_id: string; key_id: string }): StoredShare | undefined {
    if (!client.hosts(q.slave_sae_id)) return undefined;
    const now = this.now();
    for (const s of this.shares.withKeyId(q.key_id)) {
      if (!s.ready || s.expiresAt <= now || s.ackedBy.has(client.name)) continue; // acked: the client is done with it
      if (isUnbound(s) || (s.masterSaeId === q.master_sae_id && s.slaveSaeIds.includes(q.slave_sae_id))) return s;
    }
    return undefined;
  }

  /** The share a reference client may fetch by key ID alone: unbound, or meant for an SAE it hosts. */
  releasableByKeyId(client: PeerClient, keyId: string): StoredShare | undefined {
    const now = this.now();
    for (const s of this.shares.withKeyId(keyId)) {
      if (!s.ready || s.expiresAt <= now || s.ackedBy.has(client.name)) continue;
      if (isUnbound(s) || s.slaveSaeIds.some((sae) => client.hosts(sae))) return s;
    }
    return undefined;
  }

  /**
   * Share metadata (never values) for a registered client: the stored, unexpired shares with
   * these key IDs of which the client hosts an intended slave SAE, and unbound ones (empty
   * `slave_sae_ids`, the master client's name as `master_sae_id`: they have no SAE IDs). Unknown
   * client → empty list.
   */
  meta(clientName: string, keyIds: readonly string[]): ShareMetaResponse {
    const client = this.registry.get(clientName);
    if (!client) return { shares: [] };
    const now = this.now();
    const shares: ShareMetaResponse["shares"] = [];
    for (const keyId of new Set(keyIds)) {
      for (const s of this.shares.withKeyId(keyId)) {
        if (!this.visible(client, s, now)) continue;
        shares.push({ key_id: s.keyId, master_sae_id: s.masterSaeId || s.masterClientName, slave_sae_ids: [...s.slaveSaeIds] });
      }
    }
    return { shares };
  }

  /** Which of these key IDs the hub holds a live (stored, unexpired) share of; nothing else. */
  held(keyIds: readonly string[]): string[] {
    const now = this.now();
    return [...new Set(keyIds)].filter((id) => this.shares.withKeyId(id).some((s) => s.ready && s.expiresAt > now));
  }

  /** Whether the client may see the share's metadata (`key-shares/meta`): live, and for it. */
  visible(client: PeerClient, s: StoredShare, now: number): boolean {
    return s.ready && s.expiresAt > now && (isUnbound(s) || s.slaveSaeIds.some((sae) => client.hosts(sae)));
  }

  /**
   * True when the share may go: every intended slave SAE is hosted by a registered client that is
   * done with it (fetched it, or acknowledged it with the ack extension); an unbound share once a
   * client other than its master fetched it.
   */
  doneByAll(share: StoredShare): boolean {
    if (isUnbound(share)) {
      for (const c of share.fetchedBy) if (c !== share.masterClientName) return true;
      return false;
    }
    for (const sae of share.slaveSaeIds) {
      const host = this.registry.hostOf(sae);
      if (host === undefined) return false;
      const done = this.registry.get(host)?.ack ? share.ackedBy.has(host) : share.fetchedBy.has(host);
      if (!done) return false;
    }
    return true;
  }
}
