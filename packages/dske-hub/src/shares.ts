/**
 * Shares: the key shares a hub holds for the clients (draft §9), on top of share-store.ts.
 *
 * - Post (single or batch): the master client's shares are decrypted with its client-owned pool
 *   (reserve → commit) and stored durably; served only once both the PSRD commit and the journal
 *   write are durable. All or nothing; an identical re-post succeeds, a different one is a 409.
 * - Fetch (single or batch): a share goes only to a registered client hosting an intended slave
 *   SAE, re-encrypted with one fresh allocation from that client's hub-owned pool.
 * - Acknowledgements (ack extension), held keys, metadata, and deletion: once every intended
 *   responder is done with a share (fetched it, or acknowledged it with the ack extension), at
 *   its timeout (`sweep`), or when its master unregisters. Release rules: share-release.ts and
 *   @dske/protocol's wire ("Share release rules").
 * - Reference clients (reference-client mode): `postUnbound` stores a share without SAE IDs,
 *   `getByKeyId` serves a fetch that names only the key ID (share-release.ts).
 */
import { allocationSize, xorPad, type Reservation } from "@dske/psrd";
import {
  allocationFromWire,
  allocationToWire,
  type AckKeyRef,
  type FetchKeyRef,
  type FetchKeySharesResponse,
  type GetKeyShareQuery,
  type GetKeyShareResponse,
  type WireAllocation,
} from "@dske/protocol";
import type { HubContext } from "./context.js";
import { HubError, errorMessage, fromPsrdError } from "./errors.js";
import type { HubState } from "./hub-state.js";
import type { PeerClient } from "./peer-client.js";
import type { Registry } from "./registration.js";
import { ShareRelease } from "./share-release.js";
import { sameValue, type NewShare, type ShareStore, type StoredShare } from "./share-store.js";

/** A share to store, as it arrives (wire field names). */
export interface ShareInput {
  master_sae_id: string;
  slave_sae_id: string;
  additional_slave_sae_ids?: string[];
  user_key_id: string;
  share_index: number;
  encrypted_share_value: string;
  key_size?: number;
}

/** A reference client's share (reference-client mode): no SAE IDs, so it is unbound. */
export interface UnboundShareInput {
  user_key_id: string;
  share_index: number;
  encrypted_share_value: string;
}

/** A share to store, normalised: `masterSaeId` undefined and `slaves` empty for an unbound share. */
interface Item {
  masterSaeId: string | undefined;
  slaves: string[];
  keyId: string;
  shareIndex: number;
  encrypted: string;
  keySize: number | undefined;
}

export class Shares {
  /** The release rules, and the share metadata they allow (held keys, `key-shares/meta`). */
  readonly release: ShareRelease;

  constructor(
    private readonly ctx: HubContext,
    private readonly registry: Registry,
    private readonly shares: ShareStore,
    private readonly state: HubState,
    readonly limits: { readonly shareTimeoutSecs: number; readonly maxShareBytes: number },
  ) {
    this.release = new ShareRelease(registry, shares, ctx.now);
  }

  /**
   * Store shares posted by `masterClientName`; `allocation` names the pads of all shares, in order
   * (the single POST is a batch of one). All or nothing. Returns the number of shares in the batch.
   * Re-posting an identical share (same index, slaves and value, e.g. a retry whose response was
   * lost) succeeds; a different share under the same (master, key ID) is a 409.
   */
  post(masterClientName: string, allocation: WireAllocation, items: readonly ShareInput[]): Promise<number> {
    return this.store(
      masterClientName,
      allocation,
      items.map((i) => ({
        masterSaeId: i.master_sae_id,
        slaves: slaveList(i),
        keyId: i.user_key_id,
        shareIndex: i.share_index,
        encrypted: i.encrypted_share_value,
        keySize: i.key_size,
      })),
    );
  }

  /**
   * Store a share a reference client posted without SAE IDs (reference wire): unbound, released
   * to whichever registered client names its key ID (share-release.ts). Only from reference clients.
   */
  async postUnbound(masterClientName: string, allocation: WireAllocation, item: UnboundShareInput): Promise<void> {
    if (!this.registry.isReference(masterClientName)) {
      throw new HubError("bad_request", `a key share without master_sae_id and slave_sae_id is accepted only from reference clients`, [
        { field: "master_sae_id" },
      ]);
    }
    const unbound: Item = {
      masterSaeId: undefined,
      slaves: [],
      keyId: item.user_key_id,
      shareIndex: item.share_index,
      encrypted: item.encrypted_share_value,
      keySize: undefined,
    };
    await this.store(masterClientName, allocation, [unbound]);
  }

  private async store(masterClientName: string, allocation: WireAllocation, items: readonly Item[]): Promise<number> {
    this.ctx.assertOpen();
    const client = this.registry.require(masterClientName);
    const ciphertexts: Buffer[] = [];
    const seen = new Set<string>();
    let total = 0;
    items.forEach((item, index) => {
      const where = items.length > 1 ? ` (shares[${index}])` : "";
      if (item.masterSaeId !== undefined && !client.hosts(item.masterSaeId)) {
        throw new HubError("forbidden", `master_sae_id "${item.masterSaeId}" is not an encryptor of client ${masterClientName}${where}`, [
          { index, field: "master_sae_id" },
        ]);
      }
      if (seen.has(item.keyId)) {
        throw new HubError("bad_request", `user_key_id ${item.keyId} appears more than once${where}`, [{ index, field: "user_key_id" }]);
      }
      seen.add(item.keyId);
      const ct = Buffer.from(item.encrypted, "base64");
      if (ct.length === 0) {
        throw new HubError("bad_request", `encrypted_share_value is empty${where}`, [{ index, field: "encrypted_share_value" }]);
      }
      if (ct.length > this.limits.maxShareBytes) {
        throw new HubError("too_large", `share of ${ct.length} bytes exceeds the hub's limit of ${this.limits.maxShareBytes}${where}`, [
          { index, field: "encrypted_share_value", max: this.limits.maxShareBytes },
        ]);
      }
      ciphertexts.push(ct);
      total += ct.length;
    });
    const allocated = allocationSize(allocation);
    if (allocated !== total) {
      throw new HubError("bad_request", `encryption_key_allocation names ${allocated} bytes but the share value(s) have ${total}`, [
        { field: "encryption_key_allocation", allocation_bytes: allocated, share_bytes: total },
      ]);
    }

    let reservation: Reservation;
    try {
      reservation = await client.clientOwnedPool.reserve(
        allocationFromWire(allocation),
        `decrypt ${items.length} key-share(s) from ${masterClientName}`,
      );
    } catch (err) {
      throw fromPsrdError(err, `encryption_key_allocation of ${masterClientName}`);
    }
    const values: Buffer[] = [];
    let committed = false;
    try {
      const pad = reservation.data;
      let offset = 0;
      for (const ct of ciphertexts) {
        const v = Buffer.alloc(ct.length);
        xorPad(ct, pad, offset, v);
        offset += ct.length;
        values.push(v);
      }
      const expiresAt = this.ctx.now() + this.limits.shareTimeoutSecs * 1000;
      const fresh: NewShare[] = [];
      const duplicates: number[] = [];
      items.forEach((item, index) => {
        const masterSaeId = item.masterSaeId ?? "";
        const existing = this.shares.get(masterClientName, item.keyId);
        if (existing) {
          const same =
            existing.shareIndex === item.shareIndex &&
            existing.masterSaeId === masterSaeId &&
            sameList(existing.slaveSaeIds, item.slaves) &&
            sameValue(existing.value, values[index]);
          if (!same) {
            throw new HubError("conflict", `a different share for key ${item.keyId} of ${masterClientName} is already stored`, [
              { index, field: "user_key_id" },
            ]);
          }
          duplicates.push(index);
          return;
        }
        fresh.push({
          masterClientName,
          masterSaeId,
          keyId: item.keyId,
          shareIndex: item.shareIndex,
          slaveSaeIds: item.slaves,
          value: values[index],
          expiresAt,
          keySize: item.keySize,
        });
      });
      // The PSRD commit and the share journal write run in parallel; the shares are served only
      // once both are durable (ShareStore.put's gate), so nothing derived from the pad leaves the
      // process before its consumption is on stable storage.
      committed = true;
      let commitFailed: unknown;
      // The response's signing pad (hub-owned pool) is consumed now too: its commit overlaps.
      client.prepareResponseSignature();
      const commit = reservation.commit().catch((err: unknown) => {
        commitFailed = err;
        throw err;
      });
      commit.catch(() => {}); // observed below; never an unhandled rejection
      for (const i of duplicates) values[i].fill(0);
      try {
        await this.shares.put(fresh, commit);
        await commit;
      } catch (err) {
        if (commitFailed !== undefined) {
          throw new HubError("unavailable", `could not commit the PSRD consumption: ${errorMessage(commitFailed)}`);
        }
        throw new HubError("unavailable", `could not store the share(s) durably: ${errorMessage(err)}`);
      }
      return items.length;
    } catch (err) {
      if (!committed) {
        try {
          reservation.release();
        } catch {
          // already released/committed: nothing to give back
        }
      }
      for (const v of values) v.fill(0);
      throw fromPsrdError(err, `encryption_key_allocation of ${masterClientName}`);
    } finally {
      for (const ct of ciphertexts) ct.fill(0);
      reservation.data.fill(0); // the pad (a copy); its consumption is settled by now
    }
  }

  /** GET key-share: re-encrypt the share for a responder client with hub-owned PSRD. */
  get(query: GetKeyShareQuery): Promise<GetKeyShareResponse> {
    this.ctx.assertOpen();
    const client = this.registry.get(query.client_name);
    return this.serveOne(query, client, client ? this.release.releasable(client, query) : undefined);
  }

  /**
   * GET key-share by key ID alone (a reference client's fetch): the share if it is unbound or
   * meant for an SAE the client hosts. Only for reference clients.
   */
  getByKeyId(query: { client_name: string; key_id: string }): Promise<GetKeyShareResponse> {
    this.ctx.assertOpen();
    if (!this.registry.isReference(query.client_name)) {
      throw new HubError(
        "bad_request",
        `a key-share fetch without master_sae_id and slave_sae_id is accepted only from reference clients`,
        [{ field: "slave_sae_id" }],
      );
    }
    const client = this.registry.get(query.client_name);
    return this.serveOne(query, client, client ? this.release.releasableByKeyId(client, query.key_id) : undefined);
  }

  private async serveOne(
    query: { client_name: string; key_id: string },
    client: PeerClient | undefined,
    share: StoredShare | undefined,
  ): Promise<GetKeyShareResponse> {
    if (!client || !share) throw notAvailable(query.key_id, query.client_name);
    const result = await this.encryptFor(client, [share], `key-share ${query.key_id} for ${client.name}`);
    return {
      share_index: share.shareIndex,
      encryption_key_allocation: result.allocation,
      encrypted_share_value: result.ciphertexts[0],
    };
  }

  /**
   * Batch fetch: every available share re-encrypted under one hub-owned allocation. `acks`
   * (ack extension) are applied first: the client is done with those shares.
   */
  async fetch(clientName: string, keys: readonly FetchKeyRef[], acks: readonly AckKeyRef[] = []): Promise<FetchKeySharesResponse> {
    this.ctx.assertOpen();
    const client = this.registry.get(clientName);
    const acknowledged = client && acks.length > 0 ? this.acknowledge(client, acks) : undefined;
    const ackField = acknowledged === undefined ? {} : { acknowledged };
    const seen = new Set<string>();
    keys.forEach((k, index) => {
      if (seen.has(k.key_id)) {
        throw new HubError("bad_request", `key_id ${k.key_id} appears more than once (keys[${index}])`, [{ index, field: "key_id" }]);
      }
      seen.add(k.key_id);
    });
    const found: StoredShare[] = [];
    const missing: string[] = [];
    for (const k of keys) {
      const share = client ? this.release.releasable(client, k) : undefined;
      if (share) found.push(share);
      else missing.push(k.key_id);
    }
    if (!client || found.length === 0) return { shares: [], missing, ...ackField };
    const result = await this.encryptFor(client, found, `${found.length} key-share(s) for ${client.name}`);
    return {
      encryption_key_allocation: result.allocation,
      shares: found.map((s, i) => ({ key_id: s.keyId, share_index: s.shareIndex, encrypted_share_value: result.ciphertexts[i] })),
      missing,
      ...ackField,
    };
  }

  /**
   * Mark shares as acknowledged (done) by the client; delete those every intended responder
   * client is done with. A client may acknowledge a share it fetched, or one it never fetched if
   * it hosts an intended slave SAE (it got the key from other hubs: this hub may drop its share
   * now instead of at the timeout). Unknown, not-for-this-client or already acknowledged shares
   * are ignored. Returns how many shares were newly acknowledged.
   */
  private acknowledge(client: PeerClient, acks: readonly AckKeyRef[]): number {
    let n = 0;
    for (const a of acks) {
      for (const s of this.shares.withKeyId(a.key_id)) {
        if (s.masterSaeId !== a.master_sae_id || s.ackedBy.has(client.name)) continue;
        if (!s.fetchedBy.has(client.name) && !s.slaveSaeIds.some((sae) => client.hosts(sae))) continue;
        this.shares.markAcked(s, client.name, (x) => this.release.doneByAll(x));
        n++;
      }
    }
    if (n > 0) this.state.maybeCompact();
    return n;
  }

  /**
   * Encrypt the shares for `client` with one fresh allocation from its hub-owned pool; then mark
   * them fetched and delete those every intended responder client is done with (see doneByAll:
   * a client with the ack extension is done only once it acknowledged). Values are copied
   * before the await, so a concurrent deletion cannot turn a pad into a ciphertext of zeros.
   */
  private async encryptFor(
    client: PeerClient,
    shares: readonly StoredShare[],
    purpose: string,
  ): Promise<{ allocation: WireAllocation; ciphertexts: string[] }> {
    const copies = shares.map((s) => Buffer.from(s.value));
    const total = copies.reduce((n, c) => n + c.length, 0);
    let pad: Uint8Array | undefined;
    try {
      let allocated: { allocation: { fragments: readonly { blockUuid: string; start: number; size: number }[] }; data: Uint8Array };
      try {
        const pending = client.hubOwnedPool.allocate(total, `encrypt ${purpose}`);
        // Same turn → same journal batch: the response's signing pad rides on this commit.
        client.prepareResponseSignature();
        allocated = await pending;
      } catch (err) {
        throw fromPsrdError(err, `hub-owned pool of ${client.name} cannot supply ${total} bytes; request more PSRD`);
      }
      pad = allocated.data;
      const ciphertexts: string[] = [];
      let offset = 0;
      for (const c of copies) {
        xorPad(c, pad, offset, c);
        offset += c.length;
        ciphertexts.push(c.toString("base64"));
      }
      for (const s of shares) {
        this.shares.markFetched(s, client.name);
        if (this.release.doneByAll(s)) this.shares.delete(s.masterClientName, s.keyId);
      }
      this.state.maybeCompact();
      return { allocation: allocationToWire(allocated.allocation), ciphertexts };
    } finally {
      pad?.fill(0);
      for (const c of copies) c.fill(0);
    }
  }

  /** Delete shares past their timeout. Returns how many were deleted. */
  sweep(): number {
    if (this.ctx.closed) return 0;
    const n = this.shares.sweep(this.ctx.now());
    if (n > 0) this.state.maybeCompact();
    return n;
  }
}

function slaveList(item: ShareInput): string[] {
  return [...new Set([item.slave_sae_id, ...(item.additional_slave_sae_ids ?? [])])];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function notAvailable(keyId: string, clientName: string): HubError {
  return new HubError("not_found", `no share for key ${keyId} is available to client ${clientName}`, [{ field: "key_id", key_id: keyId }]);
}
