/**
 * Prometheus metrics (prom-client) for one node, in its own Registry (never the global one), so
 * that several hubs and clients can live in one process.
 *
 * Common to every node: `dske_build_info{version,kind}` (always 1); HTTP request counts and
 * latency per route (operationId from the route table, `unmatched` otherwise), method and status;
 * authentication failures by reason; PSRD bytes per peer and pool (filled at scrape time from the
 * node's status: available bytes as a gauge, consumed and delivered bytes as counters). Hub- and
 * client-specific metrics are added by @dske/hub (`src/http/metrics.ts`) and @dske/client
 * (`client-metrics.ts`).
 *
 * No constant labels: the node's name and kind are what Prometheus's `job`/`instance` target
 * labels say already (one scrape target per node); `kind` is on dske_build_info for joins.
 *
 * Label hygiene: label values come only from configured names (registered clients, hub names, a
 * client's encryptors and its KME directory) or fixed sets (routes, methods, statuses, reasons);
 * anything else is counted under the one value `other` (OTHER_LABEL). Requests refused as
 * unauthenticated (401/403) are counted only in dske_auth_failures_total, whose series (every
 * known reason and `other`) all exist from the start: an unauthenticated caller adds no series.
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { version as SERVER_VERSION } from "../package.json";

export interface NodeMetricsOptions {
  kind: "hub" | "client";
  name: string;
  /** The node's software version for dske_build_info (default: the version of @dske/server). */
  version?: string;
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

/** Reasons of refused authentications counted by every node (operator guard, cross-site guard). */
export const AUTH_FAILURE_REASONS: readonly string[] = [
  "operator_disabled",
  "operator_credential_missing",
  "operator_token_refused",
  "operator_certificate_refused",
  "cross_site",
];

/** Statuses of requests refused as unauthenticated: counted in dske_auth_failures_total only. */
const UNAUTHENTICATED_STATUSES: ReadonlySet<number> = new Set([401, 403]);

/** prom-client default metrics that are gauges with a `_total` suffix (left out). */
const NON_COUNTER_TOTALS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

/** HTTP methods that get their own label value (Node's parser accepts a few dozen more). */
const METHOD_LABELS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

export class NodeMetrics {
  readonly registry: Registry;
  readonly kind: "hub" | "client";
  readonly name: string;
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly authFailures: Counter<"reason">;
  private readonly authReasons: Set<string>;
  private readonly buildInfo: Gauge<"version" | "kind">;
  private readonly psrdSources: Array<() => Iterable<{ peer: string; pool: string; bytes: PoolBytes }>> = [];
  private readonly scrapeHooks: Array<() => void> = [];

  constructor(options: NodeMetricsOptions) {
    this.kind = options.kind;
    this.name = options.name;
    this.registry = new Registry();
    if (options.processMetrics) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters (promtool check metrics refuses them); the per-type gauges
      // nodejs_active_{handles,requests,resources}{type} stay, and sum() gives the totals.
      for (const name of NON_COUNTER_TOTALS) this.registry.removeSingleMetric(name);
    }
    const registers = [this.registry];
    this.buildInfo = new Gauge({
      name: "dske_build_info",
      help: "Always 1; the labels name the node's software version and kind (hub or client)",
      labelNames: ["version", "kind"],
      registers,
    });
    this.setVersion(options.version ?? SERVER_VERSION);
    this.httpRequests = new Counter({
      name: "dske_http_requests_total",
      help: "HTTP requests answered, by route (operationId), method and status; refusals with 401/403 are in dske_auth_failures_total instead",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.httpDuration = new Histogram({
      name: "dske_http_request_duration_seconds",
      help: "HTTP request latency (until the response is finished), by route, method and status (not for 401/403 refusals)",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.authFailures = new Counter({
      name: "dske_auth_failures_total",
      help: "Requests refused (401/403) for want of a valid identity or permission (operator credential, cross-site Origin, DSKE-Signature or policy on hubs, SAE identity on clients), by reason (unlisted reasons: other)",
      labelNames: ["reason"],
      registers,
    });
    this.authReasons = new Set();
    this.declareAuthFailureReasons([...AUTH_FAILURE_REASONS, OTHER_LABEL]);
    const sources = this.psrdSources;
    const each = (field: keyof PoolBytes, set: (labels: { peer: string; pool: string }, value: number) => void) => {
      for (const source of sources) {
        for (const { peer, pool, bytes } of source()) set({ peer, pool }, bytes[field]);
      }
    };
    new Gauge({
      name: "dske_psrd_available_bytes",
      help: "PSRD bytes still available, per peer and pool (client_owned | hub_owned)",
      labelNames: ["peer", "pool"],
      registers,
      collect() {
        this.reset();
        each("available", (labels, value) => this.set(labels, value));
      },
    });
    // Monotone totals read from the pools at scrape time: counters (reset() then inc() sets the
    // total; a pool reset or a restart is a counter reset, as Prometheus expects).
    const total = (name: string, help: string, field: keyof PoolBytes) =>
      new Counter({
        name,
        help,
        labelNames: ["peer", "pool"],
        registers,
        collect() {
          this.reset();
          each(field, (labels, value) => this.inc(labels, value));
        },
      });
    total(
      "dske_psrd_consumed_bytes_total",
      "PSRD bytes consumed (used once, then zeroed) from the pool since it was created, per peer and pool",
      "used",
    );
    total("dske_psrd_delivered_bytes_total", "PSRD bytes delivered into the pool since it was created, per peer and pool", "size");
  }

  /** The version label of dske_build_info (the hub and client packages set their own). */
  setVersion(version: string): void {
    this.buildInfo.reset();
    this.buildInfo.set({ version, kind: this.kind }, 1);
  }

  /** Further reasons of refused authentications this node counts: their series exist (at 0) from now on. */
  declareAuthFailureReasons(reasons: Iterable<string>): void {
    for (const reason of reasons) {
      this.authReasons.add(reason);
      this.authFailures.inc({ reason }, 0);
    }
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
        if (UNAUTHENTICATED_STATUSES.has(res.statusCode)) return; // counted by reason in dske_auth_failures_total
        const route = typeof res.locals.dskeRoute === "string" ? res.locals.dskeRoute : UNMATCHED_ROUTE;
        const labels = { method: boundedLabel(req.method, (m) => METHOD_LABELS.has(m)), route, status: String(res.statusCode) };
        this.httpRequests.inc(labels);
        end(labels);
      });
      next();
    };
  }

  /** Count one refused authentication (a reason this node did not declare counts as `other`). */
  authFailure(reason: string): void {
    this.authFailures.inc({ reason: boundedLabel(reason, (r) => this.authReasons.has(r)) });
  }
}
