/**
 * PSRD delivery and confirmation.
 *
 * - `GET /dske/oob/v1/psrd` (out of band, network delivery): a fresh block for one of the
 *   client's two pools at the hub (`pool_owner` "client" or "hub").
 * - `POST /dske/api/v1/psrd-confirm` (in band, signed): the client confirms blocks it received
 *   (by bundle or by network); the hub starts using them only then.
 *
 * Bundles (the operator's out-of-band delivery) are in management.ts.
 */
import { z } from "zod";
import { Base64Schema, BlockUuidSchema, MAX_PSRD_BLOCK_BYTES, NodeNameSchema } from "./ids.js";

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
