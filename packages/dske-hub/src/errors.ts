/**
 * Typed domain errors of the hub. Each carries a `kind`; the HTTP layer maps kinds to statuses
 * (http/errors.ts). The message is safe to show to the caller (it never contains key, share or
 * PSRD bytes).
 */
import { PsrdError, type PsrdAllocationErrorCode } from "@dske/psrd";

export type HubErrorKind =
  | "bad_request" // 400
  | "unauthorized" // 401
  | "forbidden" // 403
  | "not_found" // 404
  | "conflict" // 409
  | "too_large" // 413
  | "exhausted" // 503: PSRD exhausted
  | "unavailable"; // 503: store/journal failure, hub closed

export class HubError extends Error {
  override readonly name = "HubError";
  constructor(
    readonly kind: HubErrorKind,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message);
  }
}

/** Every code of @dske/psrd's PsrdAllocationError (the compiler checks the list is complete). */
const ALLOCATION_CODES: Record<PsrdAllocationErrorCode, true> = {
  malformed: true,
  invalid_uuid: true,
  invalid_number: true,
  invalid_size: true,
  empty: true,
  too_many_fragments: true,
  too_many_bytes: true,
  overlap: true,
  unknown_block: true,
  out_of_range: true,
  key_prefix: true,
  consumed: true,
  reserved: true,
};

/**
 * Translate errors thrown by a @dske/psrd pool into HubErrors, matched by their `code`:
 * exhaustion and a closed store/pool → `exhausted` / `unavailable`, a bad, consumed or unknown
 * named allocation → `bad_request`. Anything else is returned unchanged.
 */
export function fromPsrdError(err: unknown, what: string): unknown {
  if (!(err instanceof PsrdError)) return err;
  const reason = [{ reason: err.message }];
  if (err.code === "exhausted") return new HubError("exhausted", `PSRD exhausted: ${what}`, reason);
  // "unavailable": a shared store's database is away (@dske/postgres); it recovers by itself.
  if (err.code === "closed" || err.code === "unavailable") return new HubError("unavailable", `PSRD store unavailable: ${what}`, reason);
  if (Object.hasOwn(ALLOCATION_CODES, err.code)) return new HubError("bad_request", `invalid PSRD allocation: ${what}`, reason);
  return err;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
