/**
 * Route tables: one list per service of every HTTP operation (method, path, zod schemas of the
 * inputs and outputs, summary). The Express router registers its handlers FROM the table
 * (`routeHandlers`), and the OpenAPI document is generated from the same table (openapi.ts), so
 * the two cannot drift. No HTTP framework types leak into the table itself.
 */
import type { z } from "zod";

export type HttpMethod = "get" | "put" | "post" | "delete";

/** A zod schema with the name it gets under `components.schemas` in the OpenAPI document. */
export interface NamedSchema {
  readonly name: string;
  readonly schema: z.ZodType;
}

export function named(name: string, schema: z.ZodType): NamedSchema {
  return { name, schema };
}

export interface RouteResponse {
  readonly description: string;
  /** JSON body schema (validated output side). */
  readonly body?: NamedSchema;
  /** Non-JSON body: media type and a JSON Schema for it (e.g. text/plain for /metrics). */
  readonly media?: { readonly type: string; readonly schema: Record<string, unknown> };
}

/**
 * How a route authenticates its caller (documented as an OpenAPI security requirement / header).
 * `operator`: the management plane (operator token or operator certificate, see operator.ts);
 * registerRoute refuses such a route unless its first handler is an operator guard.
 */
/** OpenAPI tag of management routes (they must be `security: "operator"`). */
export const MANAGEMENT_TAG = "management";

export type RouteSecurity = "dske-signature" | "sae-authorization" | "operator" | "none";

export interface RouteSpec {
  /** Unique per document (a suffix is added when a table is mounted twice). */
  readonly operationId: string;
  readonly method: HttpMethod;
  /** Relative to the mount prefix, OpenAPI template syntax: `/{slave_SAE_ID}/enc_keys`. */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  /** Path parameters (names as in `path`). */
  readonly pathParams?: z.ZodObject;
  /** Query parameters (a flat object of scalars / arrays). */
  readonly query?: z.ZodObject;
  /** JSON request body. */
  readonly body?: NamedSchema & { readonly required?: boolean };
  /** Responses by HTTP status. */
  readonly responses: Readonly<Record<number, RouteResponse>>;
  readonly security?: RouteSecurity;
}

/** A mounted table: the prefix its paths are relative to. */
export interface MountedRoutes {
  readonly prefix: string;
  readonly routes: readonly RouteSpec[];
  /** Appended to every operationId (e.g. "_root" for the second mount of the ETSI table). */
  readonly operationIdSuffix?: string;
  /**
   * Served, but an alias of the mount at this prefix (same table): not a second operation in the
   * OpenAPI document; each operation of that mount names the alias path in its description.
   */
  readonly aliasOf?: string;
  /**
   * Infrastructure endpoints (openapi.json, docs, redoc, metrics, health): served, but not API
   * operations; the document lists them in its `info.description` instead.
   */
  readonly infrastructure?: boolean;
}

/** Every operation the mounts serve (aliases and infrastructure endpoints included), as `METHOD /path`. */
export function servedOperations(mounts: readonly MountedRoutes[]): string[] {
  return mounts.flatMap((m) => m.routes.map((r) => `${r.method.toUpperCase()} ${fullPath(m.prefix, r.path)}`)).sort();
}

/** `/{slave_SAE_ID}/enc_keys` → `/:slave_SAE_ID/enc_keys` (path-to-regexp syntax). */
export function expressPath(path: string): string {
  return path.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, ":$1");
}

/** The full path of a mounted route (OpenAPI template syntax). */
export function fullPath(prefix: string, path: string): string {
  const p = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  return p + path;
}
