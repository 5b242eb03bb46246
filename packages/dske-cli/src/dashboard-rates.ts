/**
 * The dashboard's one rate definition (every keys/s it shows is this, or a sum of it over
 * counters sampled in the same rounds). Rates from successive samples of monotone counters (keys issued, keys delivered ...): the rate
 * of a counter is its increase over a sliding window divided by the window's length (by the
 * samples' span if that is longer), so that a short history gives no burst figure. A counter that
 * goes down (node restarted, records pruned) starts afresh instead of giving a negative rate.
 */

interface Sample {
  readonly t: number;
  readonly v: number;
}

export class RateTracker {
  private readonly series = new Map<string, Sample[]>();

  /** `windowMs`: how far back a rate looks (default 10 s). */
  constructor(readonly windowMs = 10_000) {
    if (!(windowMs > 0)) throw new RangeError("windowMs must be positive");
  }

  /** Record counter `key` at time `t` (ms). */
  add(key: string, t: number, value: number): void {
    let s = this.series.get(key);
    if (s === undefined) {
      s = [];
      this.series.set(key, s);
    }
    const last = s.at(-1);
    if (last !== undefined && (value < last.v || t < last.t)) s.length = 0;
    s.push({ t, v: value });
    // Keep one sample at or before the window's start, so the window is always covered.
    while (s.length > 2 && s[1].t <= t - this.windowMs) s.shift();
  }

  /** Increase per second over the window; 0 with fewer than two samples. */
  rate(key: string): number {
    const s = this.series.get(key);
    if (s === undefined || s.length < 2) return 0;
    const first = s[0];
    const last = s[s.length - 1];
    return (last.v - first.v) / (Math.max(last.t - first.t, this.windowMs) / 1000);
  }

  /** The latest value of `key`, if any. */
  latest(key: string): number | undefined {
    const s = this.series.get(key);
    return s?.[s.length - 1]?.v;
  }

  /** Forget counters not in `keep` (nodes or pairs that vanished). */
  retain(keep: ReadonlySet<string>): void {
    for (const k of this.series.keys()) if (!keep.has(k)) this.series.delete(k);
  }
}
