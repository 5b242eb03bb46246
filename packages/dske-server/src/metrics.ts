/**
 * Prometheus metrics (prom-client) for one node, in its own Registry (never the global one), so
 * that several hubs and clients can live in one process.
 *
 * Common to every node: HTTP request counts and latency per route (operationId from the route
 * table, `unmatched` otherwise), method and status; authentication failures by reason; PSRD bytes
 * per peer and pool (gauges filled at scrape time from the node's status). Hub- and client-specific
 * metrics are added by @dske/hub (`src/http/metrics.ts`) and @dske/client (`client-metrics.ts`).
 *
 * Label hygiene: label values come only from configured names (registered clients, hub names, a
 * client's encryptors and its KME directory) or fixed sets (routes, methods, statuses, reasons);
 * anything else is counted under the one value `other` (OTHER_LABEL). So unauthenticated callers
 * and made-up names cannot create new series (the registry stays bounded).
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface NodeMetricsOptions {
  kind: "hub" | "client";
  name: string;
  /** Also collect prom-client's process metrics (CPU, memory, event loop) — once per process, for standalone servers. */
  processMetrics?: boolean;
}

/** One PSRD pool's byte counts, as in the status documents. */
export interface PoolBytes {
  size: number;
  used: number;
  available: number;
}

export const UNMATCHED_ROUTE = "unmatched";

/** The one label value for every name that is not configured (see "Label hygiene" above). */
export const OTHER_LABEL = "other";

/** `value` when `known(value)`, else OTHER_LABEL. */
export function boundedLabel(value: string, known: (value: string) => boolean): string {
  return known(value) ? value : OTHER_LABEL;
}

/** HTTP methods that get their own label value (Node's parser accepts a few dozen more). */
const METHOD_LABELS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

export class NodeMetrics {
  readonly registry: Registry;
  readonly kind: "hub" | "client";
  readonly name: string;
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly authFailures: Counter<"reason">;
  private readonly psrdSources: Array<() => Iterable<{ peer: string; pool: string; bytes: PoolBytes }>> = [];
  private readonly scrapeHooks: Array<() => void> = [];

  constructor(options: NodeMetricsOptions) {
    this.kind = options.kind;
    this.name = options.name;
    this.registry = new Registry();
    this.registry.setDefaultLabels({ node: options.name, kind: options.kind });
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: "dske_http_requests_total",
      help: "HTTP requests served, by route (operationId), method and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.httpDuration = new Histogram({
      name: "dske_http_request_duration_seconds",
      help: "HTTP request latency (until the response is finished), by route, method and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.authFailures = new Counter({
      name: "dske_auth_failures_total",
      help: "Refused authentications (DSKE-Signature on hubs, SAE identity on clients), by reason",
      labelNames: ["reason"],
      registers,
    });
    const sources = this.psrdSources;
    const gauge = (name: string, help: string, field: keyof PoolBytes) =>
      new Gauge({
        name,
        help,
        labelNames: ["peer", "pool"],
        registers,
        collect() {
          this.reset();
          for (const source of sources) {
            for (const { peer, pool, bytes } of source()) this.set({ peer, pool }, bytes[field]);
          }
        },
      });
    gauge("dske_psrd_available_bytes", "PSRD bytes still available, per peer and pool (client_owned | hub_owned)", "available");
    gauge("dske_psrd_consumed_bytes", "PSRD bytes consumed (used once, zeroed), per peer and pool", "used");
    gauge("dske_psrd_delivered_bytes", "PSRD bytes delivered into the pool in total, per peer and pool", "size");
  }

  /** Add a source of PSRD pool figures, read at every scrape. */
  addPsrdSource(source: () => Iterable<{ peer: string; pool: string; bytes: PoolBytes }>): void {
    this.psrdSources.push(source);
  }

  /** Run `hook` at the start of every scrape through `text()` (e.g. to drop a status snapshot). */
  onScrape(hook: () => void): void {
    this.scrapeHooks.push(hook);
  }

  /** The Prometheus text exposition of this node's registry (what `/metrics` serves). */
  async text(): Promise<{ contentType: string; body: string }> {
    for (const hook of this.scrapeHooks) hook();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /**
   * Express middleware counting and timing every request it sees. The route label is
   * `res.locals.dskeRoute` (set by the route-table handlers) or `unmatched`.
   */
  httpMiddleware(): RequestHandler {
    return (req: Request, res: Response, next: NextFunction): void => {
      if (res.locals.dskeTimed === true) {
        next(); // an outer middleware of the same node already counts this request
        return;
      }
      res.locals.dskeTimed = true;
      const end = this.httpDuration.startTimer();
      res.on("finish", () => {
        const route = typeof res.locals.dskeRoute === "string" ? res.locals.dskeRoute : UNMATCHED_ROUTE;
        const labels = { method: boundedLabel(req.method, (m) => METHOD_LABELS.has(m)), route, status: String(res.statusCode) };
        this.httpRequests.inc(labels);
        end(labels);
      });
      next();
    };
  }

  /** Count one refused authentication. */
  authFailure(reason: string): void {
    this.authFailures.inc({ reason });
  }
}
