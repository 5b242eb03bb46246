/**
 * Tolerant zod views of the nodes' management status documents (SYSTEM.md "Management"). Only
 * the fields the CLI summarises are named; everything else passes through untouched, and a
 * missing field never fails a parse (status output must work across node versions).
 */
import { z } from "zod";

export const poolStatsSchema = z.looseObject({
  blocks: z.number().optional(),
  size: z.number().optional(),
  used: z.number().optional(),
  available: z.number().optional(),
});
export type PoolStatsView = z.infer<typeof poolStatsSchema>;

const poolsSchema = z.looseObject({ client_owned: poolStatsSchema.nullish(), hub_owned: poolStatsSchema.nullish() }).nullish();

/**
 * The reference's block view of one pool (`local_pool` / `peer_pool`: `local` is the pool the node
 * allocates from). Our nodes send it next to `pools`; a reference node sends only this.
 */
export const blockPoolSchema = z
  .looseObject({
    blocks: z
      .array(z.looseObject({ size: z.number().optional(), nr_used_bytes: z.number().optional(), nr_unused_bytes: z.number().optional() }))
      .optional()
      .default([]),
    owner: z.string().optional(),
  })
  .nullish();
export type BlockPoolView = z.infer<typeof blockPoolSchema>;

/** Pool levels summed from a block view (undefined without one). */
export function blockPoolStats(p: BlockPoolView): PoolStatsView | undefined {
  if (p === undefined || p === null) return undefined;
  const blocks = p.blocks;
  const sum = (f: (b: (typeof blocks)[number]) => number | undefined) => blocks.reduce((n, b) => n + (f(b) ?? 0), 0);
  return { blocks: blocks.length, size: sum((b) => b.size), used: sum((b) => b.nr_used_bytes), available: sum((b) => b.nr_unused_bytes) };
}

export const hubStatusSchema = z.looseObject({
  name: z.string(),
  peer_clients: z
    .array(
      z.looseObject({
        client_name: z.string(),
        encryptor_names: z.array(z.string()).optional(),
        auth_scheme: z.string().optional(),
        pools: poolsSchema,
        local_pool: blockPoolSchema,
        peer_pool: blockPoolSchema,
      }),
    )
    .optional()
    .default([]),
  shares: z.array(z.looseObject({})).optional(),
});
export type HubStatusView = z.infer<typeof hubStatusSchema>;

export const clientStatusSchema = z.looseObject({
  name: z.string(),
  encryptors: z.array(z.string()).optional(),
  encryptor_names: z.array(z.string()).optional(),
  peer_hubs: z
    .array(
      z.looseObject({
        hub_name: z.string().nullish(),
        url: z.string().optional(),
        registered: z.boolean().optional(),
        auth_scheme: z.string().nullish(),
        /** Our client's note on a reference-implementation hub ("reference hub: PSRD over the network, unauthenticated"). */
        notice: z.string().optional(),
        pools: poolsSchema,
        local_pool: blockPoolSchema,
        peer_pool: blockPoolSchema,
      }),
    )
    .optional()
    .default([]),
  keys: z.unknown().optional(),
});
export type ClientStatusView = z.infer<typeof clientStatusSchema>;
