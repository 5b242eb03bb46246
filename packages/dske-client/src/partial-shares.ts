/**
 * Decrypted shares of keys the responder could not reconstruct yet (fewer than k hubs answered,
 * e.g. a hub was down), kept in memory for a retry. The hubs that did answer deleted their shares
 * once this client fetched them, so without this a dec_keys that failed while a hub was down would
 * lose the key for good; with it, a retry once the hub is back completes the key (the chaos system
 * test retries such keys). Memory only (never written to disk; zeroed on expiry and stop), so a
 * crash of this client still loses them: the retry then fails clearly (400/503), never wrongly.
 */
import type { SourcedShare } from "./key.js";

export class PartialShares {
  private readonly map = new Map<string, { shares: SourcedShare[]; expires: number }>();

  constructor(private readonly ttlMs: number) {}

  /** Keep copies of `shares` under `name` (replacing what was kept). */
  keep(name: string, shares: readonly SourcedShare[]): void {
    if (shares.length === 0) return;
    this.drop(name);
    this.map.set(name, { shares: shares.map((s) => ({ x: s.x, y: s.y.slice(), source: s.source })), expires: Date.now() + this.ttlMs });
  }

  /** Take (and forget) the shares kept under `name`; the caller zeroes them. */
  take(name: string): SourcedShare[] | undefined {
    const e = this.map.get(name);
    this.map.delete(name);
    return e && e.expires >= Date.now() ? e.shares : (e?.shares.forEach((s) => s.y.fill(0)), undefined);
  }

  private drop(name: string): void {
    this.map.get(name)?.shares.forEach((s) => s.y.fill(0));
    this.map.delete(name);
  }

  /** Zero and forget expired entries. */
  sweep(now = Date.now()): void {
    for (const [k, e] of this.map) if (e.expires < now) this.drop(k);
  }

  /** Zero and forget everything. */
  clear(): void {
    for (const k of [...this.map.keys()]) this.drop(k);
  }

  get size(): number {
    return this.map.size;
  }
}
