/**
 * Where keys come from (selectable per client, `--key-source`, `key_source:` in dske-config.yaml):
 *
 * - `random` (default): key.ts makeSplitKey — the key and the Shamir coefficients from
 *   crypto.randomBytes; every share one-time-pad encrypted with fresh PSRD.
 * - `psrd`: "PSRD used directly as shares" (the project's DSKE cryptography notes, §2(c), draft -00
 *   §11.4 / Appendix A, byte-wise over GF(2^8)). For k chosen hubs at x_1..x_k, the |S| bytes of
 *   one-time pad allocated from each hub's client-owned pool ARE that hub's share R_i = f(x_i).
 *   The secret S' = f(0) is interpolated from them (@dske/sss interpolateAt); S = Y || t where Y
 *   is the key plus its padding. The check word of f(0) is then made right: one share (the last
 *   chosen) is changed in its check-word bytes only, by (t* − t') / λ_j byte-wise, where
 *   t* = keyCheckWord(Y) and λ_j is its Lagrange coefficient at 0. The shares of the other n − k
 *   hubs are evaluated from the polynomial and OTP-encrypted as usual. The wire does not change:
 *   the encrypted share of an unchanged PSRD share is all zero (share XOR the same pad), that of
 *   the adjusted share is zero except in the check word; neither tells anything, since the pads
 *   are secret and used once.
 *
 * No CSPRNG on the key path in `psrd` mode: the key is a function of PSRD only (the key ID is
 * still a random UUID; it is public). Same PSRD budget as `random`: each hub gets |S| pad bytes.
 */
import { keyCheckWord } from "./key-check.js";
import { gf256, interpolateAt, type Share } from "@dske/sss";
import type { Allocation } from "@dske/psrd";
import { newKeyId, padLength, secretLength, WORD, type SplitKey } from "./key.js";

export const KEY_SOURCES = ["random", "psrd"] as const;
export type KeySource = (typeof KEY_SOURCES)[number];

/** A one-time pad taken from a hub's client-owned pool, with its allocation. */
export interface PadAllocation {
  allocation: Allocation;
  data: Uint8Array;
}

/** Lagrange coefficient at 0 of the share at xs[j] among xs: Π_{m≠j} x_m / (x_m − x_j) over GF(2^8). */
export function lagrangeAtZero(xs: readonly number[], j: number): number {
  let num = 1;
  let den = 1;
  for (let m = 0; m < xs.length; m++) {
    if (m === j) continue;
    num = gf256.mul(num, xs[m]);
    den = gf256.mul(den, gf256.add(xs[m], xs[j]));
  }
  return gf256.div(num, den);
}

/** The secret f(0) of the polynomial through the PSRD shares (the interpolation step of §2(c)). */
export function secretFromPsrdShares(shares: readonly Share[]): Uint8Array {
  return interpolateAt([...shares], 0);
}

export interface PsrdSplitKey extends SplitKey {
  /** x of the share whose check-word bytes were adjusted. */
  adjustedX: number;
}

/**
 * Derive a key of `sizeBits` from k PSRD pads (each |S| bytes) taken as the shares at their x,
 * adjust the last one so that f(0) carries a valid check word, and evaluate the shares for the
 * other x in 1..n. Returns shares for x = 1..n (the chosen ones are copies of the pads, one
 * adjusted). Does not zero the pads (the caller encrypts its shares with them, then zeroes them).
 */
export function splitKeyFromPsrd(
  sizeBits: number,
  n: number,
  pads: readonly { x: number; pad: Uint8Array }[],
  multicast = false,
): PsrdSplitKey {
  if (!Number.isInteger(sizeBits) || sizeBits <= 0 || sizeBits % 8 !== 0) {
    throw new RangeError("key size must be a positive multiple of 8 bits");
  }
  const k = pads.length;
  if (k < 1 || k > n) throw new RangeError(`need 1..${n} PSRD shares, got ${k}`);
  const L = sizeBits / 8;
  const r = padLength(sizeBits);
  const size = secretLength(sizeBits);
  for (const p of pads) {
    if (p.pad.length !== size) throw new RangeError(`PSRD share at x=${p.x} has ${p.pad.length} bytes, expected ${size}`);
    if (!Number.isInteger(p.x) || p.x < 1 || p.x > n) throw new RangeError(`share x must be in 1..${n}`);
  }
  const shares: Share[] = pads.map((p) => ({ x: p.x, y: p.pad.slice() }));
  const xs = shares.map((s) => s.x);
  const S0 = secretFromPsrdShares(shares);
  let S: Uint8Array | undefined;
  try {
    // t* for the key words as interpolated; change share j's check-word bytes so that f(0) has it.
    const want = keyCheckWord(S0.subarray(0, L + r));
    const j = k - 1;
    const lambda = lagrangeAtZero(xs, j);
    const yj = shares[j].y;
    for (let b = 0; b < WORD; b++) {
      const delta = gf256.add(want[b], S0[L + r + b]);
      yj[L + r + b] = gf256.add(yj[L + r + b], gf256.div(delta, lambda));
    }
    want.fill(0);
    S = secretFromPsrdShares(shares);
    const key = S.slice(0, L);
    const chosen = new Set(xs);
    const others = Array.from({ length: n }, (_, i) => i + 1).filter((x) => !chosen.has(x));
    const derived = others.map((x) => ({ x, y: interpolateAt(shares, x) }));
    const all = [...shares, ...derived].sort((a, b) => a.x - b.x);
    return { keyId: newKeyId(sizeBits, multicast), key, shares: all, adjustedX: xs[j] };
  } finally {
    S0.fill(0);
    S?.fill(0);
  }
}

/** What key-source needs of a peer hub: whether it can take part, and a pad from its client-owned pool. */
export interface PadSource {
  readonly registered: boolean;
  allocatePad(size: number, purpose: string): Promise<PadAllocation>;
}

/**
 * Master side of `psrd` mode: for each of `count` keys, take |S| pad bytes from the first k
 * registered hubs (x = hub position + 1), derive the key and all n shares. Returns the keys with,
 * per hub index, the pad that must encrypt that hub's share (so that the hub decrypts exactly the
 * PSRD share). Throws when fewer than k hubs are registered or a pad cannot be had (the pads
 * already taken are zeroed: burned, never reused).
 */
export async function makePsrdSplitKeys(
  hubs: readonly PadSource[],
  k: number,
  sizeBits: number,
  count: number,
  multicast = false,
  positions: readonly number[] = hubs.map((_, i) => i),
): Promise<{ made: PsrdSplitKey[]; pads: Map<number, PadAllocation>[] }> {
  const chosen = hubs
    .map((h, i) => ({ h, i }))
    .filter((e) => e.h.registered)
    .slice(0, k);
  if (chosen.length < k) throw new RangeError(`key_source psrd needs ${k} registered hubs, ${chosen.length} are`);
  const size = secretLength(sizeBits);
  const made: PsrdSplitKey[] = [];
  const pads: Map<number, PadAllocation>[] = [];
  try {
    for (let c = 0; c < count; c++) {
      const settled = await Promise.allSettled(chosen.map((e) => e.h.allocatePad(size, "key-share (psrd key source)")));
      const perHub = new Map<number, PadAllocation>();
      chosen.forEach((e, m) => {
        const s = settled[m];
        if (s.status === "fulfilled") perHub.set(e.i, s.value);
      });
      pads.push(perHub);
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
      if (failed) throw failed.reason;
      const got = chosen.map((e) => {
        const pad = perHub.get(e.i);
        if (pad === undefined) throw new Error(`no PSRD allocation from hub ${e.i} although none failed`);
        return pad;
      });
      made.push(
        splitKeyFromPsrd(
          sizeBits,
          Math.max(...positions) + 1,
          chosen.map((e, m) => ({ x: positions[e.i] + 1, pad: got[m].data })),
          multicast,
        ),
      );
    }
  } catch (err) {
    for (const m of made) {
      m.key.fill(0);
      for (const s of m.shares) s.y.fill(0);
    }
    for (const p of pads) for (const a of p.values()) a.data.fill(0);
    throw err;
  }
  return { made, pads };
}
