/**
 * Typed domain errors of the hub. The router maps `kind` to an HTTP status; the message is safe to
 * show to the caller (it never contains key, share or PSRD bytes).
 */
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

export const HUB_ERROR_STATUS: Record<HubErrorKind, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  exhausted: 503,
  unavailable: 503,
};

/**
 * Translate errors thrown by a @dske/psrd pool into HubErrors (matched by name so that this file
 * does not depend on the store implementation): exhaustion and a closed store/pool → 503, a
 * bad/consumed/unknown named allocation → 400. Anything else is returned unchanged.
 */
export function fromPsrdError(err: unknown, what: string): unknown {
  if (err instanceof HubError) return err;
  const name = err instanceof Error ? err.name : "";
  const message = err instanceof Error ? err.message : String(err);
  if (name === "PsrdExhaustedError") {
    return new HubError("exhausted", `PSRD exhausted: ${what}`, [{ reason: message }]);
  }
  if (name === "PsrdClosedError") {
    return new HubError("unavailable", `PSRD store unavailable: ${what}`, [{ reason: message }]);
  }
  if (name === "PsrdAllocationError") {
    return new HubError("bad_request", `invalid PSRD allocation: ${what}`, [{ reason: message }]);
  }
  return err;
}
