/**
 * Key stock (master side): keys established ahead, per (master SAE, slave SAE, key size), so that
 * ETSI Get key is answered from memory while the hub traffic runs in big batches in the
 * background — the `stored_key_count` model of ETSI GS QKD 014, where a KME holds keys ready for
 * an SAE pair.
 *
 * Policy (pure bookkeeping here; the Client runs the refills):
 * - A pair gets a stock only once it shows sustained demand: the keys it asked for in the last
 *   second, times `aheadMs`, is the target. A pair asking once (e.g. one `get-key-pair`) never
 *   gets a stock, so no PSRD is spent on keys nobody asks for.
 * - A refill is due when the stock falls below half its target; one refill in flight per pair;
 *   refills come in batches of at least MIN_REFILL and at most MAX_STOCK_BATCH keys, but of no
 *   more than twice the look-ahead (4 s by default) and half a key lifetime of the pair's demand
 *   when that is less than MIN_REFILL.
 * - Stocked keys expire after `ttlMs` (default 20 s, well inside the hubs' default share timeout of
 *   60 s, so the slave can still fetch the shares of any key handed out), are zeroed on expiry,
 *   on clear() and when handed out by the caller.
 * - Stocked keys are never written to disk: after a crash they are simply gone (their shares
 *   expire at the hubs), so a key can never be handed out twice.
 */

export interface StockedKey {
  keyId: string;
  /** The key bytes; zeroed by whoever removes the key from the stock. */
  key: Uint8Array;
  /** ms since epoch after which the key is dropped. */
  expires: number;
}

export interface KeyStockOptions {
  /** How far ahead of the measured demand the stock runs (ms); 0 disables the stock. Default 2000. */
  aheadMs?: number;
  /** Lifetime of a stocked key (ms). Default 20,000. */
  ttlMs?: number;
  /** Upper bound of keys held per pair. Default 2000. */
  maxPerPair?: number;
  /**
   * Least demand that gets a stock, in keys per second; a pair also needs this many requests per
   * second, up to 2. Default 2. Lower it where callers are slow (tests on a busy machine).
   */
  minRate?: number;
  /**
   * The stock is used only while k hubs answered fine within this many ms (real time, as the
   * hubs' last exchanges are). Default 3000.
   */
  freshMs?: number;
  now?: () => number;
}

/**
 * Smallest refill batch (fewer keys would not amortise the hub messages: a signed hub message
 * costs the nodes about as much CPU as a few hundred keys in it, e2e bench)...
 */
export const MIN_REFILL = 512;
/** ...unless the demand would not use it up within twice the look-ahead (or half the key lifetime): then down to this. */
const MIN_LIFETIME_REFILL = 8;
/**
 * Largest refill batch: two hub messages of MAX_BATCH_SHARES (1000) each; batch key IDs number
 * their keys in 12 bits (key.ts), so at most 4096.
 */
export const MAX_STOCK_BATCH = 2000;
/** Demand below this many keys per second, or fewer requests than this per second, gets no stock. */
const MIN_RATE = 2;
const MIN_REQUESTS = 2;
const DEFAULT_FRESH_MS = 3000;
const RATE_WINDOW_MS = 1000;
/**
 * Keys come out of the stock only while the pair's demand is ongoing: its previous request at most
 * this long ago. After a quiet spell the next request is served on demand (it checks the hubs)
 * and the stock serves the ones after it.
 */
const HOT_MS = 2000;

interface PairStock {
  masterSae: string;
  slaveSae: string;
  size: number;
  keys: StockedKey[];
  /** Index of the first live key in `keys` (a queue without shifting). */
  head: number;
  refilling: boolean;
  windowStart: number;
  windowCount: number;
  windowRequests: number;
  /** Keys per second in the last complete window. */
  rate: number;
  /** Requests in the last complete window. */
  requests: number;
  /** Time of the previous request (0: none). */
  lastRequestAt: number;
}

export interface RefillOrder {
  masterSae: string;
  slaveSae: string;
  size: number;
  count: number;
}

export class KeyStock {
  readonly aheadMs: number;
  readonly ttlMs: number;
  private readonly maxPerPair: number;
  private readonly minRate: number;
  /** How recent the hubs' last good exchanges must be for the stock to be used (ms). */
  readonly freshMs: number;
  private readonly now: () => number;
  private readonly pairs = new Map<string, PairStock>();
  /** Keys asked for but not served from the stock: the pair was quiet (cold) / the stock was empty. */
  readonly misses = { cold: 0, empty: 0 };

  constructor(options: KeyStockOptions = {}) {
    this.aheadMs = options.aheadMs ?? 2000;
    this.ttlMs = options.ttlMs ?? 20_000;
    this.maxPerPair = options.maxPerPair ?? 2000;
    this.minRate = options.minRate ?? MIN_RATE;
    this.freshMs = options.freshMs ?? DEFAULT_FRESH_MS;
    this.now = options.now ?? Date.now;
    if (!(this.aheadMs >= 0 && this.ttlMs > 0 && this.maxPerPair >= 0))
      throw new RangeError("key stock: aheadMs >= 0, ttlMs > 0, maxPerPair >= 0");
  }

  get enabled(): boolean {
    return this.aheadMs > 0 && this.maxPerPair > 0;
  }

  private pair(masterSae: string, slaveSae: string, size: number): PairStock {
    const name = `${masterSae}\u0000${slaveSae}\u0000${size}`;
    let p = this.pairs.get(name);
    if (!p) {
      p = {
        masterSae,
        slaveSae,
        size,
        keys: [],
        head: 0,
        refilling: false,
        windowStart: this.now(),
        windowCount: 0,
        windowRequests: 0,
        rate: 0,
        requests: 0,
        lastRequestAt: 0,
      };
      this.pairs.set(name, p);
    }
    return p;
  }

  /**
   * Take up to `count` keys for the pair (oldest first; expired ones are zeroed and skipped) and
   * note the demand. None while the pair was quiet (HOT_MS). The caller owns the returned keys
   * (zero them after use).
   */
  take(masterSae: string, slaveSae: string, size: number, count: number): StockedKey[] {
    const p = this.pair(masterSae, slaveSae, size);
    const now = this.now();
    if (now - p.windowStart >= RATE_WINDOW_MS) {
      p.rate = (p.windowCount * 1000) / (now - p.windowStart);
      p.requests = p.windowRequests;
      // A long quiet gap counts as no demand.
      if (now - p.windowStart > 2 * RATE_WINDOW_MS) p.rate = p.requests = 0;
      p.windowStart = now;
      p.windowCount = 0;
      p.windowRequests = 0;
    }
    p.windowCount += count;
    p.windowRequests++;
    const hot = p.lastRequestAt > 0 && now - p.lastRequestAt <= HOT_MS;
    p.lastRequestAt = now;
    const out: StockedKey[] = [];
    if (!hot) {
      this.misses.cold += count;
      return out;
    }
    while (out.length < count && p.head < p.keys.length) {
      const k = p.keys[p.head++];
      if (k.expires <= now) {
        k.key.fill(0);
        continue;
      }
      out.push(k);
    }
    this.misses.empty += count - out.length;
    this.compact(p);
    return out;
  }

  /** Put back keys taken but not handed out (the request failed): they stay first in line. */
  putBack(masterSae: string, slaveSae: string, size: number, keys: readonly StockedKey[]): void {
    if (keys.length === 0) return;
    const p = this.pair(masterSae, slaveSae, size);
    p.keys = [...keys, ...p.keys.slice(p.head)];
    p.head = 0;
  }

  /** Add freshly established keys (the refill finished). */
  add(masterSae: string, slaveSae: string, size: number, keys: readonly { keyId: string; key: Uint8Array }[]): void {
    const p = this.pair(masterSae, slaveSae, size);
    const expires = this.now() + this.ttlMs;
    for (const k of keys) p.keys.push({ keyId: k.keyId, key: k.key, expires });
  }

  /** Live keys held for the pair. */
  size(masterSae: string, slaveSae: string, size: number): number {
    const p = this.pairs.get(`${masterSae}\u0000${slaveSae}\u0000${size}`);
    return p ? p.keys.length - p.head : 0;
  }

  /**
   * The refill due for the pair, if any (and marks it in flight: call refillDone when it
   * settles). Target = demand rate × aheadMs, capped; due below half the target.
   */
  refillDue(masterSae: string, slaveSae: string, size: number): RefillOrder | undefined {
    if (!this.enabled) return undefined;
    const p = this.pair(masterSae, slaveSae, size);
    if (p.refilling) return undefined;
    const rate = Math.max(p.rate, (p.windowCount * 1000) / Math.max(RATE_WINDOW_MS, this.now() - p.windowStart));
    if (rate < this.minRate || Math.max(p.requests, p.windowRequests) < Math.min(MIN_REQUESTS, this.minRate)) return undefined;
    const target = Math.min(this.maxPerPair, Math.ceil((rate * this.aheadMs) / 1000));
    const have = p.keys.length - p.head;
    if (have >= target / 2) return undefined;
    // At least MIN_REFILL (fewer keys would not amortise the hub messages), but no more than
    // twice the look-ahead of demand (a slow pair's keys would sit in memory for long) nor half a
    // key lifetime of it (keys that expire unused are PSRD spent for nothing).
    const floorCap = Math.max(MIN_LIFETIME_REFILL, Math.floor(Math.min((rate * this.ttlMs) / 2000, (rate * 2 * this.aheadMs) / 1000)));
    const count = Math.min(MAX_STOCK_BATCH, Math.max(Math.min(MIN_REFILL, floorCap), target - have), this.maxPerPair - have);
    if (count <= 0) return undefined;
    p.refilling = true;
    return { masterSae, slaveSae, size, count };
  }

  refillDone(order: RefillOrder): void {
    this.pair(order.masterSae, order.slaveSae, order.size).refilling = false;
  }

  /** Zero and drop expired keys (all pairs). */
  sweep(): void {
    const now = this.now();
    for (const p of this.pairs.values()) {
      while (p.head < p.keys.length && p.keys[p.head].expires <= now) p.keys[p.head++].key.fill(0);
      this.compact(p);
    }
  }

  /** Zero and drop every stocked key. */
  clear(): void {
    for (const p of this.pairs.values()) {
      for (let i = p.head; i < p.keys.length; i++) p.keys[i].key.fill(0);
      p.keys = [];
      p.head = 0;
    }
  }

  /** Keys held over all pairs (status). */
  total(): number {
    let n = 0;
    for (const p of this.pairs.values()) n += p.keys.length - p.head;
    return n;
  }

  private compact(p: PairStock): void {
    if (p.head > 64 && p.head * 2 > p.keys.length) {
      p.keys = p.keys.slice(p.head);
      p.head = 0;
    }
  }
}
