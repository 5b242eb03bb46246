/**
 * Gather, one hub's part: fetching key shares from a hub and decrypting them with the pads the
 * hub names from the hub-owned pool. One key per message, or many per message with the batch
 * extension (pending acknowledgements ride along, acks.ts). Concurrent fetches are merged into
 * batch messages (coalescer.ts). Also the hubs' share metadata queries: which key IDs a hub holds
 * (unsigned, no PSRD) and the intended slaves of keys (signed).
 */
import { MAX_BATCH_SHARES, type FetchKeySharesResponse, type ShareMeta } from "@dske/protocol";
import type { Acks } from "./acks.js";
import { MAX_BATCH_SHARE_BYTES, chunkBy, mapLimit } from "./batching.js";
import { Coalescer } from "./coalescer.js";
import { HubFailure, type HubLink } from "./hub-link.js";
import { allocationSize, xor } from "@dske/psrd";
import type { Replenishment } from "./replenishment.js";
import type { SignedCalls } from "./signed-calls.js";

export interface ShareRef {
  masterSae: string;
  slaveSae: string;
  keyId: string;
}

/** A decrypted share: Shamir x and y. */
export type FetchedShare = { x: number; y: Uint8Array };

export class ShareFetches {
  /** Concurrent fetches merged into batch messages (see coalescer.ts). */
  readonly coalescer: Coalescer<{ clientName: string; refs: readonly ShareRef[] }, Map<string, FetchedShare>>;
  /** Last decrypted share length seen (estimate for the responder's PSRD needs). */
  private shareBytesEstimate = 48;

  constructor(
    private readonly d: {
      link: HubLink;
      psrd: Replenishment;
      calls: SignedCalls;
      acks: Acks;
      clientName: string;
      blockSize: number;
      coalescing: () => boolean;
    },
  ) {
    this.coalescer = new Coalescer({
      group: (e) => e.clientName,
      conflicts: (e) => e.refs.map((r) => r.keyId),
      run: async (entries) => {
        const all = await this.fetchOnce(
          entries[0].clientName,
          entries.flatMap((e) => e.refs),
        );
        // Split per caller (key IDs are disjoint across the entries of a batch).
        return entries.map((e) => {
          const mine = new Map<string, FetchedShare>();
          for (const r of e.refs) {
            const s = all.get(r.keyId);
            if (s) mine.set(r.keyId, s);
          }
          return mine;
        });
      },
    });
  }

  /**
   * Fetch and decrypt this hub's shares for the given keys. Keys the hub does not release (unknown,
   * expired, not for the caller) are absent from the result. Throws HubFailure when the hub fails.
   */
  async fetch(clientName: string, refs: readonly ShareRef[]): Promise<Map<string, FetchedShare>> {
    // The responder does not know the share size in advance: when the hub says its pool for us
    // is exhausted (503), top up the hub-owned pool with more and retry (a few times).
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.d.coalescing()) return await this.coalescer.submit({ clientName, refs });
        return await this.fetchOnce(clientName, refs);
      } catch (err) {
        if (!(err instanceof HubFailure) || err.status !== 503 || attempt >= 3) throw err;
        const more = Math.max(this.d.blockSize, refs.length * this.shareBytesEstimate) * 2 ** (attempt + 1);
        await this.d.psrd.ensure("peer", this.d.psrd.available("peer") + more);
      }
    }
  }

  private async fetchOnce(clientName: string, refs: readonly ShareRef[]): Promise<Map<string, FetchedShare>> {
    const { link, acks } = this.d;
    if (!link.registered) throw link.notRegistered();
    const out = new Map<string, FetchedShare>();
    if ((refs.length > 1 || (link.supportsAck && acks.pendingCount > 0)) && link.supportsBatch) {
      const chunks = chunkBy(refs, MAX_BATCH_SHARES, MAX_BATCH_SHARE_BYTES, () => this.shareBytesEstimate);
      await Promise.all(chunks.map((c) => this.fetchBatch(clientName, c, out)));
    } else {
      await mapLimit(refs, 16, async (ref) => {
        const share = await this.fetchOne(clientName, ref);
        if (share) out.set(ref.keyId, share);
      });
    }
    return out;
  }

  private async fetchOne(clientName: string, ref: ShareRef): Promise<FetchedShare | undefined> {
    const { link, calls } = this.d;
    const expected = this.shareBytesEstimate + link.messageCost;
    let res;
    // The response signature's PSRD commit is deferred so that it and the take of the share pad
    // below go into one journal batch; both are awaited before the share is used.
    let verified: Promise<void> = Promise.resolve();
    try {
      const options = {
        onVerified: (c: Promise<void>) => {
          verified = c;
        },
      };
      res = await calls.call(
        expected,
        () =>
          // A reference hub is asked the reference's way: client name and key ID only (reference-hub.ts).
          link.reference
            ? link.api.getReferenceKeyShare({ client_name: clientName, key_id: ref.keyId }, options)
            : link.api.getKeyShare(
                { client_name: clientName, master_sae_id: ref.masterSae, slave_sae_id: ref.slaveSae, key_id: ref.keyId },
                options,
              ),
        // Resent after a lost connection only where the hub keeps released shares until acknowledged.
        link.supportsAck,
      );
    } catch (err) {
      if (err instanceof HubFailure && err.status === 404) return undefined;
      throw err;
    }
    const enc = Buffer.from(res.encrypted_share_value, "base64");
    const alloc = res.encryption_key_allocation;
    if (allocationSize(alloc) !== enc.length || enc.length === 0) {
      throw new HubFailure(link.name, "share allocation size does not match the share length");
    }
    this.d.acks.noteReleased(ref.masterSae, ref.keyId);
    const pad = await calls.takeAfter(verified, alloc, `key-share ${ref.keyId}`);
    try {
      this.shareBytesEstimate = enc.length;
      return { x: res.share_index, y: xor(enc, pad) };
    } finally {
      pad.fill(0);
      enc.fill(0);
    }
  }

  private async fetchBatch(clientName: string, refs: readonly ShareRef[], out: Map<string, FetchedShare>): Promise<void> {
    const { link, calls, acks } = this.d;
    const expected = refs.length * this.shareBytesEstimate + link.messageCost;
    let verified: Promise<void> = Promise.resolve();
    // Ack extension: pending acknowledgements ride on this signed message (no extra PSRD).
    const riding = link.supportsAck ? acks.take() : [];
    let res: FetchKeySharesResponse;
    try {
      res = await calls.call(
        expected,
        () =>
          link.api.getKeyShares(
            {
              client_name: clientName,
              keys: refs.map((r) => ({ master_sae_id: r.masterSae, slave_sae_id: r.slaveSae, key_id: r.keyId })),
              ...(riding.length > 0 ? { ack: riding } : {}),
            },
            {
              onVerified: (c) => {
                verified = c;
              },
            },
          ),
        link.supportsAck,
      );
    } catch (err) {
      if (riding.length > 0) acks.restore(riding);
      throw err;
    }
    const refByKey = new Map(refs.map((r) => [r.keyId, r]));
    for (const s of res.shares) {
      const r = refByKey.get(s.key_id);
      if (r) acks.noteReleased(r.masterSae, r.keyId);
    }
    if (res.shares.length === 0) {
      await calls.settleVerified(verified);
      return;
    }
    const wanted = new Set(refs.map((r) => r.keyId));
    const encs = res.shares.map((s) => Buffer.from(s.encrypted_share_value, "base64"));
    const total = encs.reduce((s, e) => s + e.length, 0);
    if (!res.encryption_key_allocation || allocationSize(res.encryption_key_allocation) !== total) {
      throw new HubFailure(link.name, "batch share allocation size does not match the shares");
    }
    const pads = await calls.takeAfter(verified, res.encryption_key_allocation, `key-shares x${res.shares.length}`);
    try {
      let off = 0;
      res.shares.forEach((s, i) => {
        const enc = encs[i];
        const pad = pads.subarray(off, off + enc.length);
        off += enc.length;
        if (wanted.has(s.key_id) && !out.has(s.key_id) && enc.length > 0) {
          out.set(s.key_id, { x: s.share_index, y: xor(enc, pad) });
          this.shareBytesEstimate = enc.length;
        }
        enc.fill(0);
      });
    } finally {
      pads.fill(0);
    }
  }

  /** A reference hub has no share metadata: fail at once, without a message (callers count it as "no answer"). */
  private refuseOnReferenceHub(what: string): void {
    if (this.d.link.reference) throw new HubFailure(this.d.link.name, `a reference hub has no share metadata (${what})`);
  }

  /** Send acknowledgements alone, in one signed ack-only message (acks.ts). */
  async sendAcks(acks: Parameters<Acks["restore"]>[0]): Promise<void> {
    const { link, calls } = this.d;
    let verified: Promise<void> = Promise.resolve();
    await calls.call(
      link.messageCost,
      () =>
        link.api.getKeyShares(
          { client_name: this.d.clientName, keys: [], ack: [...acks] },
          {
            onVerified: (c) => {
              verified = c;
            },
          },
        ),
      true, // acknowledging twice is harmless
    );
    await calls.settleVerified(verified);
  }

  /** Which of these key IDs the hub holds a live share of: an unsigned query that costs no PSRD. */
  async sharesHeld(keyIds: readonly string[]): Promise<string[]> {
    this.refuseOnReferenceHub("held");
    const ids = [...new Set(keyIds)];
    const out: string[] = [];
    for (let i = 0; i < ids.length; i += MAX_BATCH_SHARES)
      out.push(...(await this.d.link.api.sharesHeld(ids.slice(i, i + MAX_BATCH_SHARES))));
    return out;
  }

  /**
   * Share metadata held by the hub for these key IDs (never values): a signed in-band query that
   * lists only shares of which this client hosts an intended slave SAE (the hub's management
   * status is for the operator).
   */
  async listShares(keyIds: readonly string[]): Promise<ShareMeta[]> {
    this.refuseOnReferenceHub("meta");
    const { link, calls } = this.d;
    const ids = [...new Set(keyIds)];
    const out: ShareMeta[] = [];
    for (let i = 0; i < ids.length; i += MAX_BATCH_SHARES) {
      let verified: Promise<void> = Promise.resolve();
      const res = await calls.call(
        link.messageCost,
        () =>
          link.api.shareMeta(
            { client_name: this.d.clientName, key_ids: ids.slice(i, i + MAX_BATCH_SHARES) },
            {
              onVerified: (c) => {
                verified = c;
              },
            },
          ),
        true, // a query
      );
      await calls.settleVerified(verified);
      out.push(...res.shares);
    }
    return out;
  }
}
