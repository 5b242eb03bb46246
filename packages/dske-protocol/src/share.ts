/**
 * Key shares on the hub wire (in band, signed unless noted): single post and get, the batch
 * extension (post many, fetch many, with acknowledgements), share metadata and the unsigned
 * "held" check.
 *
 * ## Share release rules
 * A share is keyed by (master client, key ID). It is released only to a registered client that
 * hosts (per its registration's `encryptor_names`) the requested `slave_sae_id`, and only if that
 * SAE is an intended slave of the share (`slave_sae_id` or one of `additional_slave_sae_ids`).
 * The "intended responder clients" are the clients hosting the intended slave SAEs. A share is
 * deleted (zeroed) once every intended responder client has fetched it (a client hosting two
 * intended slaves counts once: it must keep the reconstructed key for its second SAE), or after
 * `share_timeout_secs`. Until deletion the same client may fetch again (e.g. its previous response
 * was lost); each fetch is re-encrypted with fresh hub-owned PSRD.
 * Anything the caller may not see yields 404 with the same message as "no such share".
 * Exception: an "unbound" share (posted by a reference client in the hub's reference-client mode,
 * without SAE IDs; see the reference schemas below) has no intended slaves: it is released to whichever
 * registered client names its key ID (our fetches still name a slave SAE the caller hosts;
 * their master SAE is not checked), and listed in `key-shares/meta` with `slave_sae_ids: []`.
 *
 * ## Batch extension (`extensions: ["batch"]` in RegistrationResponse)
 * One signed message carries many shares. PSRD for the one-time pads is one allocation for the
 * whole batch: the allocation's bytes are split, in order, into consecutive pads, one per share,
 * each as long as that share's decoded `encrypted_share_value`; the allocation's total size must
 * equal the sum of the share sizes.
 *
 * - `POST /dske/api/v1/key-shares` (signed; signer resolved from `master_client_name`):
 *   ```
 *   { "master_client_name": "carol",
 *     "encryption_key_allocation": {"fragments": [{"block_uuid": "...", "start": 16, "size": 4800}]},
 *     "shares": [ { "master_sae_id": "sam", "slave_sae_id": "sunny", "additional_slave_sae_ids"?: [..],
 *                   "user_key_id": "uuid", "share_index": 1, "encrypted_share_value": "base64",
 *                   "key_size"?: 256 }, ... ] }            // 1..MAX_BATCH_SHARES items
 *   → 200 { "stored": N }
 *   ```
 *   All or nothing: every item is validated first (nothing consumed, nothing stored on error;
 *   `details` names the failing item index), then the allocation is taken once and all shares are
 *   stored. A `user_key_id` may appear at most once per batch.
 * - `POST /dske/api/v1/key-shares/fetch` (signed; signer resolved from `client_name`):
 *   ```
 *   { "client_name": "curtis",
 *     "keys": [ { "master_sae_id": "sam", "slave_sae_id": "sunny", "key_id": "uuid" }, ... ] }
 *   → 200 { "encryption_key_allocation"?: {"fragments": [...]},   // absent when shares is empty
 *           "shares": [ { "key_id": "uuid", "share_index": 1, "encrypted_share_value": "base64" }, ... ],
 *           "missing": [ "uuid", ... ] }
 *   ```
 *   `shares` keeps the request order of the keys that are available to the caller; pads are cut
 *   from the allocation in that order. Keys not available (unknown, expired, not for this caller)
 *   are listed in `missing` (no reason given, see release rules). A key_id may appear once per request.
 *
 * ## Acknowledgement extension (`extensions: ["ack"]`, negotiated per client)
 * Without it a share is deleted as soon as every intended responder client fetched it: a responder
 * that crashes after the hub released the shares but before it recorded the key loses the key.
 * - Negotiation: the client proposes `extensions: ["ack"]` in its RegistrationRequest; the hub
 *   echoes `"ack"` in the RegistrationResponse's `extensions` (and records the choice durably, per
 *   client) only then. Clients that do not propose it (reference v1) keep delete-on-fetch.
 * - For a client that negotiated it, a released share is "released, awaiting acknowledgement": the
 *   client counts as done only once it acknowledged the key. Until then (or `share_timeout_secs`)
 *   the same authenticated client may fetch it again; every fetch is a new signed request and is
 *   re-encrypted with a fresh hub-owned allocation (never a resend of old ciphertext). After its
 *   acknowledgement the client gets the share no more (404 / `missing`).
 * - Acknowledging: the optional `ack` list of the signed `POST /dske/api/v1/key-shares/fetch`
 *   (piggybacked on the next fetch to that hub; `keys` may then be empty for an ack-only message):
 *   ```
 *   { "client_name": "curtis", "keys": [ ... ],               // 0..MAX_BATCH_SHARES
 *     "ack": [ { "master_sae_id": "sam", "key_id": "uuid" }, ... ] }   // 0..MAX_BATCH_SHARES
 *   → 200 { ..., "acknowledged": N }
 *   ```
 *   Acks are applied after the signature is verified and before the keys are served. A client may
 *   acknowledge a share it fetched, or one it never fetched from this hub if it hosts an intended
 *   slave SAE of the share (it reconstructed the key from other hubs' shares: this hub drops its
 *   share now instead of at the timeout). An ack for a share that is gone or not for this client
 *   is ignored (acks are idempotent, so a client may resend them after a failed request).
 *   `acknowledged` counts the shares it marked done. A
 *   share is deleted and zeroed as soon as every intended responder client is done (fetched, or
 *   acknowledged if it negotiated `ack`), or at its timeout. The hub status lists `acked_by`.
 */
import { z } from "zod";
import { AllocationSchema } from "./allocation.js";
import { Base64Schema, KeyIdSchema, MAX_ADDITIONAL_SLAVES, MAX_BATCH_SHARES, NodeNameSchema, SaeIdSchema } from "./ids.js";

export const PostKeyShareRequestSchema = z.object({
  master_client_name: NodeNameSchema,
  master_sae_id: SaeIdSchema,
  slave_sae_id: SaeIdSchema,
  /** Multicast extension: further intended slave SAEs. */
  additional_slave_sae_ids: z.array(SaeIdSchema).max(MAX_ADDITIONAL_SLAVES).optional(),
  user_key_id: KeyIdSchema,
  share_index: z.int().min(0).max(255),
  encryption_key_allocation: AllocationSchema,
  /** Base64 of share XOR pad (pad = bytes of encryption_key_allocation; same length). */
  encrypted_share_value: Base64Schema,
  /** Informational: key size in bits. */
  key_size: z
    .int()
    .min(1)
    .max(1 << 20)
    .optional(),
});
export type PostKeyShareRequest = z.infer<typeof PostKeyShareRequestSchema>;

/** The hub answers `{}` (a JSON object, so that the response can be signed). */
export const PostKeyShareResponseSchema = z.object({});
export type PostKeyShareResponse = z.infer<typeof PostKeyShareResponseSchema>;

/**
 * What a client accepts as the answer to POST key-share: our `{}`, or the reference hub's `null`
 * (its handler returns nothing; "Successful response body: None" in its protocol guide). An empty
 * body reads as `{}`. HubApi counts a verified 2xx with another body as stored too, with a warning.
 */
export const PostKeyShareReceivedSchema = z.union([PostKeyShareResponseSchema, z.null().transform((): PostKeyShareResponse => ({}))]);

export const GetKeyShareQuerySchema = z.object({
  client_name: NodeNameSchema,
  master_sae_id: SaeIdSchema,
  slave_sae_id: SaeIdSchema,
  key_id: KeyIdSchema,
});
export type GetKeyShareQuery = z.infer<typeof GetKeyShareQuerySchema>;

export const GetKeyShareResponseSchema = z.object({
  share_index: z.int().min(0).max(255),
  /** Allocation from the hub-owned pool (the client's peer pool). */
  encryption_key_allocation: AllocationSchema,
  encrypted_share_value: Base64Schema,
});
export type GetKeyShareResponse = z.infer<typeof GetKeyShareResponseSchema>;

// Reference (dske-python) client wire, accepted by a hub only from the clients it serves in its
// reference-client mode: no SAE IDs. A share posted so is "unbound": the key ID is the capability
// (released to whichever registered client names it, deleted after the first fetch by a client
// other than its master, or at `share_timeout_secs`). A fetch names only the key ID.

/** `POST /dske/api/v1/key-share` from a reference client: `client_name` is the master client. */
export const ReferencePostKeyShareRequestSchema = PostKeyShareRequestSchema.pick({
  user_key_id: true,
  share_index: true,
  encryption_key_allocation: true,
  encrypted_share_value: true,
}).extend({ client_name: NodeNameSchema });
export type ReferencePostKeyShareRequest = z.infer<typeof ReferencePostKeyShareRequestSchema>;

/** `GET /dske/api/v1/key-share?client_name=&key_id=` from a reference client (answer: GetKeyShareResponse). */
export const ReferenceGetKeyShareQuerySchema = GetKeyShareQuerySchema.pick({ client_name: true, key_id: true });
export type ReferenceGetKeyShareQuery = z.infer<typeof ReferenceGetKeyShareQuerySchema>;

// Batch extension (in band, signed): see the module comment for the exact semantics.

export const BatchShareItemSchema = z.object({
  master_sae_id: SaeIdSchema,
  slave_sae_id: SaeIdSchema,
  additional_slave_sae_ids: z.array(SaeIdSchema).max(MAX_ADDITIONAL_SLAVES).optional(),
  user_key_id: KeyIdSchema,
  share_index: z.int().min(0).max(255),
  encrypted_share_value: Base64Schema,
  key_size: z
    .int()
    .min(1)
    .max(1 << 20)
    .optional(),
});
export type BatchShareItem = z.infer<typeof BatchShareItemSchema>;

export const PostKeySharesRequestSchema = z.object({
  master_client_name: NodeNameSchema,
  /** One allocation for all shares' pads, in item order. */
  encryption_key_allocation: AllocationSchema,
  shares: z.array(BatchShareItemSchema).min(1).max(MAX_BATCH_SHARES),
});
export type PostKeySharesRequest = z.infer<typeof PostKeySharesRequestSchema>;

export const PostKeySharesResponseSchema = z.object({
  stored: z.int().min(0),
});
export type PostKeySharesResponse = z.infer<typeof PostKeySharesResponseSchema>;

export const FetchKeyRefSchema = z.object({
  master_sae_id: SaeIdSchema,
  slave_sae_id: SaeIdSchema,
  key_id: KeyIdSchema,
});
export type FetchKeyRef = z.infer<typeof FetchKeyRefSchema>;

export const AckKeyRefSchema = z.object({
  master_sae_id: SaeIdSchema,
  key_id: KeyIdSchema,
});
export type AckKeyRef = z.infer<typeof AckKeyRefSchema>;

export const FetchKeySharesRequestSchema = z
  .object({
    client_name: NodeNameSchema,
    keys: z.array(FetchKeyRefSchema).max(MAX_BATCH_SHARES),
    /** Acknowledgement extension: keys whose shares this client no longer needs. */
    ack: z.array(AckKeyRefSchema).max(MAX_BATCH_SHARES).optional(),
  })
  .refine((b) => b.keys.length > 0 || (b.ack?.length ?? 0) > 0, {
    error: "keys must not be empty (unless ack is given)",
    path: ["keys"],
  });
export type FetchKeySharesRequest = z.infer<typeof FetchKeySharesRequestSchema>;

export const FetchedShareSchema = z.object({
  key_id: KeyIdSchema,
  share_index: z.int().min(0).max(255),
  encrypted_share_value: Base64Schema,
});
export type FetchedShare = z.infer<typeof FetchedShareSchema>;

export const FetchKeySharesResponseSchema = z.object({
  /** Pads for `shares`, in order; absent when `shares` is empty. */
  encryption_key_allocation: AllocationSchema.optional(),
  shares: z.array(FetchedShareSchema),
  missing: z.array(KeyIdSchema),
  /** Acknowledgement extension: shares marked done by this request's `ack`. */
  acknowledged: z.number().optional(),
});
export type FetchKeySharesResponse = z.infer<typeof FetchKeySharesResponseSchema>;

// In band: share metadata (never values)

/**
 * `POST /dske/api/v1/key-shares/meta` (signed; signer resolved from `client_name`): who the
 * listed keys are for, so that a responder client can tell "not for this SAE" (ETSI 401) from "not
 * found" (400) and hold a multicast key for a further local slave SAE. Only shares of which the
 * calling client hosts an intended slave SAE are listed (others are simply absent), and unbound
 * shares (reference-client mode: for every SAE), with `slave_sae_ids: []` and the master client's
 * name as `master_sae_id`.
 */
export const ShareMetaRequestSchema = z.object({
  client_name: NodeNameSchema,
  key_ids: z.array(KeyIdSchema).min(1).max(MAX_BATCH_SHARES),
});
export type ShareMetaRequest = z.infer<typeof ShareMetaRequestSchema>;

export const ShareMetaSchema = z.object({
  key_id: KeyIdSchema,
  master_sae_id: SaeIdSchema,
  slave_sae_ids: z.array(SaeIdSchema),
});
export type ShareMeta = z.infer<typeof ShareMetaSchema>;

export const ShareMetaResponseSchema = z.object({ shares: z.array(ShareMetaSchema) });
export type ShareMetaResponse = z.infer<typeof ShareMetaResponseSchema>;

/**
 * `POST /dske/api/v1/key-shares/held` (unsigned, costs no PSRD): which of the given key IDs the
 * hub holds a live share of. Reveals nothing about IDs not given, and no SAE or client names:
 * key IDs are unguessable, so only someone who already knows a key ID learns whether it is still
 * live. Lets a client check key IDs before it spends PSRD on signed lookups (unknown-key guard).
 */
export const SharesHeldRequestSchema = z.object({
  key_ids: z.array(KeyIdSchema).min(1).max(MAX_BATCH_SHARES),
});
export type SharesHeldRequest = z.infer<typeof SharesHeldRequestSchema>;

export const SharesHeldResponseSchema = z.object({ held: z.array(KeyIdSchema) });
export type SharesHeldResponse = z.infer<typeof SharesHeldResponseSchema>;
