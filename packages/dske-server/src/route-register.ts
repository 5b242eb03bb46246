/**
 * Register a route-table entry on an Express router: the path comes from the table (so router
 * and OpenAPI document cannot drift), `res.locals.dskeRoute` gets the operationId (the `route`
 * label of the HTTP metrics), and the final handler runs in the request's log context.
 *
 * Management routes cannot be left open by mistake: a route with `security: "operator"` must have
 * an operator guard (createOperatorGuard) as its first handler, and a route under `/mgmt/` or
 * tagged `management` must be marked `security: "operator"`; otherwise this throws when the
 * router is built.
 */
import type { NextFunction, Request, RequestHandler, Response, Router } from "express";
import { inRequestContext } from "./log.js";
import { isOperatorGuard } from "./operator.js";
import { MANAGEMENT_TAG, expressPath, fullPath, type RouteSpec } from "./route-table.js";

export function registerRoute(router: Router, prefix: string, spec: RouteSpec, ...handlers: RequestHandler[]): void {
  if (handlers.length === 0) throw new Error(`route ${spec.operationId} has no handler`);
  const full = fullPath(prefix, spec.path);
  if (spec.security === "operator" && !isOperatorGuard(handlers[0])) {
    throw new Error(`route ${spec.operationId} (security: operator) needs an operator guard (createOperatorGuard) as its first handler`);
  }
  if ((spec.path.startsWith("/mgmt/") || spec.tags.includes(MANAGEMENT_TAG)) && spec.security !== "operator") {
    throw new Error(`route ${spec.operationId} (${full}) is a management route: mark it security: "operator" in its route table`);
  }
  const tag = (_req: Request, res: Response, next: NextFunction): void => {
    res.locals.dskeRoute = spec.operationId;
    next();
  };
  const last = handlers[handlers.length - 1];
  const chain = [tag, ...handlers.slice(0, -1), inRequestContext(last)];
  router[spec.method](expressPath(full), ...chain);
}

/** One route registered on an Express router (path in OpenAPI template syntax). */
export interface RegisteredRoute {
  method: string;
  path: string;
}

// why: express 5 (router 2) keeps its layers untyped; only these fields are read.
interface LayerLike {
  route?: { path: unknown; methods?: Record<string, boolean> };
  handle?: { stack?: unknown };
  rawPath?: unknown;
}

/**
 * Every route registered on an Express router, nested routers included (their mount paths
 * prefixed): for tests that compare a router with its OpenAPI document. Middleware mounts
 * (`router.use(path, fn)`) are not routes and are not listed.
 */
export function listRouterRoutes(router: { stack?: unknown }, prefix = ""): RegisteredRoute[] {
  const out: RegisteredRoute[] = [];
  const stack = Array.isArray(router.stack) ? (router.stack as LayerLike[]) : [];
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const p of paths) {
        if (typeof p !== "string") continue;
        for (const [method, on] of Object.entries(layer.route.methods ?? {})) {
          if (on && method !== "_all") out.push({ method, path: toTemplate(prefix + p) });
        }
      }
    } else if (layer.handle && Array.isArray(layer.handle.stack)) {
      const raw = layer.rawPath;
      const mounts = Array.isArray(raw) ? raw : [raw];
      for (const m of mounts) {
        if (typeof m !== "string") continue;
        out.push(...listRouterRoutes(layer.handle, prefix + (m === "/" ? "" : m)));
      }
    }
  }
  return out;
}

function toTemplate(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");
}
