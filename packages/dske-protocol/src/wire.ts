/**
 * Wire format of the DSKE hub (v1, reference compatible, plus negotiated extensions).
 *
 * Every request body / query and every response body of the hub has a zod 4 schema here and an
 * inferred type. The hub router validates requests with these schemas; `HubApi` (the typed
 * client) validates responses with them. Object schemas strip unknown fields (forward
 * compatibility: "unknown fields ignored").
 *
 * Paths (relative to the hub base URL `http(s)://HOST:PORT/hub/{hub_name}`):
 *
 * | method | path                              | signed | request                    | response                   |
 * |--------|-----------------------------------|--------|----------------------------|----------------------------|
 * | PUT    | /dske/oob/v1/registration          | no     | RegistrationRequest (body) | RegistrationResponse       |
 * | DELETE | /dske/oob/v1/registration          | no     | UnregistrationQuery        | UnregistrationResponse     |
 * | GET    | /dske/oob/v1/psrd                  | no     | PsrdQuery                  | PsrdResponse               |
 * | POST   | /dske/api/v1/key-share             | yes    | PostKeyShareRequest        | PostKeyShareResponse (`{}`)|
 * | GET    | /dske/api/v1/key-share             | yes    | GetKeyShareQuery           | GetKeyShareResponse        |
 * | POST   | /dske/api/v1/key-shares            | yes    | PostKeySharesRequest       | PostKeySharesResponse      |
 * | POST   | /dske/api/v1/key-shares/fetch      | yes    | FetchKeySharesRequest      | FetchKeySharesResponse     |
 * | GET    | /mgmt/v1/status                    | no     | -                          | HubStatus                  |
 * | POST   | /mgmt/v1/stop                      | no     | -                          | StopResponse               |
 *
 * Errors: every non-2xx response carries `ErrorBody` = `{message, details?}`:
 * 400 validation (zod issues in details), 401 signature / unknown signer, 404 unknown client or
 * no share available to the caller (the two are deliberately indistinguishable), 409 conflict
 * (auth scheme change while registered, encryptor hosted by another client, duplicate share),
 * 413 body too big, 503 PSRD exhausted.
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

/** Limits shared by both sides. */
export const MAX_NAME_LENGTH = 64;
export const MAX_SAE_ID_LENGTH = 256;
export const MAX_KEY_ID_LENGTH = 128;
export const MAX_FRAGMENTS = 64;
export const MAX_ENCRYPTORS = 1024;
export const MAX_ADDITIONAL_SLAVES = 64;
export const MAX_BATCH_SHARES = 1000;
/** Largest decoded share accepted on the wire (the hub may configure a lower limit). */
export const MAX_SHARE_BYTES = 64 * 1024;
/** Largest PSRD block a client may request (the hub may configure a lower limit). */
export const MAX_PSRD_BLOCK_BYTES = 16 * 1024 * 1024;

export const AUTH_SCHEMES = ["gf128", "hmac-sha256"] as const;
export type WireAuthScheme = (typeof AUTH_SCHEMES)[number];
export const BATCH_EXTENSION = "batch";
/** Acknowledged share release (negotiated per client, see "Acknowledgement extension"). */
export const ACK_EXTENSION = "ack";

// ---------------------------------------------------------------------------------------------
// Scalars

/** Node (client/hub) names: used in URLs and pool names; a conservative charset. */
export const NodeNameSchema = z
  .string()
  .min(1)
  .max(MAX_NAME_LENGTH)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "must be letters, digits, '_', '.', '-' (not starting with a symbol)");

/** SAE (encryptor) IDs: ETSI leaves the format open; any printable string without control characters. */
export const SaeIdSchema = z
  .string()
  .min(1)
  .max(MAX_SAE_ID_LENGTH)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]+$/, "must not contain control characters");

/** Key IDs (ETSI key_ID, a UUID in practice). */
export const KeyIdSchema = z
  .string()
  .min(1)
  .max(MAX_KEY_ID_LENGTH)
  .regex(/^[A-Za-z0-9._:-]+$/, "must be letters, digits, '.', '_', ':', '-' (e.g. a UUID)");

export const BlockUuidSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9-]+$/, "must be a UUID");

/** Standard base64 (with padding). */
export const Base64Schema = z.base64();

const nonNegInt = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

// ---------------------------------------------------------------------------------------------
// PSRD allocation (metadata only)

export const FragmentSchema = z.object({
  block_uuid: BlockUuidSchema,
  start: nonNegInt,
  size: z.int().min(1).max(MAX_PSRD_BLOCK_BYTES),
});
export type WireFragment = z.infer<typeof FragmentSchema>;

export const AllocationSchema = z.object({
  fragments: z.array(FragmentSchema).min(1).max(MAX_FRAGMENTS),
});
export type WireAllocation = z.infer<typeof AllocationSchema>;

// ---------------------------------------------------------------------------------------------
// Errors

export const ErrorBodySchema = z.object({
  message: z.string(),
  details: z.array(z.unknown()).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

// ---------------------------------------------------------------------------------------------
// Registration (out of band)

export const RegistrationRequestSchema = z.object({
  client_name: NodeNameSchema,
  /** Encryptors (SAE IDs) hosted by the client; the reference may omit it (→ none). */
  encryptor_names: z.array(SaeIdSchema).max(MAX_ENCRYPTORS).default([]),
  /** Proposed auth scheme (extension). Absent → v1 `hmac-sha256`. Unknown names are accepted
   *  here and negotiated by the hub (refused if no fallback is allowed). */
  auth_scheme: z.string().min(1).max(64).optional(),
  /** Proposed per-client extensions (e.g. `["ack"]`); unknown names are ignored. */
  extensions: z.array(z.string().max(64)).max(16).optional(),
});
export type RegistrationRequest = z.input<typeof RegistrationRequestSchema>;
export type ParsedRegistrationRequest = z.output<typeof RegistrationRequestSchema>;

export const RegistrationResponseSchema = z.object({
  hub_name: z.string(),
  /** The scheme the hub chose. Absent (e.g. a reference hub) means v1 `hmac-sha256`. */
  auth_scheme: z.string().optional(),
  /** Negotiated extensions the hub supports, e.g. `["batch"]`. */
  extensions: z.array(z.string()).optional(),
  /** The hub's share timeout (informational). */
  share_timeout_secs: z.number().optional(),
  /**
   * Whether the hub holds PSRD of this client (either pool): false for a new registration, or
   * when the hub lost its state. A client that still has pools for the hub then resets them.
   * Absent (older hubs): unknown.
   */
  has_psrd: z.boolean().optional(),
});
export type RegistrationResponse = z.infer<typeof RegistrationResponseSchema>;

export const UnregistrationQuerySchema = z.object({
  client_name: NodeNameSchema,
});
export type UnregistrationQuery = z.infer<typeof UnregistrationQuerySchema>;

export const UnregistrationResponseSchema = z.object({
  hub_name: z.string().optional(),
  /** false when the client was not registered (DELETE is idempotent). */
  unregistered: z.boolean().optional(),
});
export type UnregistrationResponse = z.infer<typeof UnregistrationResponseSchema>;

// ---------------------------------------------------------------------------------------------
// PSRD delivery (out of band)

export const PoolOwnerWireSchema = z.enum(["client", "hub"]);
export type PoolOwnerWire = z.infer<typeof PoolOwnerWireSchema>;

export const PsrdQuerySchema = z.object({
  client_name: NodeNameSchema,
  pool_owner: PoolOwnerWireSchema,
  size: z.coerce.number().pipe(z.int().min(1).max(MAX_PSRD_BLOCK_BYTES)),
});
export type PsrdQuery = z.input<typeof PsrdQuerySchema>;
export type ParsedPsrdQuery = z.output<typeof PsrdQuerySchema>;

export const PsrdResponseSchema = z.object({
  block_uuid: BlockUuidSchema,
  /** Standard base64 of the block bytes. */
  data: Base64Schema,
});
export type PsrdResponse = z.infer<typeof PsrdResponseSchema>;

// ---------------------------------------------------------------------------------------------
// Key shares (in band, signed)

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
  key_size: z.int().min(1).max(1 << 20).optional(),
});
export type PostKeyShareRequest = z.infer<typeof PostKeyShareRequestSchema>;

/** The hub answers `{}` (a JSON object, so that the response can be signed). */
export const PostKeyShareResponseSchema = z.object({});
export type PostKeyShareResponse = z.infer<typeof PostKeyShareResponseSchema>;

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

// ---------------------------------------------------------------------------------------------
// Batch extension (in band, signed) — see the module comment for the exact semantics.

export const BatchShareItemSchema = z.object({
  master_sae_id: SaeIdSchema,
  slave_sae_id: SaeIdSchema,
  additional_slave_sae_ids: z.array(SaeIdSchema).max(MAX_ADDITIONAL_SLAVES).optional(),
  user_key_id: KeyIdSchema,
  share_index: z.int().min(0).max(255),
  encrypted_share_value: Base64Schema,
  key_size: z.int().min(1).max(1 << 20).optional(),
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
    message: "keys must not be empty (unless ack is given)",
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

// ---------------------------------------------------------------------------------------------
// In band: share metadata (never values)

/**
 * `POST /dske/api/v1/key-shares/meta` (signed; signer resolved from `client_name`): who the
 * listed keys are for, so that a responder client can tell "not for this SAE" (ETSI 401) from "not
 * found" (400) and hold a multicast key for a further local slave SAE. Only shares of which the
 * calling client hosts an intended slave SAE are listed (others are simply absent).
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

// ---------------------------------------------------------------------------------------------
// Management

export const PoolStatusSchema = z.object({
  blocks: z.number(),
  size: z.number(),
  used: z.number(),
  available: z.number(),
});
export type PoolStatus = z.infer<typeof PoolStatusSchema>;

export const PeerClientStatusSchema = z.object({
  client_name: z.string(),
  encryptor_names: z.array(z.string()),
  auth_scheme: z.string(),
  /** Per-client negotiated extensions (e.g. `["ack"]`). */
  extensions: z.array(z.string()).optional(),
  pools: z.object({
    client_owned: PoolStatusSchema,
    hub_owned: PoolStatusSchema,
  }),
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

// ---------------------------------------------------------------------------------------------
// PSRD bundles (management, operator credential) and confirmation (in band, signed)

export const IssueBundleRequestSchema = z.object({
  client_name: NodeNameSchema,
  client_owned_bytes: z.int().min(0).max(1024 * 1024 * 1024).default(0),
  hub_owned_bytes: z.int().min(0).max(1024 * 1024 * 1024).default(0),
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

export const PsrdConfirmRequestSchema = z.object({
  client_name: NodeNameSchema,
  block_uuids: z.array(BlockUuidSchema).min(1).max(4096),
});
export type PsrdConfirmRequest = z.input<typeof PsrdConfirmRequestSchema>;

export const PsrdConfirmResponseSchema = z.object({
  /** Blocks moved into use by this call (already confirmed or unknown ones are not counted). */
  confirmed: z.int(),
});
export type PsrdConfirmResponse = z.infer<typeof PsrdConfirmResponseSchema>;

export const StopResponseSchema = z.object({
  message: z.string(),
});
export type StopResponse = z.infer<typeof StopResponseSchema>;

// ---------------------------------------------------------------------------------------------
// Allocation conversions (wire snake_case <-> @dske/psrd camelCase)

export interface AllocationLike {
  readonly fragments: readonly { readonly blockUuid: string; readonly start: number; readonly size: number }[];
}

export function allocationToWire(allocation: AllocationLike): WireAllocation {
  return {
    fragments: allocation.fragments.map((f) => ({ block_uuid: f.blockUuid, start: f.start, size: f.size })),
  };
}

export function allocationFromWire(wire: WireAllocation): {
  fragments: { blockUuid: string; start: number; size: number }[];
} {
  return {
    fragments: wire.fragments.map((f) => ({ blockUuid: f.block_uuid, start: f.start, size: f.size })),
  };
}

/** Total byte size of a wire allocation. */
export function allocationSize(wire: WireAllocation | AllocationLike): number {
  let total = 0;
  for (const f of wire.fragments) total += f.size;
  return total;
}
