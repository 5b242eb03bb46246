/**
 * Management wire of the hub (`/mgmt/v1/...`, operator credential): the hub status, PSRD bundles
 * issued into the hub's outbox (the bytes never travel over HTTP), and stop.
 */
import { z } from "zod";
import type { BlockUsage } from "@dske/psrd";
import { AUTH_SCHEMES, NodeNameSchema } from "./ids.js";

export const PoolStatusSchema = z.object({
  blocks: z.number(),
  size: z.number(),
  used: z.number(),
  available: z.number(),
});
export type PoolStatus = z.infer<typeof PoolStatusSchema>;

/**
 * One pool in the reference's status form: its blocks that still hold unused bytes (the
 * reference deletes fully consumed blocks) with their usage, and who owns the pool: `local` = the
 * pool this node allocates from for what it sends, `peer` = the pool the other side owns. Never
 * the block bytes: the reference's `data` field is deliberately absent.
 */
export const BlockPoolStatusSchema = z.object({
  blocks: z.array(
    z.object({
      uuid: z.string(),
      size: z.number(),
      /** Consumed bytes and the block's MAC key prefix (never allocatable). */
      nr_used_bytes: z.number(),
      nr_unused_bytes: z.number(),
    }),
  ),
  owner: z.enum(["local", "peer"]),
});
export type BlockPoolStatus = z.infer<typeof BlockPoolStatusSchema>;

/** A pool's block usage (@dske/psrd `Pool.blockUsage()`) in the reference's status form: live blocks only, never bytes. */
export function blockPoolStatus(usage: readonly BlockUsage[], owner: "local" | "peer"): BlockPoolStatus {
  return {
    blocks: usage
      .filter((b) => b.unused > 0)
      .map((b) => ({ uuid: b.blockUuid, size: b.size, nr_used_bytes: b.used, nr_unused_bytes: b.unused })),
    owner,
  };
}

export const PeerClientStatusSchema = z.object({
  client_name: z.string(),
  encryptor_names: z.array(z.string()),
  auth_scheme: z.string(),
  /** Per-client negotiated extensions (e.g. `["ack"]`). */
  extensions: z.array(z.string()).optional(),
  /** "reference" for a client served in the hub's reference-client mode (dske-python KMEs); absent otherwise. */
  implementation: z.enum(["dske", "reference"]).optional(),
  /** How the client enrolled when that is weaker than usual, e.g. "unauthenticated (reference mode, from 127.0.0.1)". */
  enrollment: z.string().optional(),
  pools: z.object({
    client_owned: PoolStatusSchema,
    hub_owned: PoolStatusSchema,
  }),
  /** The reference's view: the hub-owned pool (the hub allocates from it), block by block. */
  local_pool: BlockPoolStatusSchema.optional(),
  /** The reference's view: the client-owned pool, block by block. */
  peer_pool: BlockPoolStatusSchema.optional(),
  /** PSRD delivery: bundles issued so far, and bytes staged until the client confirms them. */
  psrd: z
    .object({
      bundles_issued: z.number(),
      staged: z.object({ client: z.number(), hub: z.number(), blocks: z.number() }),
    })
    .optional(),
});
export type PeerClientStatus = z.infer<typeof PeerClientStatusSchema>;

export const ShareStatusSchema = z.object({
  master_client_name: z.string(),
  key_id: z.string(),
  share_index: z.number(),
  slave_sae_ids: z.array(z.string()),
  /** Clients that fetched the share so far. */
  fetched_by: z.array(z.string()),
  /** Clients (with the ack extension) that acknowledged the share; fetched_by minus acked_by of
   *  such clients are "released, awaiting acknowledgement". */
  acked_by: z.array(z.string()).optional(),
  /** Clients that fetched the share and have not acknowledged it yet (ack extension). */
  pending_ack: z.array(z.string()).optional(),
  /** ISO 8601 time after which the share is deleted. */
  expires_at: z.string(),
});
export type ShareStatus = z.infer<typeof ShareStatusSchema>;

export const HubStatusSchema = z.object({
  name: z.string(),
  share_timeout_secs: z.number(),
  auth_schemes: z.array(z.string()),
  extensions: z.array(z.string()),
  peer_clients: z.array(PeerClientStatusSchema),
  shares: z.array(ShareStatusSchema),
  /** How this hub delivers PSRD: "bundle" (out of band only) or "network" (also GET psrd). */
  psrd_delivery: z.enum(["bundle", "network"]).optional(),
  /** Process I/O counters (diagnostics, optional): fsync/fdatasync calls since start. */
  io: z.object({ fsyncs: z.number() }).optional(),
  /** Present (true) when the hub serves plain HTTP on a non-loopback address (`--allow-insecure-bind`). */
  insecure: z.boolean().optional(),
});
export type HubStatus = z.infer<typeof HubStatusSchema>;

export const IssueBundleRequestSchema = z.object({
  client_name: NodeNameSchema,
  client_owned_bytes: z
    .int()
    .min(0)
    .max(1024 * 1024 * 1024)
    .default(0),
  hub_owned_bytes: z
    .int()
    .min(0)
    .max(1024 * 1024 * 1024)
    .default(0),
  /** MAC scheme of a client's first bundle (default: the hub's preferred); e.g. hmac-sha256 for a reference peer. */
  auth_scheme: z.enum(AUTH_SCHEMES).optional(),
});
export type IssueBundleRequest = z.input<typeof IssueBundleRequestSchema>;

export const IssueBundleResponseSchema = z.object({
  /** Path of the bundle file on the hub's host (the bytes never travel over HTTP). */
  file: z.string(),
  hub_name: z.string(),
  client_name: z.string(),
  seq: z.int(),
  client_owned_bytes: z.int(),
  hub_owned_bytes: z.int(),
  blocks: z.int(),
});
export type IssueBundleResponse = z.infer<typeof IssueBundleResponseSchema>;

export const StopResponseSchema = z.object({
  message: z.string(),
});
export type StopResponse = z.infer<typeof StopResponseSchema>;

/** What a caller accepts from POST stop: our `{message}`, or the reference's `{result}` (read as the message). */
export const StopReceivedSchema = z.union([
  StopResponseSchema,
  z.object({ result: z.string() }).transform((r): StopResponse => ({ message: r.result })),
]);
