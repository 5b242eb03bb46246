/**
 * Structured logs (pino) for hub and client nodes, with request and trace IDs per HTTP request.
 *
 * - `createNodeLogger` gives a pino logger whose lines carry `kind` and `node`, an ISO time and,
 *   while a request is being served, its `req_id` and `trace_id` (taken from the AsyncLocalStorage
 *   context of @dske/protocol's trace-context.ts, so domain code that only got a `(line) => void`
 *   callback still logs them).
 * - `requestIdMiddleware` accepts a well-formed incoming `X-Request-ID` (else generates a UUID)
 *   and `traceparent` (else starts a new trace), returns the request ID in the response header,
 *   runs the rest of the request in the context and writes one line per finished request
 *   (`requestLine`: method, path without query, status, duration; routine polling at debug).
 *   Never bodies, never query strings (they may carry key IDs only, but bodies may carry shares).
 *
 * One message format for hub and client: `{"level","time","kind","node","req_id","trace_id",
 * ...facts as fields...,"msg"}` with a short `msg`. Rule for every log line in dske: names, IDs,
 * sizes, counts, statuses; never key, share or PSRD bytes.
 */
import { randomUUID } from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { pino, type DestinationStream, type Level, type Logger as PinoLogger } from "pino";
import { requestContext, traceFor, TRACEPARENT_HEADER, type RequestContext } from "@dske/protocol";

export type { PinoLogger, RequestContext };
export { requestContext, currentRequestId } from "@dske/protocol";

export const REQUEST_ID_HEADER = "X-Request-ID";

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** An incoming X-Request-ID is reused only if it is 1..128 chars of `[A-Za-z0-9._:-]` (no log injection). */
export function acceptableRequestId(value: unknown): value is string {
  return typeof value === "string" && REQUEST_ID_RE.test(value);
}

export interface NodeLoggerOptions {
  kind: "hub" | "client";
  name: string;
  /** Minimum level (default "info", or env DSKE_LOG_LEVEL). */
  level?: Level | "silent";
  /**
   * Where lines go. Default: info and below on stdout, warn and above on stderr (as the console
   * loggers did before; the CLI sends both to the node's log file), written asynchronously and
   * flushed on exit.
   */
  destination?: DestinationStream;
}

/** A pino logger for one node: JSON lines with time, level (name), kind, node and req_id. */
export function createNodeLogger(options: NodeLoggerOptions): PinoLogger {
  const envLevel = process.env.DSKE_LOG_LEVEL;
  const level = options.level ?? (envLevel && isLevel(envLevel) ? envLevel : "info");
  return pino(
    {
      level,
      base: { kind: options.kind, node: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: () => {
        const ctx = requestContext.getStore();
        return ctx ? { req_id: ctx.reqId, trace_id: ctx.traceId } : {};
      },
    },
    options.destination ?? stdStreams(),
  );
}

/**
 * info/debug → fd 1, warn/error/fatal → fd 2 (each line written once). Asynchronous writes
 * (sonic-boom): lines logged while a write is in flight go out together, instead of one blocking
 * write(2) per line on the request path; pino flushes them synchronously on exit.
 */
function stdStreams(): DestinationStream {
  return pino.multistream(
    [
      { level: "trace", stream: pino.destination({ dest: 1, sync: false }) },
      { level: "warn", stream: pino.destination({ dest: 2, sync: false }) },
    ],
    { dedupe: true },
  );
}

function isLevel(s: string): s is Level | "silent" {
  return ["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(s);
}

/** Fields of every line (the node and request context): left out of a lineLogger line. */
const CONTEXT_FIELDS = new Set(["level", "time", "kind", "node", "req_id", "trace_id", "msg", "pid", "hostname"]);

/** ` key=value` for each fact field of a parsed line (strings bare unless they hold spaces or quotes). */
function factText(o: Record<string, unknown>): string {
  let out = "";
  for (const [k, v] of Object.entries(o)) {
    if (CONTEXT_FIELDS.has(k) || v === undefined) continue;
    out += ` ${k}=${typeof v === "string" && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`;
  }
  return out;
}

/**
 * A pino logger that hands each line to `sink` as plain text (no JSON): the message followed by its
 * fact fields as `key=value` (`client registered client=alice scheme=gf128`); a request line as
 * `METHOD /path STATUS 1.2ms`. For callers that want simple lines (tests, the legacy `log` option
 * of startHubServer).
 */
export function lineLogger(sink: (line: string) => void, options: Omit<NodeLoggerOptions, "destination">): PinoLogger {
  const destination: DestinationStream = {
    write(chunk: string) {
      try {
        const o = JSON.parse(chunk) as Record<string, unknown>;
        // A request line (requestLine) as `METHOD /path STATUS 1.2ms`; every other line its message.
        if (o.msg === "request" && typeof o.method === "string" && typeof o.duration_ms === "number") {
          sink(`${o.method} ${String(o.path)} ${String(o.status)} ${o.duration_ms.toFixed(1)}ms`);
        } else if (typeof o.msg === "string") sink(o.msg + factText(o));
      } catch {
        sink(chunk.trimEnd());
      }
    },
  };
  return createNodeLogger({ ...options, destination });
}

/** A logger that drops everything. */
export function silentPino(): PinoLogger {
  return pino({ level: "silent" });
}

export interface RequestIdOptions {
  /** Where the per-request line goes; omit for no request lines (the IDs are still assigned). */
  logger?: PinoLogger;
  /** Extra fields for the request line (e.g. the calling SAE). */
  fields?: (req: Request, res: Response) => Record<string, unknown>;
}

/**
 * Routine polling: a successful GET of a management route (`.../mgmt/...`), `/metrics` or
 * `/health`, as `dske-cli status` and the dashboard send every second. Logged at debug.
 */
export function isRoutinePoll(method: string, path: string, status: number): boolean {
  if (method !== "GET" && method !== "HEAD") return false;
  if (status >= 400) return false;
  return path.includes("/mgmt/") || /\/(metrics|health)$/.test(path);
}

/** The one request line of hub and client: level (debug for routine polling), fields, message. */
export function requestLine(
  req: Request,
  res: Response,
  startedNs: bigint,
  extra: Record<string, unknown> = {},
): { level: "info" | "debug"; fields: Record<string, unknown>; msg: string } {
  const ms = Number(process.hrtime.bigint() - startedNs) / 1e6;
  const path = req.originalUrl.split("?")[0];
  const ctx = res.locals.requestContext as RequestContext | undefined;
  return {
    level: isRoutinePoll(req.method, path, res.statusCode) ? "debug" : "info",
    fields: {
      req_id: ctx?.reqId ?? res.locals.requestId,
      trace_id: ctx?.traceId,
      method: req.method,
      path,
      status: res.statusCode,
      duration_ms: Math.round(ms * 10) / 10,
      ...extra,
    },
    msg: "request",
  };
}

/**
 * Assign a request ID (incoming X-Request-ID if acceptable, else a UUID) and a trace (incoming
 * `traceparent` if valid, else a new trace), set the request ID on the response, expose them as
 * `res.locals.requestId` / `res.locals.requestContext`, run the rest of the chain in the request
 * context and log one line when the response is finished.
 */
export function requestIdMiddleware(options: RequestIdOptions = {}): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (typeof res.locals.requestId === "string") {
      // An outer middleware (e.g. the standalone server's) already assigned the ID and logs the line.
      next();
      return;
    }
    const incoming = req.get(REQUEST_ID_HEADER);
    const reqId = acceptableRequestId(incoming) ? incoming : randomUUID();
    res.setHeader(REQUEST_ID_HEADER, reqId);
    res.locals.requestId = reqId;
    const ctx: RequestContext = { reqId, ...traceFor(req.get(TRACEPARENT_HEADER)) };
    res.locals.requestContext = ctx;
    const logger = options.logger;
    if (logger) {
      const start = process.hrtime.bigint();
      res.on("finish", () => {
        const line = requestLine(req, res, start, options.fields?.(req, res));
        logger[line.level](line.fields, line.msg);
      });
    }
    requestContext.run(ctx, next);
  };
}

/**
 * Wrap a handler so that it runs in the request context set by requestIdMiddleware (body parsers
 * call `next` from stream callbacks, which loses the AsyncLocalStorage context).
 */
export function inRequestContext(handler: RequestHandler): RequestHandler {
  return (req, res, next) => {
    const ctx = res.locals.requestContext as RequestContext | undefined;
    if (!ctx) return handler(req, res, next);
    return requestContext.run(ctx, () => handler(req, res, next));
  };
}
