/**
 * Held keys, on the slave side: keys reconstructed but not handed out yet, kept in memory for a
 * short time (`ttlMs`). A key reconstructed in a request that failed for another key (so that a
 * retry without the bad IDs works), a batch sibling fetched ahead (key-stock.ts), or a multicast
 * key for another intended local SAE. Also the fetches in flight, so that a second request for
 * the same keys waits for the first instead of fetching them again.
 */

interface HeldKey {
  key: Uint8Array;
  expires: number;
}

/** The name of a key for one slave SAE. */
export function heldKeyName(master: string, keyId: string, sae: string): string {
  return `${master}\u0000${keyId}\u0000${sae}`;
}

export class HeldKeys {
  private readonly keys = new Map<string, HeldKey>();
  /** Keys being fetched right now (held-key name → settles when that fetch is done). */
  private readonly fetching = new Map<string, Promise<void>>();

  constructor(private readonly ttlMs: number) {}

  get size(): number {
    return this.keys.size;
  }

  get(name: string): Uint8Array | undefined {
    return this.keys.get(name)?.key;
  }

  has(name: string): boolean {
    return this.keys.has(name);
  }

  /** Hold `key` (owned from now on) for `ttlMs`. */
  hold(name: string, key: Uint8Array, now = Date.now()): void {
    this.keys.set(name, { key, expires: now + this.ttlMs });
  }

  /** Forget a key (its bytes are the caller's to zero). */
  delete(name: string): void {
    this.keys.delete(name);
  }

  /** Zero and drop the expired keys. */
  sweep(now = Date.now()): void {
    for (const [k, v] of this.keys) {
      if (v.expires < now) {
        v.key.fill(0);
        this.keys.delete(k);
      }
    }
  }

  /** Zero and drop every key. */
  clear(): void {
    for (const h of this.keys.values()) h.key.fill(0);
    this.keys.clear();
  }

  /** The fetch in flight for this key, if any. */
  inFlight(name: string): Promise<void> | undefined {
    return this.fetching.get(name);
  }

  isFetching(name: string): boolean {
    return this.fetching.has(name);
  }

  /**
   * Mark these keys as being fetched (those not already marked) until the returned `done` is
   * called; other requests for them wait for `inFlight`.
   */
  startFetch(names: readonly string[]): () => void {
    let fetched!: () => void;
    const inFlight = new Promise<void>((r) => (fetched = r));
    const mine = names.filter((n) => !this.fetching.has(n));
    for (const n of mine) this.fetching.set(n, inFlight);
    return () => {
      for (const n of mine) if (this.fetching.get(n) === inFlight) this.fetching.delete(n);
      fetched();
    };
  }
}
