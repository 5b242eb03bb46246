/**
 * Gather, the slave side: fetch shares from k hubs in parallel (healthy hubs first, share-fetches.ts),
 * reconstruct and verify the check word; if a hub fails, a check fails or the first k are slower
 * than the hedge delay, fetch from the remaining hubs and reconstruct robustly, naming the bad
 * hubs. A share whose share_index is not its hub's position + 1 is that hub's bad share (a hub's
 * position is its place in the topology's hub list: ClientOptions.hubPositions, as dske-cli gives it). Never a wrong
 * key: `unavailable` instead. Shares of a key not yet reconstructable are kept for a retry
 * (partial-shares.ts).
 *
 * Keys of reference-implementation masters (reference-key.ts) are recognised by the rule written
 * there: the master SAE is in `referenceSaes`, or every fetched share has a length ours cannot
 * have. Their shares carry x = position (0-based) and are decoded with the reference's digest.
 */
import { KmeError, keyNotFound, unauthorized, unavailable } from "./errors.js";
import { isMulticastKeyId, padLengthFromKeyId, reconstructKey, type Reconstruction, type SourcedShare } from "./key.js";
import { expectedShareX, ourShareLength, reconstructReferenceKey, shareEncoding } from "./reference-key.js";
import type { KeyStore } from "./key-store.js";
import type { Logger } from "./logger.js";
import type { PartialShares } from "./partial-shares.js";
import { HubFailure, type PeerHub, type ShareRef } from "./peer-hub.js";
import { heldKeyName, type HeldKeys } from "./held-keys.js";
import { intendedSlaves, notIntendedFor } from "./share-metadata.js";

/** What the slave side found for one key ID. */
export type GatherOutcome = { key: Uint8Array } | { error: KmeError };

export interface GatherDeps {
  clientName: string;
  encryptors: readonly string[];
  hubs: readonly PeerHub[];
  /** Topology position of each hub (ClientOptions.hubPositions). */
  positions: readonly number[];
  k: number;
  held: HeldKeys;
  partial: PartialShares;
  keyStore: KeyStore;
  logger: Logger;
  /** Default 1000 ms. */
  hedgeMs: number | undefined;
  /** A hub gave a wrong share for a key. */
  onBadShare: (hubName: string, keyId: string) => void;
  /** SAE IDs hosted by reference-implementation KMEs (reference-key.ts). */
  referenceSaes: ReadonlySet<string>;
}

/** Waits before asking again for shares still in flight (`Gather.gather`): about 0.7 s in all. */
const IN_FLIGHT_RETRY_MS = [20, 80, 200, 400];

export class Gather {
  private rotation = 0;
  /** Keys decoded in the reference implementation's format (status). */
  referenceKeys = 0;

  constructor(private readonly d: GatherDeps) {}

  /** Hubs in gather order: registered, no recent failure, fewest bad shares; rotated for balance. */
  private order(): PeerHub[] {
    const hubs = [...this.d.hubs];
    const shift = this.rotation++ % hubs.length;
    const rotated = [...hubs.slice(shift), ...hubs.slice(0, shift)];
    const recent = Date.now() - 10_000;
    const score = (h: PeerHub) => (h.registered ? 0 : 100) + (h.lastFailureAt > recent ? 10 : 0) + Math.min(h.badShares, 5);
    return rotated
      .map((h, i) => ({ h, i, s: score(h) }))
      .sort((a, b) => a.s - b.s || a.i - b.i)
      .map((e) => e.h);
  }

  /**
   * Fetch and reconstruct the keys. `optional` IDs (batch siblings fetched ahead) ride in the same
   * hub messages; one that no hub releases is simply left out (no lookups, no error).
   */
  async gather(
    slaveSae: string,
    masterSae: string,
    keyIds: readonly string[],
    optional: ReadonlySet<string> = new Set(),
  ): Promise<Map<string, GatherOutcome>> {
    let pass = await this.gatherOnce(slaveSae, masterSae, keyIds, optional);
    const outcomes = pass.outcomes;
    // Shares still in flight: every hub answered, some released a share, fewer than k did (or k or
    // more did, with a bad one among them, and not every hub). The master returns after k
    // acknowledgements of its own n hubs and posts to the others in the background; a slave that
    // asks at once, on a subset of those hubs or with a larger k, or that meets a lying hub among
    // the first k, may ask before the remaining posts land. Ask again a few times, briefly (the
    // shares received are kept: partial-shares.ts), before answering 503.
    for (const delay of IN_FLIGHT_RETRY_MS) {
      if (pass.inFlight.length === 0) break;
      await new Promise((r) => setTimeout(r, delay));
      pass = await this.gatherOnce(slaveSae, masterSae, pass.inFlight, optional);
      for (const [id, outcome] of pass.outcomes) outcomes.set(id, outcome);
    }
    return outcomes;
  }

  private async gatherOnce(
    slaveSae: string,
    masterSae: string,
    keyIds: readonly string[],
    optional: ReadonlySet<string>,
  ): Promise<{ outcomes: Map<string, GatherOutcome>; inFlight: string[] }> {
    const { hubs, k, logger } = this.d;
    /** Key IDs short of shares although every hub answered (see `gather`). */
    const inFlight: string[] = [];
    const masterIsReference = this.d.referenceSaes.has(masterSae);
    const shares = new Map<string, SourcedShare[]>(
      keyIds.map((id) => [id, this.d.partial.take(heldKeyName(masterSae, id, slaveSae)) ?? []]),
    );
    const failures: string[] = [];
    const outcomes = new Map<string, GatherOutcome>();
    const order = this.order();
    let closed = false;
    let resolveDone!: () => void;
    const allDone = new Promise<void>((r) => (resolveDone = r));
    const checkDone = () => {
      if (keyIds.every((id) => outcomes.has(id))) resolveDone();
    };

    /** One fetch per hub; each arrival is added and reconstruction retried at once. */
    const fetchFrom = (from: PeerHub[], ids: readonly string[]): Promise<void>[] => {
      const refs: ShareRef[] = ids.map((keyId) => ({ masterSae, slaveSae, keyId }));
      return from.map(async (h) => {
        // The master gives the hub at position i of the (shared, topology-ordered) hub list the
        // share at x = i + 1 (key.ts, key-source.ts), or x = i in the reference format
        // (reference-key.ts). A hub that answers with another index lies: its share is that hub's
        // bad share, never allowed to push out the honest hub's share of the index it claims.
        const position = this.d.positions[hubs.indexOf(h)];
        try {
          const got = await h.fetchShares(this.d.clientName, refs);
          for (const [id, s] of got) {
            const list = shares.get(id);
            const expectedX = expectedShareX(position, masterIsReference, s.y.length);
            if (list && s.x !== expectedX) {
              s.y.fill(0);
              logger.warn("share index not the hub's position", { hub: h.name, key_id: id, share_index: s.x, expected_index: expectedX });
              this.d.onBadShare(h.name, id);
              continue;
            }
            if (closed || !list || outcomes.has(id)) {
              s.y.fill(0); // late or unneeded
              continue;
            }
            if (list.some((o) => o.source === h.name)) {
              // The same hub again (a share kept from an earlier attempt, partial-shares.ts): keep the first.
              s.y.fill(0);
              continue;
            }
            list.push({ x: s.x, y: s.y, source: h.name });
          }
        } catch (err) {
          failures.push(err instanceof HubFailure ? err.message : `${h.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
        if (!closed) {
          tryReconstruct(ids);
          checkDone();
        }
      });
    };

    const tryReconstruct = (ids: readonly string[]) => {
      for (const id of ids) {
        if (outcomes.has(id)) continue;
        const list = shares.get(id) ?? [];
        if (list.length < k) continue;
        const rec = this.reconstruct(id, list, masterIsReference);
        if (!rec) continue;
        outcomes.set(id, { key: rec.key });
        for (const other of intended.get(id) ?? []) {
          if (other === slaveSae || !this.d.encryptors.includes(other) || this.d.keyStore.isDelivered(masterSae, id, other)) continue;
          this.d.held.hold(heldKeyName(masterSae, id, other), rec.key.slice());
        }
        for (const bad of rec.bad) this.d.onBadShare(bad, id);
        if (rec.method !== "fast") logger.warn("key reconstructed robustly", { key_id: id, reconstruction: rec.method, bad_hubs: rec.bad });
      }
    };

    // Wave 1: k hubs in parallel. Wave 2 (only if needed: a hub failed, a check failed, or wave 1
    // is slower than the hedge delay): all remaining hubs. Return as soon as every key is verified;
    // late answers are zeroed on arrival.
    // Multicast keys on a client hosting several encryptors: the hubs release a share once per
    // client, so learn the intended slaves first (from k hubs agreeing) and hold the key for the
    // other intended local SAEs.
    // (Reference keys are never multicast: their key IDs are plain UUIDs.)
    const multicastHere = this.d.encryptors.length > 1 && !masterIsReference ? keyIds.filter((id) => isMulticastKeyId(id)) : [];
    const intended = multicastHere.length > 0 ? await intendedSlaves(hubs, multicastHere, k) : new Map<string, Set<string>>();

    const first = order.slice(0, k);
    const rest = order.slice(k);
    const wave1 = fetchFrom(first, keyIds);
    const wave1State = { settled: false }; // set in a callback, so a property (TS would narrow a local to false)
    const wave1Done = Promise.all(wave1).then(() => {
      wave1State.settled = true;
    });
    let hedge: NodeJS.Timeout | undefined;
    await Promise.race([
      wave1Done,
      allDone,
      new Promise<void>((r) => {
        hedge = setTimeout(r, this.d.hedgeMs ?? 1000);
      }),
    ]);
    clearTimeout(hedge);
    let pending = keyIds.filter((id) => !outcomes.has(id));
    // Once the first k hubs all answered, ask the others only for key IDs they can still complete
    // to k shares (unknown-keys.ts: a key ID no hub knows costs k lookups, not n).
    const reachable = wave1State.settled ? pending.filter((id) => (shares.get(id)?.length ?? 0) + rest.length >= k) : pending;
    if (reachable.length > 0 && rest.length > 0) {
      const wave2 = fetchFrom(rest, reachable);
      await Promise.race([Promise.all([...wave1, ...wave2]), allDone]);
    } else if (pending.length > 0) {
      await Promise.race([Promise.all(wave1), allDone]);
    }
    closed = true;
    pending = keyIds.filter((id) => !outcomes.has(id));

    if (pending.length > 0) {
      const none = pending.filter((id) => (shares.get(id) ?? []).length === 0 && !optional.has(id));
      const some = pending.filter((id) => (shares.get(id) ?? []).length > 0);
      // No hub released anything: unknown, expired, already fetched, or not for this SAE.
      if (none.length > 0) {
        // A unicast key this client already delivered to another of its SAEs is not for this one,
        // whether or not a hub still holds a share: once our acknowledgements reached every hub
        // (ack flush, or riding on this very fetch), the hubs know nothing of it.
        const local = new Set(none.filter((id) => this.deliveredToOtherSae(masterSae, id, slaveSae)));
        const unsure = none.filter((id) => !local.has(id));
        const notIntended =
          unsure.length > 0 && failures.length < hubs.length ? await notIntendedFor(hubs, slaveSae, unsure) : new Set<string>();
        for (const id of none) {
          if (local.has(id) || notIntended.has(id)) {
            outcomes.set(id, { error: unauthorized(`SAE ${slaveSae} is not an intended slave SAE of the requested keys`) });
          } else if (failures.length > 0 && hubs.length - failures.length < k) {
            outcomes.set(id, { error: unavailable(this.shortfall(0, failures), [{ hubs_failed: failures.length, min_nr_shares: k }]) });
          } else {
            outcomes.set(id, { error: keyNotFound(id) });
          }
        }
      }
      for (const id of some) {
        const got = shares.get(id)?.length ?? 0;
        const msg =
          got < k
            ? this.shortfall(got, failures)
            : `key ${id}: the ${got} shares received do not reconstruct a verified key (more bad shares than can be corrected)`;
        outcomes.set(id, { error: unavailable(msg, [{ key_ID: id, shares_received: got, min_nr_shares: k }]) });
        this.d.partial.keep(heldKeyName(masterSae, id, slaveSae), shares.get(id) ?? []);
        // Fewer than k, or k or more that do not reconstruct (a bad one among them) while a hub
        // that answered had no share yet: the honest rest may still be in flight.
        if (got < k ? failures.length === 0 : got + failures.length < hubs.length) inFlight.push(id);
      }
    }
    for (const list of shares.values()) for (const s of list) s.y.fill(0);
    return { outcomes, inFlight };
  }

  /** Whether this unicast key was delivered here to a local SAE other than `slaveSae`. */
  private deliveredToOtherSae(masterSae: string, keyId: string, slaveSae: string): boolean {
    if (isMulticastKeyId(keyId)) return false;
    return this.d.encryptors.some((sae) => sae !== slaveSae && this.d.keyStore.isDelivered(masterSae, keyId, sae));
  }

  /**
   * Decode one key's shares by the recognition rule (reference-key.ts). Our decoding takes only
   * the shares of a length ours can have; the others are then their hubs' bad shares.
   */
  private reconstruct(keyId: string, list: readonly SourcedShare[], masterIsReference: boolean): Reconstruction | undefined {
    const encoding = shareEncoding(
      masterIsReference,
      list.map((s) => s.y.length),
    );
    if (encoding === "reference") {
      const rec = reconstructReferenceKey(list, this.d.k);
      if (rec) {
        this.referenceKeys++;
        if (!masterIsReference) this.d.logger.info("reference-implementation shares, digest verified", { key_id: keyId });
      }
      return rec;
    }
    const ours = list.filter((s) => ourShareLength(s.y.length));
    if (ours.length < this.d.k) return undefined;
    const rec = reconstructKey(ours, this.d.k, padLengthFromKeyId(keyId) ?? 0);
    if (rec && ours.length < list.length) rec.bad.push(...list.filter((s) => !ourShareLength(s.y.length)).map((s) => s.source));
    return rec;
  }

  private shortfall(got: number, failures: string[]): string {
    return `only ${got} of ${this.d.hubs.length} hubs delivered a share, ${this.d.k} needed${failures.length ? `: ${failures.join(", ")}` : ""}`;
  }
}
