/**
 * PSRD allocations on the hub wire (metadata only: which bytes of which PSRD blocks are a pad,
 * never the bytes). The JSON form of a fragment, `{block_uuid, start, size}`, is @dske/psrd's
 * `FragmentJsonSchema` (canonical block UUID, non-negative integers); the wire adds its limits:
 * a fragment is at most `MAX_PSRD_BLOCK_BYTES` long, an allocation has 1..`MAX_FRAGMENTS`
 * fragments. Ranges and overlaps are checked by the pool when the allocation is reserved or taken
 * (an invalid one is a 400 there), not here.
 *
 * Sizes: `allocationSize` of @dske/psrd takes both forms (`Allocation` and `WireAllocation`).
 */
import { z } from "zod";
import { FragmentJsonSchema, allocationFromParsedJson, allocationToJson, type Allocation } from "@dske/psrd";
import { MAX_FRAGMENTS, MAX_PSRD_BLOCK_BYTES } from "./ids.js";

export const FragmentSchema = FragmentJsonSchema.refine((f) => f.size <= MAX_PSRD_BLOCK_BYTES, {
  error: `size must be at most ${MAX_PSRD_BLOCK_BYTES}`,
  path: ["size"],
});
export type WireFragment = z.infer<typeof FragmentSchema>;

export const AllocationSchema = z.object({
  fragments: z.array(FragmentSchema).min(1).max(MAX_FRAGMENTS),
});
export type WireAllocation = z.infer<typeof AllocationSchema>;

/** An allocation in @dske/psrd's camelCase form (`Allocation`). */
export type AllocationLike = Allocation;

/** @dske/psrd allocation (camelCase) → wire form (snake_case). */
export function allocationToWire(allocation: AllocationLike): WireAllocation {
  return allocationToJson(allocation);
}

/** Wire form (validated by `AllocationSchema`) → @dske/psrd allocation. */
export function allocationFromWire(wire: WireAllocation): Allocation {
  return allocationFromParsedJson(wire);
}
