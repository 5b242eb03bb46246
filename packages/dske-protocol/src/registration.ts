/**
 * Registration (out of band, `PUT` / `DELETE /dske/oob/v1/registration`): a client tells a hub
 * its name, the encryptors (SAE IDs) it hosts, and proposes an auth scheme and extensions; the
 * hub answers with what it chose. A client that installed its first PSRD bundle signs these calls.
 */
import { z } from "zod";
import { NodeNameSchema, SaeIdSchema, MAX_ENCRYPTORS } from "./ids.js";

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
