/** Test helpers: deterministic block data (never zero, so zeroed bytes are recognisable) and UUIDs. */
export function blockData(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = ((x >>> 24) % 255) + 1;
  }
  return out;
}

/** The value, or a thrown error naming what is missing (narrows away undefined). */
export function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`missing ${what}`);
  return value;
}

export function uuidFor(n: number): string {
  const hex = n.toString(16).padStart(12, "0");
  return `0000${hex.slice(0, 4)}-0000-4000-8000-${hex}`;
}

/** Small seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
