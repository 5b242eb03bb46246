/**
 * Fragments: a contiguous range [start, start+size) of one block. Helpers to build and check
 * fragment lists independently of any pool (pool-specific checks live in pool.ts).
 */
import { isBlockUuid, normalizeBlockUuid } from "./block.js";
import { PsrdAllocationError } from "./errors.js";
import type { Allocation, AllocationLimits, Fragment } from "./types.js";

export const DEFAULT_MAX_FRAGMENTS = 64;
export const DEFAULT_MAX_BYTES = 1024 * 1024;

/** Limits with defaults applied. */
export function resolveLimits(limits?: AllocationLimits): Required<AllocationLimits> {
  return {
    maxFragments: limits?.maxFragments ?? DEFAULT_MAX_FRAGMENTS,
    maxBytes: limits?.maxBytes ?? DEFAULT_MAX_BYTES,
  };
}

/** End (exclusive) of a fragment. */
export function fragmentEnd(f: Fragment): number {
  return f.start + f.size;
}

/**
 * Total bytes named by an allocation: an `Allocation`, or its JSON form (`AllocationJson`, the
 * wire's `WireAllocation`); only the fragment sizes are read.
 */
export function allocationSize(a: { readonly fragments: readonly { readonly size: number }[] }): number {
  let n = 0;
  for (const f of a.fragments) n += f.size;
  return n;
}

/** Build a checked fragment (UUID normalized to lower case). */
export function makeFragment(blockUuid: string, start: number, size: number): Fragment {
  const f = { blockUuid, start, size };
  checkFragment(f, 0);
  return { blockUuid: normalizeBlockUuid(blockUuid), start, size };
}

/** Check the fields of one fragment (`i` is its position, for messages). */
export function checkFragment(f: Fragment, i: number): void {
  if (typeof f.blockUuid !== "string" || !isBlockUuid(f.blockUuid)) {
    throw new PsrdAllocationError("invalid_uuid", `fragment ${i}: block UUID is not a canonical UUID`);
  }
  if (typeof f.start !== "number" || !Number.isSafeInteger(f.start) || f.start < 0) {
    throw new PsrdAllocationError("invalid_number", `fragment ${i}: start must be a non-negative integer`);
  }
  if (typeof f.size !== "number" || !Number.isSafeInteger(f.size) || f.size < 0) {
    throw new PsrdAllocationError("invalid_number", `fragment ${i}: size must be a non-negative integer`);
  }
  if (f.size === 0) {
    throw new PsrdAllocationError("invalid_size", `fragment ${i}: size must not be 0`);
  }
  if (!Number.isSafeInteger(f.start + f.size)) {
    throw new PsrdAllocationError("invalid_number", `fragment ${i}: start + size is too large`);
  }
}

/**
 * Check a whole allocation: every fragment's fields, not empty, within the limits, and no two
 * fragments naming the same byte. Returns a normalized copy (lower-case UUIDs, frozen).
 */
export function checkAllocation(a: Allocation, limits?: AllocationLimits): Allocation {
  const { maxFragments, maxBytes } = resolveLimits(limits);
  // Allocations may come from unchecked JSON: nothing below trusts the static type.
  const input: unknown = a;
  const fragments = typeof input === "object" && input !== null ? (input as { fragments?: unknown }).fragments : undefined;
  if (!Array.isArray(fragments)) {
    throw new PsrdAllocationError("malformed", "allocation must have a fragments array");
  }
  const frags: readonly unknown[] = fragments;
  if (frags.length === 0) throw new PsrdAllocationError("empty", "allocation has no fragments");
  if (frags.length > maxFragments) {
    throw new PsrdAllocationError("too_many_fragments", `allocation has ${frags.length} fragments, at most ${maxFragments} allowed`);
  }
  let total = 0;
  const out: Fragment[] = [];
  for (let i = 0; i < frags.length; i++) {
    const item = frags[i];
    if (item === null || typeof item !== "object") throw new PsrdAllocationError("malformed", `fragment ${i} is not an object`);
    const f = item as Fragment; // checkFragment checks each field's type
    checkFragment(f, i);
    total += f.size;
    if (total > maxBytes) {
      throw new PsrdAllocationError("too_many_bytes", `allocation names more than ${maxBytes} bytes`);
    }
    out.push(Object.freeze({ blockUuid: normalizeBlockUuid(f.blockUuid), start: f.start, size: f.size }));
  }
  checkNoOverlap(out);
  return Object.freeze({ fragments: Object.freeze(out) });
}

/** Throw PsrdAllocationError("overlap") if two fragments (UUIDs already normalized) share a byte. */
export function checkNoOverlap(frags: readonly Fragment[]): void {
  if (frags.length < 2) return;
  const sorted = [...frags].sort((x, y) => (x.blockUuid < y.blockUuid ? -1 : x.blockUuid > y.blockUuid ? 1 : x.start - y.start));
  for (let k = 1; k < sorted.length; k++) {
    const p = sorted[k - 1];
    const c = sorted[k];
    if (p.blockUuid === c.blockUuid && fragmentEnd(p) > c.start) {
      throw new PsrdAllocationError("overlap", `fragments overlap in block ${c.blockUuid} at byte ${c.start}`);
    }
  }
}
