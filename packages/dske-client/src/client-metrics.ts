/**
 * Client-specific Prometheus metrics on top of @dske/server's NodeMetrics (per-node registry):
 * keys established (master's KME, enc_keys), delivered to slaves (slave's KME, dec_keys) and
 * failed, per SAE pair (counted by the ETSI route layer), PSRD bytes
 * per hub and pool, registration state, key-store counts and bad shares per hub (gauges read
 * from the management status at scrape time).
 *
 * SAE labels come only from configured names (see pairLabels): made-up SAE IDs and callers that
 * are not this client's encryptors are all counted under `other`, so they create no new series.
 */
import { Counter, Gauge } from "prom-client";
import { NodeMetrics, boundedLabel } from "@dske/server";
import type { Client } from "./client.js";
import { ClientMgmtStatusSchema, type ClientMgmtStatus } from "@dske/protocol";
import { version as CLIENT_VERSION } from "../package.json";

/** The reason a client counts in dske_auth_failures_total besides the common ones (an ETSI call refused with 401). */
export const ETSI_UNAUTHORIZED_REASON = "etsi_unauthorized";

export type KeyRole = "master" | "slave";

export interface ClientMetrics {
  readonly node: NodeMetrics;
  /** Keys established, counted once, on the master SAE's KME (enc_keys answered). */
  readonly keysEstablished: Counter<"master_sae" | "slave_sae">;
  /** Keys handed to a slave SAE, on its KME (dec_keys answered); slave_sae is that slave. */
  readonly keysDelivered: Counter<"master_sae" | "slave_sae">;
  /** Keys requested but not handed out because the domain call failed (after request validation). */
  readonly keysFailed: Counter<"master_sae" | "slave_sae" | "role">;
  /** The label values for an SAE pair (pairLabels with this client). */
  pairLabels(pair: SaePair): SaePair;
}

export interface SaePair {
  master_sae: string;
  slave_sae: string;
  role: KeyRole;
}

/**
 * Label values for an SAE pair as the ETSI routes see it: the calling SAE (master for enc_keys,
 * slave for dec_keys) keeps its name only if it is one of this client's encryptors; the other SAE
 * only if the client knows it (its own encryptors and its KME directory). Anything else (an
 * unauthenticated caller, a made-up SAE ID) becomes `other`.
 */
export function pairLabels(client: Pick<Client, "encryptors" | "kmeOf">, pair: SaePair): SaePair {
  const own = (sae: string) => client.encryptors.includes(sae);
  const known = (sae: string) => client.kmeOf(sae) !== "";
  return pair.role === "master"
    ? { master_sae: boundedLabel(pair.master_sae, own), slave_sae: boundedLabel(pair.slave_sae, known), role: "master" }
    : { master_sae: boundedLabel(pair.master_sae, known), slave_sae: boundedLabel(pair.slave_sae, own), role: "slave" };
}

export function registerClientMetrics(node: NodeMetrics, client: Client): ClientMetrics {
  const registers = [node.registry];
  node.setVersion(CLIENT_VERSION);
  node.declareAuthFailureReasons([ETSI_UNAUTHORIZED_REASON]);
  // One status snapshot per scrape (see registerHubMetrics).
  let cache: { at: number; status: ClientMgmtStatus | undefined } | undefined;
  node.onScrape(() => (cache = undefined));
  const status = (): ClientMgmtStatus | undefined => {
    const now = Date.now();
    if (!cache || now - cache.at > 100) {
      const parsed = ClientMgmtStatusSchema.safeParse(client.mgmtStatus());
      cache = { at: now, status: parsed.success ? parsed.data : undefined };
    }
    return cache.status;
  };
  node.addPsrdSource(function* () {
    for (const h of status()?.peer_hubs ?? []) {
      yield { peer: h.hub_name, pool: "client_owned", bytes: h.pools.client_owned };
      yield { peer: h.hub_name, pool: "hub_owned", bytes: h.pools.hub_owned };
    }
  });
  new Gauge({
    name: "dske_client_hub_registered",
    help: "1 if the client is registered with the hub, else 0",
    labelNames: ["peer"],
    registers,
    collect() {
      this.reset();
      for (const h of status()?.peer_hubs ?? []) this.set({ peer: h.hub_name }, h.registered ? 1 : 0);
    },
  });
  new Counter({
    name: "dske_client_bad_shares_total",
    help: "Shares from the hub that failed the key check since the client started (robust reconstruction named the hub), per hub",
    labelNames: ["peer"],
    registers,
    collect() {
      this.reset();
      for (const h of status()?.peer_hubs ?? []) this.inc({ peer: h.hub_name }, h.bad_shares ?? 0);
    },
  });
  new Gauge({
    name: "dske_client_keys",
    help: "Key bookkeeping: issued (master side, awaiting slaves), delivered (marks), held (reconstructed, awaiting a further slave)",
    labelNames: ["state"],
    registers,
    collect() {
      this.reset();
      const keys = status()?.keys;
      if (!keys) return;
      this.set({ state: "issued" }, keys.issued);
      this.set({ state: "delivered" }, keys.delivered);
      this.set({ state: "held" }, keys.held);
    },
  });
  return {
    node,
    pairLabels: (pair) => pairLabels(client, pair),
    keysEstablished: new Counter({
      name: "dske_keys_established_total",
      help: "Keys established for an SAE pair: counted on the master SAE's KME when enc_keys hands them out",
      labelNames: ["master_sae", "slave_sae"],
      registers,
    }),
    keysDelivered: new Counter({
      name: "dske_keys_delivered_total",
      help: "Keys handed to a slave SAE by dec_keys on its KME, per SAE pair",
      labelNames: ["master_sae", "slave_sae"],
      registers,
    }),
    keysFailed: new Counter({
      name: "dske_keys_failed_total",
      help: "Keys an authenticated SAE asked for over ETSI 014 (well-formed request) that were not handed out (unknown SAE or key, no shares, hubs down), per SAE pair (unconfigured names: other) and role (master: enc_keys, slave: dec_keys)",
      labelNames: ["master_sae", "slave_sae", "role"],
      registers,
    }),
  };
}

/** A new per-node registry with the client metrics (what createClientRouter does with `metrics: true`). */
export function createClientMetrics(client: Client, options: { processMetrics?: boolean } = {}): ClientMetrics {
  return registerClientMetrics(new NodeMetrics({ kind: "client", name: client.name, processMetrics: options.processMetrics }), client);
}
