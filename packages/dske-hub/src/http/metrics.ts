/**
 * The hub's own Prometheus metrics, on top of @dske/server's NodeMetrics (one registry per node):
 * pools per client, shares stored / received / released. Labels come only from registered client
 * names (anything else is `other`).
 */
import { Counter, Gauge } from "prom-client";
import type { SignatureErrorCode } from "@dske/auth";
import { boundedLabel, type NodeMetrics } from "@dske/server";
import { version as HUB_VERSION } from "../../package.json";
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

/**
 * The reasons a hub counts in dske_auth_failures_total besides the common ones: the DSKE-Signature
 * codes of a refused request (401), the two refusals before a signature is checked (the reason is
 * `<code>_<status>`: 413 body too large, 400 unreadable body), and the hub's own refusals
 * (`hub_unauthorized`: 401 without a proof of identity; `hub_forbidden`: 403, e.g. a client not in
 * the acceptance policy or an SAE that is not the client's encryptor).
 */
export const HUB_AUTH_FAILURE_REASONS = [
  "missing_signature",
  "malformed_signature",
  "bad_base64",
  "bad_tag_length",
  "bad_allocation",
  "too_many_fragments",
  "psrd_unavailable",
  "bad_tag",
  "unknown_peer",
  "body_too_large_413",
  "bad_message_400",
  "hub_unauthorized",
  "hub_forbidden",
] as const satisfies readonly (SignatureErrorCode | `${SignatureErrorCode}_${number}` | `hub_${string}`)[];

export function registerHubMetrics(node: NodeMetrics, hub: Hub): HubMetrics {
  const registers = [node.registry];
  node.setVersion(HUB_VERSION);
  node.declareAuthFailureReasons(HUB_AUTH_FAILURE_REASONS);
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
