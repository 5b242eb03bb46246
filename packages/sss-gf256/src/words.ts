/**
 * Byte vectors as Uint32 words (4 GF(2^8) lanes each) for the SWAR kernel in linear.ts.
 * Vectors are copied into zero-padded word arrays; `wipe` zeroes every copy.
 *
 * Lane order: short vectors (≤ SMALL bytes) are packed by a byte loop, longer ones by a
 * memcpy through a byte view (platform byte order). The kernel treats the 4 lanes alike, so
 * either order is correct as long as packing and unpacking of one call agree — both choose
 * the method from the same byte length.
 */
const SMALL = 256;

export interface WordBatch {
  /** One padded word vector per input, each `words` long. */
  readonly vectors: Uint32Array[];
  /** Number of words per vector: ceil(L / 4). */
  readonly words: number;
  /** Overwrites all copied bytes with zeros. */
  wipe(): void;
}

export function wordCount(byteLength: number): number {
  return (byteLength + 3) >>> 2;
}

/** Copies y (L bytes) into the zeroed word vector u. */
function pack(u: Uint32Array, y: Uint8Array, byteLength: number): void {
  if (byteLength > SMALL) {
    new Uint8Array(u.buffer, u.byteOffset, byteLength).set(y);
    return;
  }
  const full = byteLength >>> 2;
  for (let w = 0; w < full; w++) {
    const o = w << 2;
    u[w] = y[o] | (y[o + 1] << 8) | (y[o + 2] << 16) | (y[o + 3] << 24);
  }
  for (let j = full << 2; j < byteLength; j++) u[j >>> 2] |= y[j] << ((j & 3) << 3);
}

/** Copies `count` vectors (taken from `source(i)`, each L bytes) into padded word vectors. */
export function packVectors(count: number, byteLength: number, source: (i: number) => Uint8Array): WordBatch {
  const words = wordCount(byteLength);
  const vectors: Uint32Array[] = [];
  if (byteLength > SMALL) {
    // one allocation, one wipe
    const all = new Uint32Array(count * words);
    for (let i = 0; i < count; i++) {
      const u = new Uint32Array(all.buffer, i * words * 4, words);
      pack(u, source(i), byteLength);
      vectors.push(u);
    }
    return { vectors, words, wipe: () => all.fill(0) };
  }
  // short vectors: small separate arrays are cheaper than views into a shared buffer
  for (let i = 0; i < count; i++) {
    const u = new Uint32Array(words);
    pack(u, source(i), byteLength);
    vectors.push(u);
  }
  return {
    vectors,
    words,
    wipe: () => {
      for (const v of vectors) v.fill(0);
    },
  };
}

/** Copies the first L bytes of a word vector into a fresh Uint8Array of exactly L bytes. */
export function toBytes(vector: Uint32Array, byteLength: number): Uint8Array {
  const out = new Uint8Array(byteLength);
  if (byteLength > SMALL) {
    out.set(new Uint8Array(vector.buffer, vector.byteOffset, byteLength));
    return out;
  }
  for (let j = 0; j < byteLength; j++) out[j] = vector[j >>> 2] >>> ((j & 3) << 3);
  return out;
}
