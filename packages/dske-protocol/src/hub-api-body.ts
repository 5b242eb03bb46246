/**
 * How HubApi reads a response body: decode, validate against the wire schema. After a verified
 * response signature the hub is authenticated and both sides' pools moved in step, so a body
 * that does not match is either tolerated (calls whose answer carries nothing the caller needs,
 * e.g. the share posts: `onUnexpectedResponse` is told its shape, never its values) or an
 * `invalid_response` marked `authenticated` (never a reason to register again).
 */
import type { z } from "zod";
import { HubApiError, decodeBody } from "./hub-api-error.js";

/**
 * A signed 2xx response whose signature verified but whose body did not match the wire schema,
 * for a call that succeeds anyway (`HubApiOptions.onUnexpectedResponse`). Only the shape of the
 * body is given, never its values.
 */
export interface UnexpectedResponse {
  readonly baseUrl: string;
  readonly method: string;
  /** Path relative to the base URL, e.g. `/dske/api/v1/key-share`. */
  readonly path: string;
  readonly status: number;
  /** The body's shape: `null`, `string`, `array`, `object with keys a, b`, ... */
  readonly received: string;
  /** What the call made of it, e.g. "share counted as stored". */
  readonly outcome: string;
}

/** A call's result when its verified body is unexpected, and what that means for the caller. */
export interface Tolerated<T> {
  readonly value: T;
  readonly outcome: string;
}

/** An unsigned answer's body, validated (HubApiError `invalid_response` when it does not match). */
export function validate<S extends z.ZodType>(schema: S, body: Buffer, method: string, path: string): z.output<S> {
  const parsed = schema.safeParse(decodeBody(body));
  if (!parsed.success) {
    throw new HubApiError(0, `invalid response from hub for ${method} ${path}`, parsed.error.issues, "invalid_response");
  }
  return parsed.data;
}

/** A verified answer's body: validated; else tolerated (and reported), else `invalid_response` marked authenticated. */
export function readVerified<S extends z.ZodType>(
  schema: S,
  call: Omit<UnexpectedResponse, "received" | "outcome">,
  body: Buffer,
  tolerated: Tolerated<z.output<S>> | undefined,
  report: ((event: UnexpectedResponse) => void) | undefined,
): z.output<S> {
  const decoded = decodeBody(body);
  const parsed = schema.safeParse(decoded);
  if (parsed.success) return parsed.data;
  if (tolerated !== undefined) {
    report?.({ ...call, received: shapeOf(decoded), outcome: tolerated.outcome });
    return tolerated.value;
  }
  throw new HubApiError(0, `invalid response from hub for ${call.method} ${call.path}`, parsed.error.issues, "invalid_response", true);
}

/** The shape of a decoded body, for diagnostics without values: `null`, `string`, `array`, `object with keys a, b`. */
function shapeOf(body: unknown): string {
  if (body === null) return "null";
  if (Array.isArray(body)) return "array";
  if (typeof body !== "object") return typeof body;
  const keys = Object.keys(body);
  const shown = keys.slice(0, 8).map((k) => JSON.stringify(k.slice(0, 64)));
  return keys.length === 0 ? "empty object" : `object with keys ${shown.join(", ")}${keys.length > 8 ? ", ..." : ""}`;
}
