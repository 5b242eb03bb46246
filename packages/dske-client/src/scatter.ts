/**
 * Scatter, the master side: make keys, split each into n Shamir shares (one per configured hub,
 * x = hub position + 1), post the shares to all hubs in parallel (share-posts.ts) and succeed as
 * soon as k hubs acknowledged (the rest finish in the background). Fewer than k → `unavailable`
 * naming the shortfall and each hub's failure. The issued-key record (no secrets) is journaled
 * while the shares travel. Keys for a slave SAE hosted by a reference-implementation KME are made
 * in the reference's share format (reference-key.ts: share x = hub position, from random bytes
 * whatever the key source).
 */
import { unavailable } from "./errors.js";
import { makeSplitKey, newBatchKeyIds, pooledRandom, splitRandomBytes, type SplitKey } from "./key.js";
import { makePsrdSplitKeys, type KeySource, type PadAllocation } from "./key-source.js";
import { makeReferenceSplitKey } from "./reference-key.js";
import type { KeyStore } from "./key-store.js";
import type { Logger } from "./logger.js";
import { HubFailure, type OutgoingShare, type PeerHub } from "./peer-hub.js";

/** When k acknowledgements are out of reach, wait this long for the other hubs before reporting. */
const QUORUM_REPORT_WAIT_MS = 3000;

export interface ScatterDeps {
  clientName: string;
  hubs: readonly PeerHub[];
  /** Topology position of each hub (ClientOptions.hubPositions): its share has x = position + 1. */
  positions: readonly number[];
  k: number;
  keySource: KeySource;
  keyStore: KeyStore;
  logger: Logger;
  /** Background work the client waits for at stop. */
  track: (p: Promise<unknown>) => void;
  /** Right after start: wait (bounded) for first registrations in flight. */
  settleStartup: () => Promise<void>;
  /** SAE IDs hosted by reference-implementation KMEs (reference-key.ts). */
  referenceSaes: ReadonlySet<string>;
}

export class Scatter {
  constructor(private readonly d: ScatterDeps) {}

  /**
   * Make `count` keys for the master SAE and slaves, post their shares to every hub and return
   * once k hubs acknowledged them and the issued-key records are durable. The caller owns the
   * returned key bytes. `batch`: the keys get batch key IDs (key.ts newBatchKeyIds), and the call
   * returns only once every hub settled.
   */
  async establish(
    masterSae: string,
    slaves: readonly string[],
    size: number,
    count: number,
    batch = false,
  ): Promise<{ keyId: string; key: Uint8Array }[]> {
    const { hubs, k } = this.d;
    const [slaveSae, ...additional] = slaves;
    await this.d.settleStartup();
    let registered = hubs.filter((h) => h.registered);
    if (registered.length < k) {
      // Too few hubs known up: probe those held for down now, in parallel (bounded by the connect
      // timeout), instead of refusing until their registration retry timers fire. Back ones
      // register at once; the others' `lastError` then says why they are down now.
      await Promise.all(hubs.filter((h) => !h.registered).map((h) => h.probe()));
      registered = hubs.filter((h) => h.registered);
    }
    if (registered.length < k) {
      const down = hubs.filter((h) => !h.registered).map((h) => `${h.name}: ${h.lastError ?? "not registered"}`);
      throw unavailable(this.shortfall(registered.length, down), [{ hubs_registered: registered.length, min_nr_shares: k }]);
    }

    // Shares are made for every position up to the last of ours; each hub gets the one of its position.
    const { positions } = this.d;
    const n = Math.max(...positions) + 1;
    let made: SplitKey[];
    let pads: Map<number, PadAllocation>[] | undefined;
    if (slaves.some((s) => this.d.referenceSaes.has(s))) {
      // key-issuing.ts keeps reference pairs out of the stock (batch key IDs) and multicast.
      if (batch || additional.length > 0) throw new Error("reference-format keys are single-slave and never batched");
      made = Array.from({ length: count }, () => makeReferenceSplitKey(size, n, k));
    } else if (this.d.keySource === "psrd") {
      try {
        ({ made, pads } = await makePsrdSplitKeys(hubs, k, size, count, additional.length > 0, positions));
      } catch (err) {
        throw unavailable(`cannot derive keys from PSRD: ${err instanceof Error ? err.message : String(err)}`);
      }
    } else {
      const random = pooledRandom(count * splitRandomBytes(size, k));
      try {
        made = Array.from({ length: count }, () => makeSplitKey(size, n, k, random, additional.length > 0));
      } finally {
        random.wipe();
      }
    }
    if (batch) {
      const ids = newBatchKeyIds(size, count);
      made.forEach((m, i) => (m.keyId = ids[i]));
    }
    const zeroShares = () => {
      for (const m of made) for (const s of m.shares) s.y.fill(0);
      for (const p of pads ?? []) for (const a of p.values()) a.data.fill(0);
    };
    const perHub: OutgoingShare[][] = hubs.map((_, j) =>
      made.map((m, i) => ({
        ...(pads?.[i].has(j) ? { pad: pads[i].get(j) } : {}),
        keyId: m.keyId,
        masterSae,
        slaveSae,
        additionalSlaves: additional,
        x: m.shares[positions[j]].x,
        y: m.shares[positions[j]].y,
        keySize: size,
      })),
    );

    // The issued-key record (bookkeeping: master and intended slaves, no secrets) is journaled
    // while the shares are posted, so its fsync overlaps the hub round trips instead of following
    // them. If the request then fails, the record names a key no hub holds: dec_keys says 400.
    const recorded = this.d.keyStore.recordIssued(made.map((m) => ({ keyId: m.keyId, masterSae, slaveSaes: [...slaves], size })));
    recorded.catch(() => undefined); // observed below
    try {
      const result = this.quorum(hubs.map((h, j) => () => h.postShares(this.d.clientName, perHub[j])));
      // Zero the plain shares once every hub is done (slow hubs finish in the background).
      this.d.track(result.all.finally(zeroShares));
      await result.quorum;
      // A stock batch (background, no caller waiting) is ready only once every hub settled: the
      // responder then finds the shares at whichever hubs it asks, instead of racing the slow ones.
      if (batch) await result.all;
    } catch (err) {
      for (const m of made) m.key.fill(0);
      throw err;
    }

    try {
      await recorded;
    } catch (err) {
      for (const m of made) m.key.fill(0);
      throw unavailable(`cannot record issued keys: ${err instanceof Error ? err.message : String(err)}`);
    }
    return made.map((m) => ({ keyId: m.keyId, key: m.key }));
  }

  private shortfall(acked: number, failures: string[]): string {
    return `only ${acked} of ${this.d.hubs.length} hubs acknowledged, ${this.d.k} needed: ${failures.join(", ")}`;
  }

  /**
   * Run one task per hub in parallel; `quorum` resolves with the names of the first k that
   * succeeded, or rejects (`unavailable`, naming the shortfall) as soon as k can no longer be
   * reached. `all` settles when every task settled.
   */
  private quorum(tasks: (() => Promise<void>)[]): { quorum: Promise<string[]>; all: Promise<unknown> } {
    const { hubs, k, logger } = this.d;
    const ok: string[] = [];
    const failed: string[] = [];
    let resolveQ!: (v: string[]) => void;
    let rejectQ!: (e: unknown) => void;
    let done = false;
    const quorum = new Promise<string[]>((res, rej) => {
      resolveQ = res;
      rejectQ = rej;
    });
    const all = Promise.allSettled(
      tasks.map((task, j) =>
        task().then(
          () => {
            ok.push(hubs[j].name);
            if (!done && ok.length >= k) {
              done = true;
              resolveQ([...ok]);
            }
          },
          (err: unknown) => {
            const msg = err instanceof HubFailure ? err.message : `${hubs[j].name}: ${err instanceof Error ? err.message : String(err)}`;
            failed.push(msg);
            if (done) {
              logger.warn("share post after quorum failed", { hub: hubs[j].name, err: err instanceof HubFailure ? err.reason : msg });
            } else if (failed.length > tasks.length - k) {
              done = true;
              // k is out of reach: report how many acknowledged once the others settled (bounded wait).
              void Promise.race([all, new Promise((r) => setTimeout(r, QUORUM_REPORT_WAIT_MS).unref())]).then(() => {
                const pending = hubs
                  .filter((h) => !ok.includes(h.name) && !failed.some((f) => f.startsWith(`${h.name}: `)))
                  .map((h) => `${h.name}: no answer yet`);
                const all = [...failed, ...pending];
                rejectQ(unavailable(this.shortfall(ok.length, all), [{ hubs_acknowledged: ok.length, hubs_needed: k, failures: all }]));
              });
            }
          },
        ),
      ),
    );
    return { quorum, all };
  }
}
