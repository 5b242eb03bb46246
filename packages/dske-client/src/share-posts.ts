/**
 * Scatter, one hub's part: posting key shares to a hub. Each share is one-time-pad encrypted
 * with PSRD from the client-owned pool (or with its own pad: key_source psrd, key-source.ts) and
 * sent signed, one per message or, when the hub speaks the batch extension, many per message
 * under one pad allocation. Concurrent posts are merged into batch messages (coalescer.ts).
 */
import { MAX_BATCH_SHARES, allocationToWire, type BatchShareItem } from "@dske/protocol";
import type { Allocation } from "@dske/psrd";
import { MAX_BATCH_SHARE_BYTES, chunkBy, mapLimit } from "./batching.js";
import { Coalescer } from "./coalescer.js";
import { HubFailure, type HubLink } from "./hub-link.js";
import { xor } from "@dske/psrd";
import type { Replenishment } from "./replenishment.js";
import type { SignedCalls } from "./signed-calls.js";

/** A share to post to this hub. */
export interface OutgoingShare {
  keyId: string;
  masterSae: string;
  slaveSae: string;
  additionalSlaves: readonly string[];
  /** Shamir x (= share_index). */
  x: number;
  /** Plain share bytes (not zeroed here). */
  y: Uint8Array;
  /** Key size in bits (informational on the wire). */
  keySize: number;
  /** Encrypt with this pad (already allocated from our pool) instead of a fresh one: key_source psrd (key-source.ts). */
  pad?: { allocation: Allocation; data: Uint8Array };
}

export class SharePosts {
  /** Concurrent posts merged into batch messages (see coalescer.ts). */
  readonly coalescer: Coalescer<{ masterClient: string; items: readonly OutgoingShare[] }, void>;

  constructor(
    private readonly d: {
      link: HubLink;
      psrd: Replenishment;
      calls: SignedCalls;
      /** Merge concurrent posts (the option, and the hub speaks batch). */
      coalescing: () => boolean;
    },
  ) {
    this.coalescer = new Coalescer<{ masterClient: string; items: readonly OutgoingShare[] }, void>({
      group: (e) => e.masterClient,
      conflicts: (e) => e.items.map((i) => i.keyId),
      run: async (entries) => {
        const all = entries.flatMap((e) => e.items);
        await this.send(entries[0].masterClient, all);
        return entries.map(() => undefined);
      },
    });
  }

  /** Post shares (one per key) to this hub; resolves when the hub acknowledged all of them. */
  async post(masterClient: string, items: readonly OutgoingShare[]): Promise<void> {
    if (!this.d.link.registered) throw this.d.link.notRegistered();
    if (this.d.coalescing()) {
      await this.coalescer.submit({ masterClient, items });
      return;
    }
    await this.send(masterClient, items);
  }

  private async send(masterClient: string, items: readonly OutgoingShare[]): Promise<void> {
    const { link } = this.d;
    if (!link.registered) throw link.notRegistered();
    if (items.some((i) => i.pad) && items.length > 1) {
      // Shares with their own pad (key_source psrd) go alone; the rest as usual.
      const own = items.filter((i) => i.pad);
      const rest = items.filter((i) => !i.pad);
      await Promise.all([
        mapLimit(own, 16, (item) => this.postOne(masterClient, item)),
        rest.length > 0 ? this.send(masterClient, rest) : undefined,
      ]);
      return;
    }
    if (items.length > 1 && link.supportsBatch) {
      const chunks = chunkBy(items, MAX_BATCH_SHARES, MAX_BATCH_SHARE_BYTES, (i) => i.y.length);
      await Promise.all(chunks.map((c) => this.postBatch(masterClient, c)));
      return;
    }
    await mapLimit(items, 16, (item) => this.postOne(masterClient, item));
  }

  private async postOne(masterClient: string, item: OutgoingShare): Promise<void> {
    const { allocation, data } = item.pad ?? (await this.d.psrd.allocateLocal(item.y.length, `key-share ${item.keyId}`));
    let encrypted: Uint8Array;
    try {
      encrypted = xor(item.y, data);
    } finally {
      data.fill(0);
    }
    const { link } = this.d;
    const share = {
      user_key_id: item.keyId,
      share_index: item.x,
      encryption_key_allocation: allocationToWire(allocation),
      encrypted_share_value: Buffer.from(encrypted).toString("base64"),
    };
    await this.d.calls.call(link.messageCost, () =>
      // A reference hub takes the reference's v1 body: the master client, no SAE IDs (reference-hub.ts).
      link.reference
        ? link.api.postReferenceKeyShare({ client_name: masterClient, ...share }, this.d.calls.background())
        : link.api.postKeyShare(
            {
              master_client_name: masterClient,
              master_sae_id: item.masterSae,
              slave_sae_id: item.slaveSae,
              ...(item.additionalSlaves.length > 0 ? { additional_slave_sae_ids: [...item.additionalSlaves] } : {}),
              ...share,
              key_size: item.keySize,
            },
            this.d.calls.background(),
          ),
    );
  }

  private async postBatch(masterClient: string, items: readonly OutgoingShare[]): Promise<void> {
    const { link } = this.d;
    const total = items.reduce((s, i) => s + i.y.length, 0);
    const { allocation, data } = await this.d.psrd.allocateLocal(total, `key-shares x${items.length}`);
    const shares: BatchShareItem[] = [];
    try {
      let off = 0;
      for (const item of items) {
        const pad = data.subarray(off, off + item.y.length);
        off += item.y.length;
        const enc = xor(item.y, pad);
        shares.push({
          master_sae_id: item.masterSae,
          slave_sae_id: item.slaveSae,
          ...(item.additionalSlaves.length > 0 ? { additional_slave_sae_ids: [...item.additionalSlaves] } : {}),
          user_key_id: item.keyId,
          share_index: item.x,
          encrypted_share_value: Buffer.from(enc).toString("base64"),
          key_size: item.keySize,
        });
      }
    } finally {
      data.fill(0);
    }
    const res = await this.d.calls.call(link.messageCost, () =>
      link.api.postKeyShares(
        { master_client_name: masterClient, encryption_key_allocation: allocationToWire(allocation), shares },
        this.d.calls.background(),
      ),
    );
    if (res.stored !== items.length) {
      throw new HubFailure(link.name, `hub stored ${res.stored} of ${items.length} shares`);
    }
  }
}
