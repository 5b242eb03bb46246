/**
 * The error body of the hub wire: every non-2xx response carries `ErrorBody` = `{message, details?}`.
 *
 * 400 validation (zod issues in details), 401 signature / unknown signer, 404 unknown client or
 * no share available to the caller (the two are deliberately indistinguishable), 409 conflict
 * (auth scheme change while registered, encryptor hosted by another client, duplicate share),
 * 413 body too big, 503 PSRD exhausted.
 */
import { z } from "zod";

export const ErrorBodySchema = z.object({
  message: z.string(),
  details: z.array(z.unknown()).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
