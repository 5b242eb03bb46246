/**
 * Guard against PSRD drain by dec_keys for key IDs nobody created (design finding of issue 5).
 *
 * Looking up a key ID at a hub is a signed in-band message: a MAC pad from our client-owned pool
 * for the request and one from the hub-owned pool for the answer, whether or not the hub holds a
 * share. Over plain HTTP anyone can call dec_keys in the name of any local SAE, with any key IDs.
 * Two bounds keep that from draining PSRD:
 *
 * 1. (gather.ts) A key ID for which the k hubs asked first released no share is not asked
 *    of the other n − k hubs when n − k < k: they could not make up k shares anyway. So one
 *    unknown key ID costs at most k request/response MAC pairs (k·2·16 bytes with gf128), not n.
 * 2. (this file) Per slave SAE, key IDs that no hub knew are counted over a sliding minute. Once an
 *    SAE has had UNKNOWN_KEY_BUDGET of them, its further lookups are first checked against the
 *    hubs' unsigned `key-shares/held` query (no PSRD; it answers only which of the given key IDs
 *    are live), and key IDs that fewer than k hubs hold are refused (400, key not found) without
 *    any signed request. Real keys are listed by the
 *    hubs, so the SAE's legitimate traffic continues (one extra metadata round trip per request
 *    while guarded). The guard lifts when the minute passes without new unknown IDs.
 *
 * Bound: at most UNKNOWN_KEY_BUDGET · k · 2 · MAC bytes of PSRD per SAE per minute are spent on
 * key IDs no hub holds, however many are requested (plus what lying hubs make us spend — a lying
 * hub can waste PSRD shared with itself anyway).
 */

/** Unknown key IDs per SAE per window before lookups of that SAE are checked against hub metadata. */
export const UNKNOWN_KEY_BUDGET = 32;
/** Sliding window of the budget (ms). */
export const UNKNOWN_KEY_WINDOW_MS = 60_000;

export class UnknownKeyGuard {
  private readonly seen = new Map<string, number[]>();

  constructor(
    readonly budget = UNKNOWN_KEY_BUDGET,
    readonly windowMs = UNKNOWN_KEY_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  private recent(sae: string): number[] {
    const from = this.now() - this.windowMs;
    const list = (this.seen.get(sae) ?? []).filter((t) => t > from);
    if (list.length === 0) this.seen.delete(sae);
    else this.seen.set(sae, list);
    return list;
  }

  /** Record `count` key IDs requested by `sae` that no hub knew. */
  note(sae: string, count: number): void {
    if (count <= 0) return;
    const list = this.recent(sae);
    const t = this.now();
    // Keep at most budget + 1 timestamps: enough to decide, bounded memory.
    for (let i = 0; i < count && list.length <= this.budget; i++) list.push(t);
    this.seen.set(sae, list);
  }

  /** Whether lookups of `sae` must be checked against the hubs' share metadata first. */
  guarded(sae: string): boolean {
    return this.recent(sae).length >= this.budget;
  }

  /** SAEs currently guarded (for the management status). */
  guardedSaes(): string[] {
    return [...this.seen.keys()].filter((s) => this.guarded(s));
  }
}

/** What the guard needs of a peer hub: which of some key IDs it holds (no PSRD spent). */
export interface ShareLister {
  readonly registered: boolean;
  sharesHeld(keyIds: readonly string[]): Promise<string[]>;
}

/** The key IDs among `keyIds` that at least k hubs list in their share metadata. */
export async function listedByHubs(hubs: readonly ShareLister[], keyIds: readonly string[], k: number): Promise<Set<string>> {
  const wanted = new Set(keyIds);
  const count = new Map<string, number>();
  await Promise.all(
    hubs
      .filter((h) => h.registered)
      .map(async (h) => {
        try {
          const mine = new Set<string>();
          for (const id of await h.sharesHeld(keyIds)) if (wanted.has(id)) mine.add(id);
          for (const id of mine) count.set(id, (count.get(id) ?? 0) + 1);
        } catch {
          // a hub that does not answer lists nothing
        }
      }),
  );
  return new Set([...count].filter(([, n]) => n >= k).map(([id]) => id));
}
