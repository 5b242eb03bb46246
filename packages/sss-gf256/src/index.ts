import { add, div, inv, mul } from "./gf256.js";

/** GF(2^8) (AES polynomial 0x11B) scalar helpers for tests and tools; constant time. */
export const gf256 = { add, mul, div, inv } as const;

export { split } from "./split.js";
export { combine } from "./combine.js";
export { combineRobust, verifyConsistent, type RobustResult } from "./robust.js";
export { interpolateAt, extendShares, deriveShares } from "./interpolate.js";
export {
  splitReference,
  combineReference,
  referenceToStandard,
  REFERENCE_SECRET_X,
  REFERENCE_DIGEST_X,
  REFERENCE_DIGEST_LENGTH,
  REFERENCE_MAX_X,
} from "./reference.js";
export { SssError, SssInconsistentSharesError, type SssErrorCode } from "./errors.js";
export type { Share } from "./share.js";
export type { RandomSource } from "./random.js";
