/**
 * Identifiers and limits of the DSKE wire: node names, SAE IDs, key IDs, PSRD block IDs, the
 * size limits both sides enforce, the auth scheme names and the negotiated extension names.
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
/** Batch messages (see share.ts, "Batch extension"). */
export const BATCH_EXTENSION = "batch";
/** Acknowledged share release (negotiated per client, see share.ts, "Acknowledgement extension"). */
export const ACK_EXTENSION = "ack";

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

/** PSRD block IDs in PSRD deliveries and confirmations (fragments use @dske/psrd's stricter canonical UUID). */
export const BlockUuidSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9-]+$/, "must be a UUID");

/** Standard base64 (with padding). */
export const Base64Schema = z.base64();
