/**
 * Key delivery, the slave side of ETSI Get key with key IDs (dec_keys): local knowledge first
 * (held keys, keys already delivered, issued here), then the PSRD-drain guard (unknown-keys.ts),
 * then gather (gather.ts) with the batch siblings fetched ahead (key-stock.ts). All or nothing:
 * the first error wins (unauthorized before unknown-key before unavailable), and keys
 * reconstructed meanwhile are held for a retry. Delivered keys are journaled, then acknowledged
 * to every hub (acks.ts).
 */
import { KEYS_NOT_FOUND_MESSAGE, type KmeError, keyNotFound, keysNotFound, unauthorized, unavailable } from "./errors.js";
import type { KeyContainer } from "@dske/protocol";
import type { Gather, GatherOutcome } from "./gather.js";
import { heldKeyName, type HeldKeys } from "./held-keys.js";
import { batchSiblings, padLengthFromKeyId } from "./key.js";
import { MAX_STOCK_BATCH } from "./key-stock.js";
import { AlreadyDeliveredError, type KeyStore } from "./key-store.js";
import { summarizeIds } from "./key-issuing.js";
import type { Logger } from "./logger.js";
import type { PeerHub } from "./peer-hub.js";
import { listedByHubs, type UnknownKeyGuard } from "./unknown-keys.js";

export interface KeyDeliveryDeps {
  encryptors: readonly string[];
  hubs: readonly PeerHub[];
  k: number;
  held: HeldKeys;
  keyStore: KeyStore;
  unknownKeys: UnknownKeyGuard;
  gather: Gather;
  logger: Logger;
  /** Right after start: wait (bounded) for first registrations in flight. */
  settleStartup: () => Promise<void>;
  /** SAE IDs hosted by reference-implementation KMEs: their keys have no batch siblings (reference-key.ts). */
  referenceSaes: ReadonlySet<string>;
}

/** unauthorized before unknown-key (and invalid-request) before the rest. */
const rank = (e: KmeError) => (e.kind === "unauthorized" ? 0 : e.kind === "unknown-key" || e.kind === "invalid-request" ? 1 : 2);

export class KeyDelivery {
  /** Batch siblings fetched ahead and held (status, bench). */
  prefetched = 0;

  constructor(private readonly d: KeyDeliveryDeps) {}

  /** The keys for an already validated request of `slaveSae` naming `masterSae`. */
  async deliver(slaveSae: string, masterSae: string, keyIds: readonly string[]): Promise<KeyContainer> {
    const { held, keyStore, unknownKeys, logger } = this.d;
    const started = Date.now();
    await this.d.settleStartup();
    // Keys another request is fetching right now (e.g. a batch prefetch): wait for that fetch.
    const pendingFetches = new Set<Promise<void>>();
    for (const id of keyIds) {
      const p = held.inFlight(heldKeyName(masterSae, id, slaveSae));
      if (p) pendingFetches.add(p);
    }
    if (pendingFetches.size > 0) await Promise.all(pendingFetches);

    // Local knowledge first: already delivered, issued here (intended slaves known), pad length.
    const outcomes = new Map<string, GatherOutcome>();
    const toFetch: string[] = [];
    for (const id of keyIds) {
      const heldKey = held.get(heldKeyName(masterSae, id, slaveSae));
      if (heldKey) {
        outcomes.set(id, { key: heldKey });
        continue;
      }
      if (keyStore.isDelivered(masterSae, id, slaveSae)) {
        outcomes.set(id, { error: keyNotFound(id, "already delivered") });
        continue;
      }
      const issued = keyStore.issued(id);
      if (issued) {
        if (issued.masterSae !== masterSae) {
          outcomes.set(id, { error: keyNotFound(id) });
          continue;
        }
        if (!issued.slaveSaes.includes(slaveSae)) {
          outcomes.set(id, { error: unauthorized(`SAE ${slaveSae} is not an intended slave SAE of the requested keys`) });
          continue;
        }
      }
      if (padLengthFromKeyId(id) === undefined) {
        outcomes.set(id, { error: keyNotFound(id) });
        continue;
      }
      toFetch.push(id);
    }

    if (toFetch.length > 0 && keyStore.shared) {
      // Replicas of this client: delivered through another one (the shared ledger).
      let elsewhere: Set<string>;
      try {
        elsewhere = await keyStore.deliveredElsewhere(masterSae, toFetch, slaveSae);
      } catch (err) {
        throw unavailable(`cannot read the delivered keys: ${err instanceof Error ? err.message : String(err)}`);
      }
      // In request order (the error lists the key IDs as one process does).
      for (const id of toFetch) if (elsewhere.has(id)) outcomes.set(id, { error: keyNotFound(id, "already delivered") });
      if (elsewhere.size > 0) toFetch.splice(0, toFetch.length, ...toFetch.filter((id) => !elsewhere.has(id)));
    }

    if (toFetch.length > 0) {
      // PSRD-drain guard (unknown-keys.ts): an SAE that asked for many unknown key IDs is checked
      // against the hubs' share metadata (no PSRD) before a single signed lookup.
      const guarded = unknownKeys.guarded(slaveSae);
      const fetchable = guarded ? await listedByHubs(this.d.hubs, toFetch, this.d.k) : new Set(toFetch);
      let unknown = 0;
      for (const id of toFetch) {
        if (fetchable.has(id)) continue;
        outcomes.set(id, { error: keyNotFound(id, "fewer than min_nr_shares hubs hold a share") });
        unknown++;
      }
      // Key stock (key-stock.ts): a key of a master-side batch comes with its siblings, which the
      // master SAE will hand to this SAE next; they are fetched in the same hub messages and held
      // until asked for. Not for an SAE under the unknown-ID guard, nor for a reference master
      // (its key IDs are plain UUIDs, a quarter of which look like batch IDs).
      const prefetch =
        guarded || this.d.referenceSaes.has(masterSae) ? [] : this.siblingsToPrefetch(masterSae, slaveSae, [...fetchable], keyIds);
      // While this fetch runs, other requests for these keys wait for it instead of fetching them
      // again (a hub re-releases an unacknowledged share with a fresh pad: PSRD and CPU twice).
      const done = held.startFetch([...fetchable, ...prefetch].map((id) => heldKeyName(masterSae, id, slaveSae)));
      let gathered: Map<string, GatherOutcome>;
      try {
        gathered =
          fetchable.size > 0
            ? await this.d.gather.gather(slaveSae, masterSae, [...fetchable, ...prefetch], new Set(prefetch))
            : new Map<string, GatherOutcome>();
        for (const id of prefetch) {
          const o = gathered.get(id);
          gathered.delete(id);
          if (!o || !("key" in o)) continue;
          if (held.has(heldKeyName(masterSae, id, slaveSae))) {
            o.key.fill(0);
            continue;
          }
          this.prefetched++;
          held.hold(heldKeyName(masterSae, id, slaveSae), o.key);
        }
      } finally {
        done();
      }
      for (const [id, o] of gathered) {
        outcomes.set(id, o);
        if ("error" in o && o.error.kind === "unknown-key") unknown++;
      }
      unknownKeys.note(slaveSae, unknown);
    }

    // All or nothing (ETSI): the first error wins.
    const errors = [...outcomes.values()].flatMap((o) => ("error" in o ? [o.error] : []));
    if (errors.length > 0) {
      errors.sort((a, b) => rank(a) - rank(b));
      // Keys reconstructed in this request are held briefly so that a retry without the bad IDs works.
      for (const [id, o] of outcomes) {
        if ("key" in o && !held.has(heldKeyName(masterSae, id, slaveSae))) held.hold(heldKeyName(masterSae, id, slaveSae), o.key);
      }
      const first = errors[0];
      logger.warn("dec_keys failed", { master_sae: masterSae, slave_sae: slaveSae, reason: first.kind, err: first.message });
      if (first.kind === "unknown-key" && first.message.startsWith(KEYS_NOT_FOUND_MESSAGE)) {
        const ids = [...outcomes.entries()]
          .filter(([, o]) => "error" in o && o.error.kind === "unknown-key")
          .map(([id]) => ({ key_ID: id }));
        throw keysNotFound(ids);
      }
      throw first;
    }

    try {
      await keyStore.markDelivered(keyIds.map((keyId) => ({ masterSae, keyId, sae: slaveSae })));
    } catch (err) {
      if (err instanceof AlreadyDeliveredError) {
        // Another replica delivered one of them meanwhile: as if it had been before this request.
        for (const [id, o] of outcomes) {
          if ("key" in o) o.key.fill(0);
          held.delete(heldKeyName(masterSae, id, slaveSae));
        }
        logger.warn("dec_keys failed", { master_sae: masterSae, slave_sae: slaveSae, reason: "unknown-key", err: err.message });
        throw keyNotFound(err.keyIds[0], "already delivered");
      }
      for (const o of outcomes.values()) if ("key" in o) o.key.fill(0);
      throw unavailable(`cannot record delivery: ${err instanceof Error ? err.message : String(err)}`);
    }
    const container: KeyContainer = {
      keys: keyIds.map((id) => {
        const o = outcomes.get(id) as { key: Uint8Array };
        return { key_ID: id, key: Buffer.from(o.key).toString("base64") };
      }),
    };
    for (const id of keyIds) {
      const o = outcomes.get(id) as { key: Uint8Array };
      o.key.fill(0);
      held.delete(heldKeyName(masterSae, id, slaveSae));
    }
    this.acknowledge(masterSae, keyIds);
    logger.info("keys delivered", {
      master_sae: masterSae,
      slave_sae: slaveSae,
      number: keyIds.length,
      key_ids: summarizeIds(keyIds),
      duration_ms: Date.now() - started,
    });
    return container;
  }

  /** Batch siblings (key.ts batchSiblings) of the key IDs to fetch that this SAE may still be asked for. */
  private siblingsToPrefetch(masterSae: string, slaveSae: string, toFetch: readonly string[], asked: readonly string[]): string[] {
    const { held, keyStore } = this.d;
    const skip = new Set(asked);
    const out: string[] = [];
    const batches = new Set<string>();
    for (const id of toFetch) {
      // One sibling list per batch (the IDs of a batch differ only in the index digits 28..30).
      const batch = id.slice(0, 28) + id.slice(31);
      if (batches.has(batch)) continue;
      batches.add(batch);
      const siblings = batchSiblings(id);
      if (siblings.length === 0 || siblings.length > MAX_STOCK_BATCH) continue;
      for (const sib of siblings) {
        const name = heldKeyName(masterSae, sib, slaveSae);
        if (skip.has(sib) || held.has(name) || held.isFetching(name) || keyStore.isDelivered(masterSae, sib, slaveSae)) continue;
        skip.add(sib);
        out.push(sib);
      }
    }
    return out;
  }

  /**
   * Ack extension: the keys are durably recorded as delivered, so the hubs that released their
   * shares to us may delete them (acknowledged asynchronously, batched per hub). A multicast key
   * still held for another local SAE is acknowledged when that SAE gets it (or never: the hubs'
   * timeout deletes it).
   */
  private acknowledge(masterSae: string, keyIds: readonly string[]): void {
    const done = keyIds.filter((id) => !this.d.encryptors.some((e) => this.d.held.has(heldKeyName(masterSae, id, e))));
    if (done.length === 0) return;
    // Every hub, also those we did not fetch from: they drop their shares now rather than at their
    // share timeout (less secret data held, smaller hub state).
    for (const h of this.d.hubs) h.ack(masterSae, done, true);
  }
}
