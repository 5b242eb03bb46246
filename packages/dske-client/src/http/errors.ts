/**
 * Domain errors over HTTP: the ETSI GS QKD 014 status of each KmeError kind, the ETSI error body
 * `{message, details?}`, and the error handler of the client's routers.
 */
import type { NextFunction, Request, Response } from "express";
import type { NodeMetrics } from "@dske/server";
import { KmeError, type KmeErrorDetail, type KmeErrorKind } from "../errors.js";
import type { Logger } from "../logger.js";
import { ETSI_UNAUTHORIZED_REASON } from "../client-metrics.js";

/** HTTP statuses the client answers domain errors with. */
export type KmeHttpStatus = 400 | 401 | 404 | 503;

export const STATUS_OF_KIND: Readonly<Record<KmeErrorKind, KmeHttpStatus>> = {
  "invalid-request": 400,
  // ETSI clause 5.4: keys not found are a 400.
  "unknown-key": 400,
  unauthorized: 401,
  "not-found": 404,
  unavailable: 503,
};

export function httpStatusOf(err: KmeError): KmeHttpStatus {
  return STATUS_OF_KIND[err.kind];
}

/** The ETSI 014 error body. */
export function etsiErrorBody(err: KmeError): { message: string; details?: KmeErrorDetail[] } {
  return err.details && err.details.length > 0 ? { message: err.message, details: err.details } : { message: err.message };
}

/** Express error handler: domain errors with their status and ETSI body; body-parser errors; the rest 503. */
export function errorHandler(logger: Logger, node: NodeMetrics | undefined) {
  return (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof KmeError) {
      if (err.kind === "unauthorized") node?.authFailure(ETSI_UNAUTHORIZED_REASON);
      res.status(httpStatusOf(err)).json(etsiErrorBody(err));
      return;
    }
    const e = err as { type?: string; status?: number; message?: string; limit?: number } | null | undefined;
    if (e?.type === "entity.too.large") {
      res.status(413).json({ message: "request body too large", details: [{ limit_bytes: e.limit }] });
      return;
    }
    if (typeof e?.status === "number" && e.status >= 400 && e.status < 500) {
      res.status(400).json({ message: `bad request format: ${e.message ?? "invalid request"}` });
      return;
    }
    logger.error("internal error", {
      err: err instanceof Error ? err.message : String(err),
      ...(err instanceof Error && err.stack ? { stack: err.stack } : {}),
    });
    res.status(503).json({ message: "error on server side", details: [{ error: err instanceof Error ? err.message : String(err) }] });
  };
}
