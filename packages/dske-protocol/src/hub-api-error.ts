/**
 * HubApiError: every failure of a `HubApi` call. `status` is the HTTP status, or 0 when there was
 * no usable HTTP response (connection refused, timeout, invalid response signature, malformed
 * response body); then `code` says which.
 */
import { SignatureError } from "@dske/auth";
import { z } from "zod";
import { ErrorBodySchema } from "./errors.js";

/** Error codes of HubApiError when there is no usable HTTP response (status 0) or the body is bad. */
export type HubApiErrorCode =
  | "http" // an HTTP error status with a body (see status, message, details)
  | "network" // no response: connection refused/reset, DNS, ...
  | "timeout"
  | "signature" // the response signature did not verify, or the request could not be signed
  | "psrd_exhausted" // the caller's local pool cannot supply the request's signing key
  | "invalid_response"; // 2xx with a body that does not match the wire schema

export class HubApiError extends Error {
  override readonly name = "HubApiError";
  constructor(
    /** HTTP status, or 0 when there was no usable HTTP response. */
    readonly status: number,
    message: string,
    readonly details: unknown[] | undefined,
    readonly code: HubApiErrorCode,
    /**
     * The hub's response signature verified (an `invalid_response` of a signed call): the hub is
     * who it claims and knows us, only its body was unexpected. Callers must not re-register or
     * reset anything because of such an error (the PSRD of both sides is in step).
     */
    readonly authenticated = false,
  ) {
    super(message);
  }
}

/** A reference hub's (FastAPI) error body: `{detail}`, a text or a list of validation issues. */
const ReferenceErrorBodySchema = z.object({ detail: z.union([z.string(), z.array(z.unknown())]) });

/**
 * The HubApiError of an HTTP error status: the hub's `ErrorBody` message and details when the body
 * is one; a reference hub's `{detail}` text (or its validation issues as details) otherwise.
 */
export function httpError(status: number, body: Buffer): HubApiError {
  const decoded = decodeBody(body);
  const eb = ErrorBodySchema.safeParse(decoded);
  if (eb.success) return new HubApiError(status, eb.data.message, eb.data.details, "http");
  const ref = ReferenceErrorBodySchema.safeParse(decoded);
  const detail = ref.success ? ref.data.detail : undefined;
  if (typeof detail === "string") return new HubApiError(status, detail.slice(0, 500), undefined, "http");
  return new HubApiError(status, `hub answered HTTP ${status}`, detail, "http");
}

/** The HubApiError of an error response whose signature did not verify (kept for diagnosis, code "signature"). */
export function unauthenticatedError(status: number, body: Buffer, err: unknown): HubApiError {
  const eb = ErrorBodySchema.safeParse(decodeBody(body));
  return new HubApiError(
    status,
    `unauthenticated hub response (HTTP ${status})${eb.success ? `: ${eb.data.message}` : ""} [${(err as Error).message}]`,
    eb.success ? eb.data.details : undefined,
    "signature",
  );
}

/** A raw response body as JSON: `{}` when empty, the text itself when it is not JSON. */
export function decodeBody(data: Buffer): unknown {
  if (data.length === 0) return {};
  const text = data.toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Any error of a call → HubApiError: a HubApiError unchanged; a @dske/auth SignatureError → code
 * "psrd_exhausted" (the request could not be signed) or "signature"; anything else → "network".
 */
export function toHubApiError(err: unknown): HubApiError {
  if (err instanceof HubApiError) return err;
  if (isSignatureError(err)) {
    const exhausted = (err as { code?: unknown }).code === "psrd_exhausted";
    return new HubApiError(
      0,
      `${exhausted ? "cannot sign the request" : "response signature"}: ${(err as Error).message}`,
      signatureDetails(err),
      exhausted ? "psrd_exhausted" : "signature",
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new HubApiError(0, message, undefined, "network");
}

export function signatureDetails(err: unknown): unknown[] | undefined {
  const d = (err as { details?: unknown }).details;
  const code = (err as { code?: unknown }).code;
  return Array.isArray(d) ? [{ code }, ...d.map((x: unknown) => ({ reason: x }))] : undefined;
}

export function isSignatureError(err: unknown): boolean {
  return err instanceof SignatureError || (err instanceof Error && err.name === "SignatureError");
}
