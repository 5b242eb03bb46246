/**
 * The bundle tag: polyHash(c, d, encodeParts([headerBytes, payload])) of @dske/auth, with
 * c = chainKey[0..16) and d = chainKey[16..32) — computed without building the encoded message.
 *
 * `encodeParts` would copy the whole payload (PSRD, up to 1 GiB) into a second buffer. Instead
 * the word sequence y_1..y_M of that encoding is hashed in segments, by linearity:
 *   Σ_{i=1..M} c^i·y_i = Σ_j c^(o_j) · h_j,   h_j = Σ_{i=1..m_j} c^i·y_(o_j + i)
 * where segment j holds m_j words starting after word o_j, and h_j = polyHash(c, 0, segment j).
 * The segments are: the header zero-padded to whole words (a small copy), the payload's whole
 * words (read through a 64 KiB scratch buffer, so the fast aligned path of polyHash is used
 * whatever the payload's offset), and one final segment with the payload's last partial word
 * (zero-padded) and encodeParts' length trailer. The result equals polyHash over encodeParts
 * word for word (tests check both agree), so the tagged content is exactly the unambiguous
 * length-prefixed encoding the in-band MAC uses.
 */
import { GF128_BYTES, gf128, polyHash } from "@dske/auth";
import { CHAIN_KEY_BYTES, TAG_BYTES } from "./chain.js";

/** Payload words per segment: 64 KiB. */
const SEGMENT_WORDS = 4096;

/** c^n by square-and-multiply (n is public: a length). Constant time in c. */
function power(c: Uint8Array, n: number): Uint8Array {
  let result: Uint8Array = gf128.one();
  let base: Uint8Array = Uint8Array.from(c);
  let e = n;
  while (e > 0) {
    if (e & 1) {
      const next = gf128.mul(result, base);
      result.fill(0);
      result = next;
    }
    e = Math.floor(e / 2);
    if (e > 0) {
      const sq = gf128.mul(base, base);
      base.fill(0);
      base = sq;
    }
  }
  base.fill(0);
  return result;
}

/** Running Σ c^(o_j)·h_j over segments fed in order. */
class SegmentedPolyHash {
  private readonly zero = new Uint8Array(GF128_BYTES);
  private readonly acc = new Uint8Array(GF128_BYTES);
  /** c^(words fed so far). */
  private scale: Uint8Array = gf128.one();

  constructor(private readonly c: Uint8Array) {}

  /** Feed whole words (length a multiple of 16, > 0). */
  update(words: Uint8Array): void {
    const h = polyHash(this.c, this.zero, words);
    const scaled = gf128.mul(this.scale, h);
    for (let i = 0; i < GF128_BYTES; i++) this.acc[i] ^= scaled[i];
    const step = power(this.c, words.length / GF128_BYTES);
    const next = gf128.mul(this.scale, step);
    h.fill(0);
    scaled.fill(0);
    step.fill(0);
    this.scale.fill(0);
    this.scale = next;
  }

  /** d + Σ; zeroes the running state. */
  digest(d: Uint8Array): Uint8Array {
    const out = new Uint8Array(TAG_BYTES);
    for (let i = 0; i < GF128_BYTES; i++) out[i] = this.acc[i] ^ d[i];
    this.wipe();
    return out;
  }

  /** Zero the running state (idempotent). */
  wipe(): void {
    this.acc.fill(0);
    this.scale.fill(0);
  }
}

const padded = (len: number): number => Math.ceil(len / GF128_BYTES) * GF128_BYTES;

/**
 * The tag of a bundle: polyHash(chainKey[0..16), chainKey[16..32), encodeParts([header, payload])).
 * Allocates no copy of the payload beyond one 64 KiB scratch buffer, zeroed before returning.
 */
export function bundleTag(chainKey: Uint8Array, header: Uint8Array, payload: Uint8Array): Uint8Array {
  if (!(chainKey instanceof Uint8Array) || chainKey.length !== CHAIN_KEY_BYTES) {
    throw new RangeError(`chain key must be ${CHAIN_KEY_BYTES} bytes`);
  }
  if (header.length > 0xffffffff || payload.length > 0xffffffff) throw new RangeError("part too long");
  const c = chainKey.subarray(0, GF128_BYTES);
  const d = chainKey.subarray(GF128_BYTES, 2 * GF128_BYTES);
  const hash = new SegmentedPolyHash(c);
  const scratch = new Uint8Array(Math.max(padded(header.length), SEGMENT_WORDS * GF128_BYTES));
  let tail: Uint8Array | undefined;
  try {
    // Part 1: the header, zero-padded to whole words.
    if (header.length > 0) {
      const n = padded(header.length);
      scratch.fill(0, 0, n);
      scratch.set(header, 0);
      hash.update(scratch.subarray(0, n));
    }
    // Part 2: the payload's whole words, segment by segment.
    const whole = payload.length - (payload.length % GF128_BYTES);
    for (let off = 0; off < whole; off += SEGMENT_WORDS * GF128_BYTES) {
      const end = Math.min(whole, off + SEGMENT_WORDS * GF128_BYTES);
      scratch.set(payload.subarray(off, end), 0);
      hash.update(scratch.subarray(0, end - off));
    }
    // Last segment: the payload's partial word (zero-padded), then the trailer — the two part
    // lengths and the part count (u32 LE), right-aligned in whole words, exactly as encodeParts.
    const rest = payload.length - whole;
    const trailerWords = Math.ceil((2 + 1) / 4);
    tail = new Uint8Array((rest > 0 ? GF128_BYTES : 0) + trailerWords * GF128_BYTES);
    tail.set(payload.subarray(whole), 0);
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 12, header.length, true);
    view.setUint32(tail.length - 8, payload.length, true);
    view.setUint32(tail.length - 4, 2, true);
    hash.update(tail);
    return hash.digest(d);
  } finally {
    scratch.fill(0);
    tail?.fill(0);
    hash.wipe();
  }
}
