/**
 * HTTP side of the hub's errors: HubError kinds → statuses, body-parser and other request errors
 * → 4xx, anything else → 500, always with the body `{message, details?}`; and zod validation of
 * inputs into `bad_request` HubErrors. The domain (../errors.ts) knows only the kinds.
 */
import type { Response } from "express";
import type { z } from "zod";
import type { ErrorBody } from "@dske/protocol";
import { HubError, type HubErrorKind } from "../errors.js";

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

/** zod-validate an input; failure → HubError 400 with the issues as details. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const details = r.error.issues.map((i) => ({
    path: i.path.map(String).join("."),
    code: i.code,
    message: i.message,
  }));
  const first = details[0];
  throw new HubError(
    "bad_request",
    `invalid ${what}: ${first.path ? `${first.path}: ` : ""}${first.message}${details.length > 1 ? ` (and ${details.length - 1} more)` : ""}`,
    details,
  );
}

/** The status and body of an error thrown while serving a hub route. */
export function mapError(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof HubError) {
    const body: ErrorBody = { message: err.message };
    if (err.details) body.details = err.details;
    return { status: HUB_ERROR_STATUS[err.kind], body };
  }
  // body-parser errors (express.json): they carry `type` and `status`.
  const e = err as { type?: unknown; status?: unknown; statusCode?: unknown; limit?: unknown } | null;
  if (e && typeof e === "object" && typeof e.type === "string") {
    if (e.type === "entity.too.large") {
      return { status: 413, body: { message: "request body too large", details: [{ limit: e.limit }] } };
    }
    if (e.type === "entity.parse.failed") {
      return { status: 400, body: { message: "request body is not valid JSON", details: [{ reason: "malformed JSON" }] } };
    }
    const status = typeof e.status === "number" && e.status >= 400 && e.status < 500 ? e.status : 400;
    return { status, body: { message: `bad request body (${e.type})`, details: [{ type: e.type }] } };
  }
  // Other client errors raised while reading the request (e.g. a body that fails to decompress
  // under its Content-Encoding: body-parser passes the zlib error on with status 400 and no type).
  const clientStatus = e && typeof e === "object" ? (typeof e.status === "number" ? e.status : e.statusCode) : undefined;
  if (typeof clientStatus === "number" && clientStatus >= 400 && clientStatus < 500) {
    return { status: clientStatus, body: { message: "bad request: the request could not be read", details: [{ status: clientStatus }] } };
  }
  return { status: 500, body: { message: "internal error in the hub" } };
}

export function sendError(res: Response, status: number, body: ErrorBody): void {
  res.status(status).json(body);
}
