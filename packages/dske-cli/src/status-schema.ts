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

export const hubStatusSchema = z.looseObject({
  name: z.string(),
  peer_clients: z
    .array(
      z.looseObject({
        client_name: z.string(),
        encryptor_names: z.array(z.string()).optional(),
        auth_scheme: z.string().optional(),
        pools: poolsSchema,
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
        pools: poolsSchema,
      }),
    )
    .optional()
    .default([]),
  keys: z.unknown().optional(),
});
export type ClientStatusView = z.infer<typeof clientStatusSchema>;
