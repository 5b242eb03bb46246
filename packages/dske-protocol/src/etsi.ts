/**
 * ETSI GS QKD 014 V1.1.1 wire contract: the data formats of clause 6 as zod 4 schemas, with
 * field names and casing exactly as the standard (`key_ID`, `key_IDs`, `master_SAE_ID`,
 * `slave_SAE_ID`, `source_KME_ID`, `target_KME_ID`, `max_SAE_ID_count`,
 * `additional_slave_SAE_IDs`; everything else snake_case). Objects strip unknown members.
 *
 * Used by the KME (@dske/client validates requests with them; its limits and request parsing
 * stay there) and by SAE-side callers (`EtsiApi`, @dske/cli).
 *
 * Callers read answers with the `Received*` schemas, which also accept what the reference
 * implementation's KME sends: field names in another casing (`source_kme_id`, `max_sae_id_count`,
 * ...) and an enc_keys / dec_keys container whose `keys` is one key object instead of an array.
 * They yield the standard form.
 */
import { z } from "zod";

const extensionObject = z.record(z.string(), z.unknown());

/** 6.1 Status. */
export const StatusSchema = z.object({
  source_KME_ID: z.string(),
  target_KME_ID: z.string(),
  master_SAE_ID: z.string(),
  slave_SAE_ID: z.string(),
  key_size: z.int(),
  stored_key_count: z.int(),
  max_key_count: z.int(),
  max_key_per_request: z.int(),
  max_key_size: z.int(),
  min_key_size: z.int(),
  max_SAE_ID_count: z.int(),
  status_extension: extensionObject.optional(),
});
export type EtsiStatus = z.infer<typeof StatusSchema>;

/** 6.2 Key request (POST enc_keys). All members optional; unknown members are ignored. */
export const KeyRequestSchema = z.object({
  number: z.int().optional(),
  size: z.int().optional(),
  additional_slave_SAE_IDs: z.array(z.string()).optional(),
  extension_mandatory: z.array(extensionObject).optional(),
  extension_optional: z.array(extensionObject).optional(),
});
export type KeyRequest = z.infer<typeof KeyRequestSchema>;

/** 6.3 Key container. */
export const KeySchema = z.object({
  key_ID: z.string(),
  key_ID_extension: extensionObject.optional(),
  key: z.string(),
  key_extension: extensionObject.optional(),
});
export const KeyContainerSchema = z.object({
  keys: z.array(KeySchema),
  key_container_extension: extensionObject.optional(),
});
export type EtsiKey = z.infer<typeof KeySchema>;
export type KeyContainer = z.infer<typeof KeyContainerSchema>;

/** 6.4 Key IDs (POST dec_keys). */
export const KeyIdsSchema = z.object({
  key_IDs: z
    .array(
      z.object({
        key_ID: z.string(),
        key_ID_extension: extensionObject.optional(),
      }),
    )
    .min(1),
  key_IDs_extension: extensionObject.optional(),
});
export type KeyIds = z.infer<typeof KeyIdsSchema>;

/** 6.5 Error. */
export const ErrorSchema = z.object({
  message: z.string(),
  details: z.array(extensionObject).optional(),
});
export type EtsiErrorBody = z.infer<typeof ErrorSchema>;

// ---------------------------------------------------------------------------------------------
// What SAE-side callers accept (the standard, and the reference KME's spellings)

/** `value` with its keys renamed to the standard spelling of `names` where they differ only in case (exact spellings win). */
function standardCase(value: unknown, names: readonly string[]): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const byLower = new Map(names.map((n) => [n.toLowerCase(), n]));
  const out: Record<string, unknown> = {};
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries) if (!byLower.has(k.toLowerCase())) out[k] = v;
  for (const [k, v] of entries) {
    const name = byLower.get(k.toLowerCase());
    if (name !== undefined && (k === name || !(name in out))) out[name] = v;
  }
  return out;
}

const ReceivedKeySchema = z.preprocess((v) => standardCase(v, Object.keys(KeySchema.shape)), KeySchema);

/** A status as a caller accepts it: the standard casing or the reference's (`source_kme_id`, ...). */
export const ReceivedStatusSchema = z.preprocess((v) => standardCase(v, Object.keys(StatusSchema.shape)), StatusSchema);

/** A key container as a caller accepts it: `keys` an array (the standard) or one key object (the reference's answers). */
export const ReceivedKeyContainerSchema = z.preprocess(
  (v) => standardCase(v, Object.keys(KeyContainerSchema.shape)),
  z.object({
    keys: z.union([z.array(ReceivedKeySchema), ReceivedKeySchema.transform((k) => [k])]),
    key_container_extension: extensionObject.optional(),
  }),
);
