/**
 * The hub's own Prometheus metrics, on top of @dske/server's NodeMetrics (one registry per node):
 * pools per client, shares stored / received / released. Labels come only from registered client
 * names (anything else is `other`).
 */
import { Counter, Gauge } from "prom-client";
import { boundedLabel, type NodeMetrics } from "@dske/server";
import type { Hub } from "../hub.js";

/** Hub-specific metrics: pools per client, shares stored / received / released. */
export interface HubMetrics {
  readonly node: NodeMetrics;
  /** Label with `client = clientLabel(name)`. */
  readonly sharesReceived: Counter<"client">;
  readonly sharesReleased: Counter<"client">;
  /** `name` if it is a client registered at the hub, else `other`. */
  clientLabel(name: string): string;
}

export function registerHubMetrics(node: NodeMetrics, hub: Hub): HubMetrics {
  const registers = [node.registry];
  // One status snapshot serves all gauges of a scrape (dropped at the start of each scrape; the
  // 100 ms age limit covers scrapes that call registry.metrics() directly).
  let cache: { at: number; status: ReturnType<Hub["status"]> } | undefined;
  node.onScrape(() => (cache = undefined));
  const status = () => {
    const now = Date.now();
    if (!cache || now - cache.at > 100) cache = { at: now, status: hub.status() };
    return cache.status;
  };
  node.addPsrdSource(function* () {
    for (const c of status().peer_clients) {
      yield { peer: c.client_name, pool: "client_owned", bytes: c.pools.client_owned };
      yield { peer: c.client_name, pool: "hub_owned", bytes: c.pools.hub_owned };
    }
  });
  new Gauge({
    name: "dske_hub_shares_stored",
    help: "Key shares held by the hub (not yet fetched by every intended responder, not expired)",
    registers,
    collect() {
      this.set(status().shares.length);
    },
  });
  new Gauge({
    name: "dske_hub_registered_clients",
    help: "Clients registered with the hub",
    registers,
    collect() {
      this.set(status().peer_clients.length);
    },
  });
  return {
    node,
    clientLabel: (name) => boundedLabel(name, (n) => hub.client(n) !== undefined),
    sharesReceived: new Counter({
      name: "dske_hub_shares_received_total",
      help: "Key shares received and stored, by master client",
      labelNames: ["client"],
      registers,
    }),
    sharesReleased: new Counter({
      name: "dske_hub_shares_released_total",
      help: "Key shares released (re-encrypted) to a responder client, by that client",
      labelNames: ["client"],
      registers,
    }),
  };
}
