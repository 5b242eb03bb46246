/**
 * The bundle header: what the bundle holds and for whom (zod schema, limits).
 *
 * The header is JSON (UTF-8) inside the binary bundle (see bundle.ts). It is covered by the
 * SHA-256 and by the tag as the exact bytes that were sealed; this schema decides what a
 * receiver accepts.
 */
import { z } from "zod";

/** Bundle format version this build writes and reads. */
export const BUNDLE_VERSION = 1;

/** Most bytes of header JSON (1 MiB). */
export const MAX_HEADER_BYTES = 1024 * 1024;

/** Most blocks in one bundle. */
export const MAX_BUNDLE_BLOCKS = 4096;

/** Most PSRD bytes (sum of the blocks' sizes) in one bundle (1 GiB). */
export const MAX_BUNDLE_PSRD_BYTES = 1024 * 1024 * 1024;

/** Hub and client names as the topology writes them. */
export const NODE_NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** A block UUID as sealed: canonical 8-4-4-4-12 lower-case hex (so duplicates are plain to see). */
export const BUNDLE_BLOCK_UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Enrollment secret: 32 bytes as 64 lower-case hex characters. */
export const ENROLLMENT_SECRET_RE = /^[0-9a-f]{64}$/;

/** Which of the pair's two pools a block joins: the client-owned pool or the hub-owned pool. */
export const BundlePoolOwnerSchema = z.enum(["client", "hub"]);
export type BundlePoolOwner = z.infer<typeof BundlePoolOwnerSchema>;

const nodeName = (what: string) => z.string().regex(NODE_NAME_RE, `${what} must be 1..64 characters of A-Z a-z 0-9 . _ -`);

export const BundleBlockSchema = z
  .object({
    block_uuid: z.string().regex(BUNDLE_BLOCK_UUID_RE, "block_uuid must be a canonical lower-case UUID"),
    pool_owner: BundlePoolOwnerSchema,
    size: z.number().int().min(1).max(MAX_BUNDLE_PSRD_BYTES),
    key_prefix: z.number().int().min(0),
  })
  .strict()
  .refine((b) => b.key_prefix < b.size, { error: "key_prefix must be less than size", path: ["key_prefix"] });
export type BundleBlock = z.infer<typeof BundleBlockSchema>;

export const BundleHeaderSchema = z
  .object({
    v: z.literal(BUNDLE_VERSION),
    hub_name: nodeName("hub_name"),
    client_name: nodeName("client_name"),
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    issued_at: z.iso.datetime({ offset: true }),
    /** The in-band scheme the client is registered with (the bundle's own tag is always gf128). */
    auth_scheme: z.enum(["gf128", "hmac-sha256"]),
    blocks: z.array(BundleBlockSchema).min(1).max(MAX_BUNDLE_BLOCKS),
    enrollment_secret: z.string().regex(ENROLLMENT_SECRET_RE, "enrollment_secret must be 64 lower-case hex characters").optional(),
  })
  .strict()
  .superRefine((h, ctx) => {
    if (h.enrollment_secret !== undefined && h.seq !== 1) {
      ctx.addIssue({
        code: "custom",
        path: ["enrollment_secret"],
        message: "enrollment_secret is allowed only in the first bundle (seq 1)",
      });
    }
    const seen = new Set<string>();
    h.blocks.forEach((b, i) => {
      if (seen.has(b.block_uuid)) {
        ctx.addIssue({ code: "custom", path: ["blocks", i, "block_uuid"], message: `block ${b.block_uuid} appears twice` });
      }
      seen.add(b.block_uuid);
    });
    const total = h.blocks.reduce((s, b) => s + b.size, 0);
    if (total > MAX_BUNDLE_PSRD_BYTES) {
      ctx.addIssue({
        code: "custom",
        path: ["blocks"],
        message: `blocks hold ${total} bytes, more than the limit of ${MAX_BUNDLE_PSRD_BYTES} (1 GiB)`,
      });
    }
  });
export type BundleHeader = z.infer<typeof BundleHeaderSchema>;

/** Sum of the blocks' sizes. */
export function headerPsrdBytes(header: Pick<BundleHeader, "blocks">): number {
  return header.blocks.reduce((s, b) => s + b.size, 0);
}

/** zod issues as one line: `blocks.0.key_prefix: key_prefix must be less than size; seq: ...`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "header"}: ${i.message}`)
    .concat(error.issues.length > 5 ? [`and ${error.issues.length - 5} more`] : [])
    .join("; ");
}
