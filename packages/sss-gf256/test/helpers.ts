import type { Share } from "../src/index";

export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

/** A random source that returns a COPY of fixed bytes and records every call. */
export function fixedRandom(bytes: Uint8Array): { random: (n: number) => Uint8Array; calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    random: (n: number) => {
      calls.push(n);
      return bytes.slice(0, n);
    },
  };
}

export const byX = (shares: Share[], xs: number[]): Share[] =>
  xs.map((x) => {
    const s = shares.find((t) => t.x === x);
    if (!s) throw new Error(`no share with x = ${x}`);
    return s;
  });

/** All size-k subsets of arr. */
export function subsets<T>(arr: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (arr.length < k) return [];
  const [first, ...rest] = arr;
  return [...subsets(rest, k - 1).map((s) => [first, ...s]), ...subsets(rest, k)];
}
