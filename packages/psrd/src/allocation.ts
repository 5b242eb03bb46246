/**
 * Allocation codecs: the API JSON form `{fragments:[{block_uuid,start,size}]}` and the
 * DSKE-Signature header form `uuid:start:size,uuid:start:size`. Both parse strictly and throw
 * PsrdAllocationError with a `code`; ranges are checked against blocks only at reserve/take.
 */
import { z } from "zod";
import { UUID_RE } from "./block.js";
import { PsrdAllocationError } from "./errors.js";
import { checkAllocation, checkNoOverlap, DEFAULT_MAX_FRAGMENTS, resolveLimits } from "./fragment.js";
import type { Allocation, AllocationLimits, Fragment } from "./types.js";

/** Wire (JSON) form of a fragment: the one definition, also under the hub wire's `FragmentSchema` (@dske/protocol). */
export const FragmentJsonSchema = z.object({
  block_uuid: z.string().regex(UUID_RE, "block_uuid must be a canonical 8-4-4-4-12 hex UUID"),
  start: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  size: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
});

/**
 * Wire (JSON) form of an allocation, for use inside request/response schemas. Enforces the
 * default fragment limit and no overlap; `allocationFromJson` applies configurable limits.
 */
export const AllocationJsonSchema = z
  .object({ fragments: z.array(FragmentJsonSchema).min(1).max(DEFAULT_MAX_FRAGMENTS) })
  .superRefine((value, ctx) => {
    try {
      checkNoOverlap(value.fragments.map((f) => ({ blockUuid: f.block_uuid.toLowerCase(), start: f.start, size: f.size })));
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message, path: ["fragments"] });
    }
  });

export type FragmentJson = z.infer<typeof FragmentJsonSchema>;
export type AllocationJson = z.infer<typeof AllocationJsonSchema>;

/** Loose shape check used before the coded checks (so every failure gets a precise code). */
const LooseAllocationSchema = z.object({
  fragments: z.array(z.object({ block_uuid: z.unknown(), start: z.unknown(), size: z.unknown() })),
});

/** Allocation → API JSON form. */
export function allocationToJson(allocation: Allocation): AllocationJson {
  return {
    fragments: allocation.fragments.map((f) => ({ block_uuid: f.blockUuid, start: f.start, size: f.size })),
  };
}

/**
 * API JSON form → Allocation, for a value a schema already validated (`AllocationJsonSchema`, or
 * the wire's `AllocationSchema` built on `FragmentJsonSchema`): renames the fields only. Ranges
 * and overlaps are checked when the allocation is reserved or taken from a pool.
 */
export function allocationFromParsedJson(json: { readonly fragments: readonly FragmentJson[] }): Allocation {
  return { fragments: json.fragments.map((f) => ({ blockUuid: f.block_uuid, start: f.start, size: f.size })) };
}

/**
 * API JSON form → Allocation (strict). Accepts the parsed value, or a JSON string.
 * Throws PsrdAllocationError on any bad input.
 */
export function allocationFromJson(json: unknown, limits?: AllocationLimits): Allocation {
  let value = json;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      throw new PsrdAllocationError("malformed", "allocation is not valid JSON");
    }
  }
  const parsed = LooseAllocationSchema.safeParse(value);
  if (!parsed.success) {
    throw new PsrdAllocationError("malformed", "allocation must be {fragments: [{block_uuid, start, size}, ...]}");
  }
  const { maxFragments } = resolveLimits(limits);
  const raw = parsed.data.fragments;
  if (raw.length > maxFragments) {
    throw new PsrdAllocationError("too_many_fragments", `allocation has ${raw.length} fragments, at most ${maxFragments} allowed`);
  }
  const fragments: Fragment[] = raw.map((f, i) => {
    if (typeof f.block_uuid !== "string") throw new PsrdAllocationError("invalid_uuid", `fragment ${i}: block_uuid must be a string`);
    if (typeof f.start !== "number") throw new PsrdAllocationError("invalid_number", `fragment ${i}: start must be a number`);
    if (typeof f.size !== "number") throw new PsrdAllocationError("invalid_number", `fragment ${i}: size must be a number`);
    return { blockUuid: f.block_uuid, start: f.start, size: f.size };
  });
  return checkAllocation({ fragments }, limits);
}

/** Allocation → header form `uuid:start:size,uuid:start:size`. */
export function formatAllocation(allocation: Allocation): string {
  return allocation.fragments.map((f) => `${f.blockUuid}:${f.start}:${f.size}`).join(",");
}

const DECIMAL_RE = /^(0|[1-9][0-9]{0,15})$/;

function parseDecimal(text: string, what: string, i: number): number {
  if (!DECIMAL_RE.test(text)) {
    throw new PsrdAllocationError(
      "invalid_number",
      `fragment ${i}: ${what} must be a plain decimal integer without sign, exponent or leading zeros`,
    );
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new PsrdAllocationError("invalid_number", `fragment ${i}: ${what} is too large`);
  return n;
}

/**
 * Header form → Allocation (strict): fragments separated by `,`, fields by `:`; UUIDs canonical;
 * numbers plain decimal (no sign, exponent, whitespace or leading zeros); size > 0.
 */
export function parseAllocation(text: string, limits?: AllocationLimits): Allocation {
  if (typeof text !== "string") throw new PsrdAllocationError("malformed", "allocation must be a string");
  if (text.length === 0) throw new PsrdAllocationError("empty", "allocation has no fragments");
  const { maxFragments } = resolveLimits(limits);
  // Count separators before splitting so a huge header cannot make us build a huge array.
  let commas = 0;
  for (let k = 0; k < text.length; k++) if (text.charCodeAt(k) === 44) commas++;
  if (commas + 1 > maxFragments) {
    throw new PsrdAllocationError("too_many_fragments", `allocation has ${commas + 1} fragments, at most ${maxFragments} allowed`);
  }
  const fragments = text.split(",").map((part, i): Fragment => {
    if (part.length === 0) throw new PsrdAllocationError("malformed", `fragment ${i} is empty`);
    const fields = part.split(":");
    if (fields.length !== 3) throw new PsrdAllocationError("malformed", `fragment ${i} must be uuid:start:size`);
    const [uuid, start, size] = fields;
    if (!UUID_RE.test(uuid)) throw new PsrdAllocationError("invalid_uuid", `fragment ${i}: block UUID is not a canonical UUID`);
    return { blockUuid: uuid, start: parseDecimal(start, "start", i), size: parseDecimal(size, "size", i) };
  });
  return checkAllocation({ fragments }, limits);
}
