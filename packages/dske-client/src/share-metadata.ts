/**
 * What the hubs say about shares without releasing them: which key IDs they hold (the unsigned
 * `held` query, no PSRD) and the intended slave SAEs of keys (signed share metadata, never
 * values). The slave side uses them to tell "not for you" (401) from "not found" (400), and to
 * learn which local SAEs a multicast key is for.
 */
import type { ShareMeta } from "@dske/protocol";

/** What these queries need of a peer hub. */
export interface ShareMetadataSource {
  readonly registered: boolean;
  sharesHeld(keyIds: readonly string[]): Promise<string[]>;
  listShares(keyIds: readonly string[]): Promise<ShareMeta[]>;
}

/**
 * How many registered hubs hold a live share of each of these key IDs (so bogus key IDs cost
 * no PSRD here). A hub that does not answer holds nothing.
 */
export async function heldCounts(hubs: readonly ShareMetadataSource[], keyIds: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  await Promise.all(
    hubs
      .filter((h) => h.registered)
      .map(async (h) => {
        try {
          for (const id of new Set(await h.sharesHeld(keyIds))) counts.set(id, (counts.get(id) ?? 0) + 1);
        } catch {
          // unknown: counts as not held
        }
      }),
  );
  return counts;
}

/**
 * Which of these key IDs exist at some hub for other slave SAEs (→ 401 rather than 400). First
 * the free `held` query; then, for IDs some hub holds, the signed share metadata: an ID held
 * but not listed with `slaveSae` as an intended slave (or not listed at all: for no SAE of
 * this client) is not for this SAE.
 */
export async function notIntendedFor(
  hubs: readonly ShareMetadataSource[],
  slaveSae: string,
  keyIds: readonly string[],
): Promise<Set<string>> {
  const held = await heldCounts(hubs, keyIds);
  const candidates = keyIds.filter((id) => (held.get(id) ?? 0) > 0);
  if (candidates.length === 0) return new Set();
  const intended = new Set<string>();
  let answered = 0;
  await Promise.all(
    hubs
      .filter((h) => h.registered)
      .map(async (h) => {
        try {
          const shares = await h.listShares(candidates);
          answered++;
          // An empty list: an unbound share (a reference client's, at a hub in reference-client mode) is for every SAE.
          for (const s of shares) if (s.slave_sae_ids.length === 0 || s.slave_sae_ids.includes(slaveSae)) intended.add(s.key_id);
        } catch {
          // a hub that does not answer tells nothing
        }
      }),
  );
  // Without a single metadata answer we cannot tell: "not found" rather than a guess.
  return answered === 0 ? new Set() : new Set(candidates.filter((id) => !intended.has(id)));
}

/**
 * Intended slave SAEs of these keys per the hubs' share metadata, asked only for key IDs that at
 * least k hubs hold (the free `held` query first, so key IDs nobody created cost no PSRD). An
 * SAE counts only if at least k hubs list it, so fewer than k lying hubs cannot make this client
 * hand a key to an unintended local SAE.
 */
export async function intendedSlaves(
  hubs: readonly ShareMetadataSource[],
  keyIds: readonly string[],
  k: number,
): Promise<Map<string, Set<string>>> {
  const held = await heldCounts(hubs, keyIds);
  const candidates = keyIds.filter((id) => (held.get(id) ?? 0) >= k);
  const votes = new Map<string, Map<string, number>>();
  if (candidates.length === 0) return new Map();
  const wanted = new Set(candidates);
  await Promise.all(
    hubs
      .filter((h) => h.registered)
      .map(async (h) => {
        try {
          const seen = new Set<string>();
          for (const s of await h.listShares(candidates)) {
            if (!wanted.has(s.key_id) || seen.has(s.key_id)) continue;
            seen.add(s.key_id);
            const v = votes.get(s.key_id) ?? new Map<string, number>();
            for (const sae of new Set(s.slave_sae_ids)) v.set(sae, (v.get(sae) ?? 0) + 1);
            votes.set(s.key_id, v);
          }
        } catch {
          // a hub that does not answer does not vote
        }
      }),
  );
  const out = new Map<string, Set<string>>();
  for (const [id, v] of votes) out.set(id, new Set([...v].filter(([, n]) => n >= k).map(([sae]) => sae)));
  return out;
}
