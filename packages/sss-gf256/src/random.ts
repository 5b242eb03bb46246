import { randomFillSync } from "node:crypto";

/** A source of uniformly random bytes: must return a Uint8Array of exactly `length` bytes. */
export type RandomSource = (length: number) => Uint8Array;

/** Default: the OS CSPRNG via node:crypto (a fresh, unshared buffer each call). */
export const defaultRandom: RandomSource = (length) => randomFillSync(new Uint8Array(length));
