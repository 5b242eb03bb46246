/**
 * Keys in the reference implementation's share format (issue 14): the clients of the reference
 * implementation split keys SLIP-39 style (@dske/sss reference.ts: x = 0..n−1, the key at f(255),
 * a 4-byte HMAC-SHA256 digest at f(254), shares as long as the key), so keys passing between one
 * of them and us use that format instead of ours (key.ts: S = key || pad || check word at f(0),
 * x = 1..n). Pure functions, no I/O.
 *
 * Master side: a key for a slave SAE hosted by a reference KME (`referenceSaes`) is made by
 * makeReferenceSplitKey; share x = j goes to the j-th configured hub (share_index j), the key ID
 * is a plain random UUID.
 *
 * Slave side, the recognition rule (shareEncoding): a key is reference-encoded when
 *   (a) its master SAE is in `referenceSaes`, or
 *   (b) EVERY share fetched for it has a length our format cannot have. Ours is
 *       |S| = L + r + 16 with L + r a positive multiple of 16, so a multiple of 16 and ≥ 32
 *       (e.g. a 128-bit reference key has 16-byte shares; a 256-bit one has 32-byte shares, which
 *       only rule (a) recognises).
 * Otherwise our decoding is used unchanged, on the shares of a length ours can have; shares of
 * other lengths are then bad shares of their hubs. There is no fallback from our decoding to the
 * reference one after a failed check: one hub cannot force the weaker decoding (rule (b) needs
 * all fetched shares to agree, i.e. k hubs, which could substitute a key in our format too: the
 * check word is keyless), and our own pairs keep their 128-bit ITS check word.
 * The share x a hub must give follows the same rule per share (expectedShareX): its position j
 * for a reference-encoded share, j + 1 for ours.
 *
 * What the reference format guarantees (REFERENCE_GUARANTEE): the key is accepted only if its
 * 4-byte digest verifies; wrong shares from fewer than k hubs pass with probability about 2^-32
 * per attempt (each candidate of the subset search below is one attempt), computational (HMAC).
 */
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { combineReference, combineRobust, interpolateAt, referenceToStandard, splitReference, type Share } from "@dske/sss";
import { MAX_SUBSETS, WORD, kSubsets, type Reconstruction, type SourcedShare, type SplitKey } from "./key.js";

/** The management status's statement of what reference-format keys are worth. */
export const REFERENCE_GUARANTEE =
  "computational: 4-byte HMAC-SHA256 digest (reference SLIP-39 shares); forged-share acceptance probability about 2^-32 per attempt";

/** Least key size in bits the reference format takes (the digest is 4 bytes). */
export const MIN_REFERENCE_KEY_BITS = 32;

/** How a key's shares are encoded. */
export type ShareEncoding = "dske" | "reference";

/** Whether a share of `length` bytes can be one of ours: a multiple of 16, at least 32. */
export function ourShareLength(length: number): boolean {
  return length >= 2 * WORD && length % WORD === 0;
}

/** The recognition rule (see the file comment): `lengths` are those of every share fetched for the key. */
export function shareEncoding(masterIsReference: boolean, lengths: readonly number[]): ShareEncoding {
  if (masterIsReference) return "reference";
  return lengths.length > 0 && lengths.every((l) => !ourShareLength(l)) ? "reference" : "dske";
}

/** The x the hub at `position` (0-based, topology order) must give for a share of `length` bytes. */
export function expectedShareX(position: number, masterIsReference: boolean, length: number): number {
  return masterIsReference || !ourShareLength(length) ? position : position + 1;
}

/**
 * Make a key of `sizeBits` (≥ 32) and split it into n reference shares (x = 0..n−1), threshold k.
 * The key and the shares are the caller's to zero.
 */
export function makeReferenceSplitKey(sizeBits: number, n: number, k: number): SplitKey {
  if (!Number.isInteger(sizeBits) || sizeBits < MIN_REFERENCE_KEY_BITS || sizeBits % 8 !== 0) {
    throw new RangeError(`reference keys must be a multiple of 8 bits, at least ${MIN_REFERENCE_KEY_BITS}`);
  }
  const key = new Uint8Array(randomBytes(sizeBits / 8));
  return { keyId: randomUUID(), key, shares: splitReference(key, n, k) };
}

const plain = (list: readonly SourcedShare[]): Share[] => list.map((s) => ({ x: s.x, y: s.y }));

/** The secret of `list` if its digest verifies, else undefined. */
function verified(list: readonly SourcedShare[], threshold: number): Uint8Array | undefined {
  try {
    return combineReference(plain(list), threshold);
  } catch {
    return undefined;
  }
}

/** Whether share s lies on the polynomial through the verified shares `basis`. */
function onPolynomial(s: SourcedShare, basis: readonly SourcedShare[]): boolean {
  if (basis.includes(s)) return true;
  try {
    const at = interpolateAt(referenceToStandard(plain(basis)), s.x ^ 255);
    const same = at.length === s.y.length && timingSafeEqual(at, s.y);
    at.fill(0);
    return same;
  } catch {
    return false; // another length
  }
}

/**
 * Reconstruct and verify a reference-encoded key from decrypted shares (distinct x = share_index
 * as sent). Tries, in order: the first t = max(k, 2) shares; all shares together (right when
 * they are honest, also if the master's k is larger than ours); robust decoding (combineRobust on
 * referenceToStandard, then the digest over the shares it kept); every t-subset (at most
 * MAX_SUBSETS). A candidate is accepted only if its digest verifies. Returns undefined
 * when none does (never an unverified key); k = 1 (the reference's "every share is the key",
 * which has no digest) is not accepted: at least two shares are always combined and verified.
 * Does not zero the input shares.
 */
export function reconstructReferenceKey(shares: readonly SourcedShare[], k: number): Reconstruction | undefined {
  const t = Math.max(k, 2);
  if (shares.length < t) return undefined;
  const finish = (key: Uint8Array, basis: readonly SourcedShare[], method: Reconstruction["method"]): Reconstruction => ({
    key,
    bad: shares.filter((s) => !onPolynomial(s, basis)).map((s) => s.source),
    method,
  });

  const first = shares.slice(0, t);
  const fast = verified(first, t);
  if (fast) return shares.length === t ? { key: fast, bad: [], method: "fast" } : finish(fast, first, "fast");
  if (shares.length === t) return undefined;

  const all = verified(shares, t);
  if (all) return { key: all, bad: [], method: "robust" };
  try {
    const { secret, dropped } = combineRobust(referenceToStandard(plain(shares)), t);
    secret.fill(0); // only its verdict on the shares is used: the digest decides below
    const kept = shares.filter((s) => !dropped.includes(s.x ^ 255));
    const key = verified(kept, t);
    if (key) return finish(key, kept, "robust");
  } catch {
    // inconsistent beyond what robust decoding corrects, or shares of different lengths
  }

  let tried = 0;
  for (const subset of kSubsets(shares.length, t)) {
    if (++tried > MAX_SUBSETS) break;
    const list = subset.map((i) => shares[i]);
    const key = verified(list, t);
    if (key) return finish(key, list, "search");
  }
  return undefined;
}
