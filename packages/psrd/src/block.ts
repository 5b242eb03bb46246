/**
 * Blocks: a run of PSRD bytes named by a UUID. This file holds the UUID rules and the per-block
 * metadata every store keeps (never the bytes).
 */
import { toText } from "./coerce.js";
import { PsrdBlockError } from "./errors.js";

/** Canonical 8-4-4-4-12 hex UUID (any version; lower or upper case). */
export const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isBlockUuid(value: string): boolean {
  return UUID_RE.test(value);
}

/** The form a block UUID is stored and compared in (lower case). */
export function normalizeBlockUuid(value: string): string {
  return value.toLowerCase();
}

/** Metadata of one block of a pool. `index` is its position in order of addition. */
export interface BlockMeta {
  readonly uuid: string;
  readonly index: number;
  readonly size: number;
  readonly keyPrefix: number;
}

/** Check addBlock arguments; returns the normalized UUID. */
export function checkNewBlock(blockUuid: string, size: number, keyPrefix: number): string {
  if (typeof blockUuid !== "string" || !isBlockUuid(blockUuid)) {
    throw new PsrdBlockError("invalid_block", `block UUID ${JSON.stringify(toText(blockUuid)).slice(0, 60)} is not a canonical UUID`);
  }
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new PsrdBlockError("invalid_block", `block ${blockUuid} has no data`);
  }
  if (!Number.isSafeInteger(keyPrefix) || keyPrefix < 0 || keyPrefix > size) {
    throw new PsrdBlockError("invalid_block", `key prefix ${keyPrefix} of block ${blockUuid} is not an integer in [0, ${size}]`);
  }
  return normalizeBlockUuid(blockUuid);
}
