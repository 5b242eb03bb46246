/**
 * Wire schemas of the client's management API (`/client/{name}/mgmt/v1/...`). The status
 * document is built by `Client.mgmtStatus()` plus the router's transport fields; this schema
 * describes it for the OpenAPI document and for readers such as the metrics collector. Objects
 * are loose: fields may be added (forward compatible).
 */
import { z } from "zod";
import { BlockPoolStatusSchema, PoolStatusSchema } from "./wire.js";

export const PeerHubStatusSchema = z
  .object({
    hub_name: z.string(),
    url: z.string(),
    /** Whether the hub URL is `https://` (verified against the client's hub CA). */
    tls: z.boolean().optional(),
    /** Present (true) for a plain `http://` hub URL off loopback (admitted with `--allow-insecure-bind`). */
    insecure: z.boolean().optional(),
    registered: z.boolean(),
    /** The negotiated scheme (null until registered). */
    auth_scheme: z.string().nullable(),
    extensions: z.array(z.string()).optional(),
    last_error: z.string().nullable().optional(),
    /** Shares from this hub that failed the check (robust reconstruction named the hub). */
    bad_shares: z.number().optional(),
    last_bad_share: z.object({ key_id: z.string(), at: z.string() }).nullable().optional(),
    /** Ack extension: acknowledgements not sent to this hub yet. */
    pending_acks: z.number().optional(),
    pools: z.object({ client_owned: PoolStatusSchema, hub_owned: PoolStatusSchema }),
    /** The reference's view: the client-owned pool (the client allocates from it), block by block. */
    local_pool: BlockPoolStatusSchema.optional(),
    /** The reference's view: the hub-owned pool, block by block. */
    peer_pool: BlockPoolStatusSchema.optional(),
    /** `reference` for a hub of the reference implementation (ClientOptions.referenceHubs); absent for ours. */
    implementation: z.enum(["dske", "reference"]).optional(),
    /** What is weaker with this hub than with ours, e.g. "reference hub: PSRD over the network, unauthenticated". */
    notice: z.string().optional(),
    /**
     * PSRD delivery with this hub: bundles installed (chain seq), what the pools still ask the local
     * distributor for. `reference-network`: a reference hub's unauthenticated `GET psrd`.
     */
    psrd: z
      .object({
        delivery: z.enum(["bundle", "network", "reference-network"]),
        bundles_installed: z.number(),
        awaiting_first_bundle: z.boolean(),
        unconfirmed_blocks: z.number(),
        needs: z.object({ client_owned_bytes: z.number(), hub_owned_bytes: z.number() }),
      })
      .optional(),
  })
  .loose();
export type PeerHubStatus = z.infer<typeof PeerHubStatusSchema>;

export const ClientMgmtStatusSchema = z
  .object({
    name: z.string(),
    encryptor_names: z.array(z.string()),
    encryptors: z.array(z.string()),
    min_nr_shares: z.number(),
    peer_hubs: z.array(PeerHubStatusSchema),
    keys: z.object({ issued: z.number(), delivered: z.number(), held: z.number() }).loose(),
    bad_shares: z.array(z.object({ hub: z.string(), key_id: z.string(), at: z.string() })).optional(),
    etsi_transport: z.enum(["http", "https-mtls"]).optional(),
    sae_authentication: z.string().optional(),
    /** Plain mode with `anonymousSingleSae`: ETSI calls without `Authorization` are taken as from this SAE. */
    etsi_anonymous_sae: z.string().optional(),
    /** Present (true) when the client serves plain HTTP on a non-loopback address (`--allow-insecure-bind`). */
    insecure: z.boolean().optional(),
    /** Diagnostics for benchmarks: fsync calls and HTTP requests to hubs since start. */
    io: z.object({ fsyncs: z.number(), hub_requests: z.number() }).loose().optional(),
    /** Names of the peer hubs of the reference implementation (ClientOptions.referenceHubs). */
    reference_hubs: z.array(z.string()).optional(),
  })
  .loose();
export type ClientMgmtStatus = z.infer<typeof ClientMgmtStatusSchema>;

export const InstallBundleRequestSchema = z.object({
  /** Path of the bundle file on the client's host (e.g. in its inbox). */
  file: z.string().min(1).max(4096),
});
export const InstallBundleResponseSchema = z.object({
  hub_name: z.string(),
  seq: z.int(),
  blocks: z.int(),
  client_owned_bytes: z.int(),
  hub_owned_bytes: z.int(),
});
export const ClientStatusQuerySchema = z.object({
  /**
   * Answer once the client is ready (registered with every hub, PSRD in both directions of each)
   * or after this many ms, whichever is first; the answer is the status either way. Without it,
   * at once. `dske-cli start` waits for its clients this way instead of polling.
   */
  wait_ready_ms: z.coerce.number().pipe(z.int().min(0).max(30_000)).optional(),
});
export const PsrdNeedsQuerySchema = z.object({
  wait_ms: z.coerce.number().pipe(z.int().min(0).max(30_000)).default(0),
  /** Only the needs of this hub (a hub's local distributor asks for its own). */
  hub: z.string().min(1).max(64).optional(),
});
export const PsrdNeedsResponseSchema = z.object({
  client_name: z.string(),
  needs: z.array(z.object({ hub_name: z.string(), client_owned_bytes: z.int(), hub_owned_bytes: z.int() })),
});

export const ResetHubPsrdRequestSchema = z.object({ hub_name: z.string().min(1).max(64) });
export const ResetHubPsrdResponseSchema = z.object({ message: z.string() });

export const ClientStopResponseSchema = z.object({ message: z.string() });
export type ClientStopResponse = z.infer<typeof ClientStopResponseSchema>;
