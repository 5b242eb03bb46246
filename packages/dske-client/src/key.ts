/**
 * Key construction (SYSTEM.md "Key construction"), pure functions, no I/O.
 *
 * Master side, per key of L = size/8 bytes:
 *   key  = L random bytes (crypto.randomBytes)
 *   Y    = key || r random bytes, r = (16 - L mod 16) mod 16, so |Y| is a whole number of 16-byte words
 *   t    = keyCheckWord(Y)            (Σ y_i^3 over GF(2^128), @dske/auth)
 *   S    = Y || t                     (|S| = |Y| + 16)
 *   shares = split(S, n, k)           (@dske/sss, x = 1..n, share x goes to the x-th hub)
 * Each share is one-time-pad encrypted with PSRD of the client-owned pool of its hub.
 *
 * Responder side: k (or more) decrypted shares → combine → split S into Y, t → check t →
 * key = Y[0 .. |Y| - r]. With more than k shares and a failing check, robust reconstruction
 * (combineRobust from @dske/sss, then a search over k-subsets verified by the check word) finds
 * the right key and names the bad shares; if nothing verifies, no key is returned.
 *
 * The pad length r is carried by the key ID: our key IDs are random UUIDs (version 4 layout)
 * whose last hex digit is r. The key size is public (the hubs see the share length anyway), and
 * the key ID comes from the authenticated slave SAE, so no hub can change it; putting r into the
 * shares instead would cost a whole word of PSRD per share and hub.
 *
 * All intermediate secrets (Y, S, shares, pads) are zeroed by the functions that own them; the
 * returned key bytes are the caller's to zero after use.
 */
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { keyCheckWord } from "./key-check.js";
import { combine, combineRobust, split, type Share } from "@dske/sss";

export const WORD = 16;

/** Bytes of padding for a key of `sizeBits`. */
export function padLength(sizeBits: number): number {
  const L = sizeBits / 8;
  return (WORD - (L % WORD)) % WORD;
}

/** |S| in bytes for a key of `sizeBits` (= bytes of one share = OTP bytes per share). */
export function secretLength(sizeBits: number): number {
  return sizeBits / 8 + padLength(sizeBits) + WORD;
}

/**
 * A fresh key ID (UUID, version 4 layout) carrying the pad length in its last hex digit and, in
 * the top bit of the second-to-last hex digit, whether the key is multicast (several slaves).
 */
export function newKeyId(sizeBits: number, multicast = false): string {
  const id = randomUUID();
  const d = (parseInt(id.slice(-2, -1), 16) & 0x3) | (multicast ? 0x8 : 0);
  return id.slice(0, -2) + d.toString(16) + padLength(sizeBits).toString(16);
}

/** Bit of the second-to-last hex digit marking a batch key ID (key-stock.ts). */
const BATCH_FLAG = 0x4;
/** Most keys in one batch (index and count take 3 hex digits each). */
export const MAX_KEY_ID_BATCH = 4096;

/**
 * Key IDs for a batch of `count` keys established together for one (master SAE, slave SAE) pair
 * (the key stock): one random UUID (version 4 layout) shared by the batch, whose last group
 * carries the key's index (3 hex digits), the batch size − 1 (3 hex digits), the batch flag and
 * the pad length. About 94 random bits stay, so batches do not collide. A responder that sees one
 * key of a batch knows its siblings and fetches them all in one hub message per hub (key-delivery.ts):
 * key IDs are public metadata; knowing a sibling's ID gives an SAE nothing it is not allowed to
 * get, since the hubs release a share only to the client of an intended slave SAE.
 */
export function newBatchKeyIds(sizeBits: number, count: number): string[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_KEY_ID_BATCH) throw new RangeError(`batch size must be 1..${MAX_KEY_ID_BATCH}`);
  const base = randomUUID().slice(0, 28); // "xxxxxxxx-xxxx-4xxx-yxxx-xxxx"
  const d = (BATCH_FLAG | (randomBytes(1)[0] & 0x3)).toString(16);
  const tail = (count - 1).toString(16).padStart(3, "0") + d + padLength(sizeBits).toString(16);
  return Array.from({ length: count }, (_, i) => base + i.toString(16).padStart(3, "0") + tail);
}

/** All key IDs of the batch a batch key ID belongs to (itself included), or [] for other IDs. */
export function batchSiblings(keyId: string): string[] {
  if (keyId.length !== 36 || keyId[8] !== "-" || keyId[23] !== "-") return [];
  const d = parseInt(keyId[34], 16);
  if (!Number.isFinite(d) || (d & 0x8) !== 0 || (d & BATCH_FLAG) === 0) return [];
  const index = parseInt(keyId.slice(28, 31), 16);
  const count = parseInt(keyId.slice(31, 34), 16) + 1;
  if (!/^[0-9a-f]{6}$/.test(keyId.slice(28, 34)) || index >= count) return [];
  const base = keyId.slice(0, 28);
  const tail = keyId.slice(31);
  return Array.from({ length: count }, (_, i) => base + i.toString(16).padStart(3, "0") + tail);
}

/** Whether a key ID made by newKeyId marks a multicast key. */
export function isMulticastKeyId(keyId: string): boolean {
  const d = keyId.slice(-2, -1);
  return /^[0-9a-fA-F]$/.test(d) && (parseInt(d, 16) & 0x8) !== 0;
}

/** The pad length carried by a key ID (its last hex digit). */
export function padLengthFromKeyId(keyId: string): number | undefined {
  const last = keyId.slice(-1);
  if (!/^[0-9a-fA-F]$/.test(last)) return undefined;
  return parseInt(last, 16);
}

export interface SplitKey {
  keyId: string;
  /** The key (L bytes): the caller's to zero after handing it out. */
  key: Uint8Array;
  /** Shares x = 1..n of S; the caller's to zero after encrypting them. */
  shares: Share[];
}

export type RandomFn = (n: number) => Uint8Array;
const osRandom: RandomFn = (n) => new Uint8Array(randomBytes(n));

/**
 * A RandomFn serving `bytes` bytes of one crypto.randomBytes call (then fresh calls): for a batch
 * of keys, one system call instead of two per key. Each served range is copied out and zeroed in
 * the pool; `wipe()` zeroes what is left.
 */
export function pooledRandom(bytes: number): RandomFn & { wipe(): void } {
  const pool = new Uint8Array(randomBytes(Math.max(0, bytes)));
  let offset = 0;
  const fn = ((n: number) => {
    if (offset + n > pool.length) return osRandom(n);
    const out = pool.slice(offset, offset + n);
    pool.fill(0, offset, offset + n);
    offset += n;
    return out;
  }) as RandomFn & { wipe(): void };
  fn.wipe = () => pool.fill(0);
  return fn;
}

/** Random bytes makeSplitKey draws for one key of `sizeBits` with threshold k (|S| for S, (k − 1)·|S| for the split). */
export function splitRandomBytes(sizeBits: number, k: number): number {
  return secretLength(sizeBits) * k;
}

/** Make a key of `sizeBits` and split S = Y || t into n shares, threshold k. */
export function makeSplitKey(sizeBits: number, n: number, k: number, random: RandomFn = osRandom, multicast = false): SplitKey {
  if (!Number.isInteger(sizeBits) || sizeBits <= 0 || sizeBits % 8 !== 0) {
    throw new RangeError("key size must be a positive multiple of 8 bits");
  }
  const L = sizeBits / 8;
  const r = padLength(sizeBits);
  const S = random(L + r + WORD);
  const Y = S.subarray(0, L + r);
  const t = keyCheckWord(Y);
  S.set(t, L + r);
  t.fill(0);
  const key = S.slice(0, L);
  try {
    const shares = split(S, n, k, (m) => random(m));
    return { keyId: newKeyId(sizeBits, multicast), key, shares };
  } finally {
    S.fill(0);
  }
}

/**
 * Check S = Y || t and extract the key. Returns undefined when the check word does not verify
 * or the lengths do not fit the pad length `r`. Does not zero S.
 */
export function openSecret(S: Uint8Array, r: number): Uint8Array | undefined {
  if (S.length < 2 * WORD || S.length % WORD !== 0 || r < 0 || r >= WORD) return undefined;
  const Y = S.subarray(0, S.length - WORD);
  if (Y.length - r < 1) return undefined;
  const t = S.subarray(S.length - WORD);
  const expect = keyCheckWord(Y);
  const ok = timingSafeEqual(expect, t);
  expect.fill(0);
  if (!ok) return undefined;
  return Y.slice(0, Y.length - r);
}

/** A decrypted share with the name of the hub it came from. */
export interface SourcedShare extends Share {
  source: string;
}

export interface Reconstruction {
  /** The key (caller zeroes after use). */
  key: Uint8Array;
  /** Sources whose shares were found inconsistent with the verified secret. */
  bad: string[];
  /** How: "fast" (first k shares verified), "robust" (combineRobust), "search" (subset search). */
  method: "fast" | "robust" | "search";
}

/** Max number of k-subsets tried by the subset search (also reference-key.ts). */
export const MAX_SUBSETS = 5000;

/**
 * Reconstruct and verify a key from decrypted shares (distinct x). Tries, in order: the first k
 * shares; combineRobust over all shares; every k-subset. Every candidate is accepted only if its
 * check word verifies. Returns undefined when no candidate verifies (never a wrong key).
 * Does not zero the input shares.
 */
export function reconstructKey(shares: readonly SourcedShare[], k: number, r: number): Reconstruction | undefined {
  if (shares.length < k) return undefined;
  const plain = (list: readonly SourcedShare[]): Share[] => list.map((s) => ({ x: s.x, y: s.y }));

  const tryCombine = (list: readonly SourcedShare[]): { key: Uint8Array; S: Uint8Array } | undefined => {
    let S: Uint8Array;
    try {
      S = combine(plain(list));
    } catch {
      return undefined;
    }
    const key = openSecret(S, r);
    if (!key) {
      S.fill(0);
      return undefined;
    }
    return { key, S };
  };

  const finish = (S: Uint8Array, key: Uint8Array, method: Reconstruction["method"]): Reconstruction => {
    const bad = shares.filter((s) => !consistent(s, S, shares, k)).map((s) => s.source);
    S.fill(0);
    return { key, bad, method };
  };

  const fast = tryCombine(shares.slice(0, k));
  if (fast) {
    if (shares.length === k) {
      fast.S.fill(0);
      return { key: fast.key, bad: [], method: "fast" };
    }
    return finish(fast.S, fast.key, "fast");
  }
  if (shares.length === k) return undefined;

  try {
    const robust = combineRobust(plain(shares), k);
    const key = openSecret(robust.secret, r);
    if (key) return finish(robust.secret, key, "robust");
    robust.secret.fill(0);
  } catch {
    // inconsistent beyond what robust decoding corrects: fall through to the subset search
  }

  let tried = 0;
  for (const subset of kSubsets(shares.length, k)) {
    if (++tried > MAX_SUBSETS) break;
    const got = tryCombine(subset.map((i) => shares[i]));
    if (got) return finish(got.S, got.key, "search");
  }
  return undefined;
}

/**
 * Whether share s lies on the polynomial whose secret S was verified: some k-1 other shares
 * together with s must interpolate to S. (With s off the polynomial and k-1 good shares the result
 * differs from S in every byte where s is wrong, since x = 0 is not a share point.)
 */
function consistent(s: SourcedShare, S: Uint8Array, all: readonly SourcedShare[], k: number): boolean {
  if (k === 1) return equal(s.y, S);
  // Find k-1 other shares that, together with s, give S. A good share agrees with any k-1 good
  // others; try windows of the other shares (at most a few combinations in practice).
  const others = all.filter((o) => o !== s);
  let tries = 0;
  for (const subset of kSubsets(others.length, k - 1)) {
    if (++tries > 64) break;
    const list: Share[] = [{ x: s.x, y: s.y }, ...subset.map((i) => ({ x: others[i].x, y: others[i].y }))];
    let T: Uint8Array;
    try {
      T = combine(list);
    } catch {
      continue;
    }
    const same = equal(T, S);
    T.fill(0);
    if (same) return true;
  }
  return false;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** All k-subsets of 0..n-1 in lexicographic order. */
export function* kSubsets(n: number, k: number): Generator<number[]> {
  if (k > n || k < 0) return;
  const idx = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    yield [...idx];
    let i = k - 1;
    while (i >= 0 && idx[i] === n - k + i) i--;
    if (i < 0) return;
    idx[i]++;
    for (let j = i + 1; j < k; j++) idx[j] = idx[j - 1] + 1;
  }
}
