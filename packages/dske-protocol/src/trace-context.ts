/**
 * The request and trace context of the work a node is doing (W3C Trace Context, `traceparent`).
 *
 * - A node serving a request runs it in `requestContext` (AsyncLocalStorage): its request ID
 *   (`X-Request-ID`) and its trace: the trace ID of the caller's `traceparent` header when it is
 *   well formed, else a new one, and a span ID of its own.
 * - Every call a node makes while serving it (HubApi: a client's share posts and fetches to its
 *   hubs) carries `traceparent: 00-TRACE-SPAN-01` with the same trace ID and a new span ID, so the
 *   hubs log the trace ID of the ETSI request that caused the call: one key can be followed across
 *   nodes with `jq 'select(.trace_id == "...")'`.
 *
 * Trace and span IDs are random; they carry no key, share or PSRD byte.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";

/** The W3C trace context header. */
export const TRACEPARENT_HEADER = "traceparent";

/** Context of the request being served. */
export interface RequestContext {
  readonly reqId: string;
  /** 32 lowercase hex digits (W3C trace-id). */
  readonly traceId: string;
  /** 16 lowercase hex digits: this node's span of the trace (W3C parent-id of its own calls). */
  readonly spanId: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

/** The request ID of the request being served, or undefined outside of one. */
export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.reqId;
}

/** The trace ID of the request being served, or undefined outside of one. */
export function currentTraceId(): string | undefined {
  return requestContext.getStore()?.traceId;
}

const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
/** A traceparent of version 00 has nothing after the flags (later versions may append fields). */
const V00_RE = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/**
 * The trace ID and parent span of a `traceparent` header, or undefined when it is absent or not
 * valid (W3C: version not ff, trace-id and parent-id not all zeros; version 00 has no suffix).
 */
export function parseTraceparent(value: unknown): { traceId: string; parentId: string } | undefined {
  if (typeof value !== "string" || value.length > 512) return undefined;
  const m = TRACEPARENT_RE.exec(value.trim());
  if (m === null) return undefined;
  const [, version, traceId, parentId] = m;
  if (version === "ff" || (version === "00" && !V00_RE.test(value.trim()))) return undefined;
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined;
  return { traceId, parentId };
}

export function newTraceId(): string {
  return randomBytes(16).toString("hex");
}

export function newSpanId(): string {
  return randomBytes(8).toString("hex");
}

/** The context for a request with this incoming `traceparent` (continue its trace, else a new one). */
export function traceFor(incoming: unknown): { traceId: string; spanId: string } {
  return { traceId: parseTraceparent(incoming)?.traceId ?? newTraceId(), spanId: newSpanId() };
}

/** `traceparent` for an outgoing call made while serving a request (undefined outside of one). */
export function outgoingTraceparent(): string | undefined {
  const ctx = requestContext.getStore();
  return ctx === undefined ? undefined : `00-${ctx.traceId}-${ctx.spanId}-01`;
}
