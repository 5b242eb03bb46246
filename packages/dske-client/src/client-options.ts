/**
 * The options of a Client, grouped by the part that uses them: `psrd` (replenishment.ts and the
 * bundle inbox), `link` (each hub: registration, timeouts, batching, acks; hub-link.ts), `stock`
 * (key-stock.ts) and `gather` (gather.ts and held-keys.ts). A group is handed on as a whole.
 */
import type { PsrdStore } from "@dske/psrd";
import type { EtsiLimits } from "./etsi.js";
import type { HubLinkOptions } from "./hub-link.js";
import type { HubTlsOptions } from "./hub-tls.js";
import type { KeySource } from "./key-source.js";
import type { KeyStockOptions } from "./key-stock.js";
import type { Logger } from "./logger.js";
import type { PsrdOptions } from "./replenishment.js";
import type { DeliveryLedger, NodeStateBackend } from "./shared-state.js";

export interface ClientPsrdOptions extends PsrdOptions {
  /** Bundles found here are installed at start (default `<stateDir>/inbox`). */
  inboxDir?: string;
}

/** The responder's side: fetching shares and keeping reconstructed keys for a retry. */
export interface GatherOptions {
  /** Start fetching from the remaining hubs when the first k have not all answered within this many ms (default 1000). */
  hedgeMs?: number;
  /**
   * Reconstructed keys that could not be handed out (the request failed for another key) are held
   * in memory this long so that a retry succeeds (the hubs may already have dropped the shares);
   * shares of keys not yet reconstructable too. Default 60,000.
   */
  heldKeyTtlMs?: number;
}

export interface ClientOptions {
  /** Client (KME) name, e.g. `carol`. Used as source_KME_ID. */
  name: string;
  /** SAE IDs of the encryptors attached to this client. */
  encryptors: readonly string[];
  /** Hub base URLs, e.g. `http://127.0.0.1:8100/hub/hank`. */
  hubs: readonly string[];
  /** PSRD store holding the two pools per hub. */
  psrdStore: PsrdStore;
  /** k: shares needed to reconstruct a key (default 3). */
  minNrShares?: number;
  /**
   * Clients on a subset of the topology's hubs: the position (0-based) of each of `hubs` in the
   * topology's hub list. A share for the hub at position p has x = p + 1 (x = p in the reference
   * format), so two clients with different subsets agree on the x of the hubs they share.
   * Default: 0, 1, 2, ... (every client lists every hub in topology order).
   */
  hubPositions?: readonly number[];
  /**
   * Shares gathered to reconstruct a key this client receives: the largest min_nr_shares among
   * the clients it gets keys from, when one of them needs more than `minNrShares`. Default minNrShares.
   */
  gatherMinNrShares?: number;
  /** Where keys come from: "random" (default, crypto.randomBytes) or "psrd" (PSRD used as shares; key-source.ts). */
  keySource?: KeySource;
  /** Durable state (registrations, key bookkeeping) goes here; memory only when absent. */
  stateDir?: string;
  /**
   * Replicas of a client (shared-state.ts): the node state (registrations, bundle chains) in a
   * backend every replica shares instead of `<stateDir>/client-state.json`. Give `psrdStore` a
   * store the replicas share too (PgPsrdStore). Default: the file.
   */
  nodeStateBackend?: NodeStateBackend;
  /** Replicas of a client: delivered-key marks shared by every replica (a key ID goes to each SAE once across them). */
  deliveryLedger?: DeliveryLedger;
  /** How often a replica reads the shared node state again (ms, default 1000): bundle chains installed through another replica. */
  sharedStateRefreshMs?: number;
  /** SAE → client (KME) name, for target_KME_ID and slave SAE validation. */
  kmeDirectory?: Readonly<Record<string, string>>;
  /** ETSI limits (key sizes, number per request, multicast). */
  limits?: Partial<EtsiLimits>;
  logger?: Logger;
  /** PSRD thresholds, block size, delivery and the bundle inbox. */
  psrd?: ClientPsrdOptions;
  /** How the client talks to each hub. */
  link?: HubLinkOptions;
  /**
   * How hubs at `https://` URLs are verified (hub-tls.ts): `ca`, the PEM CA their server
   * certificates must chain to (the standalone's `--hub-ca`); default the system CAs. The
   * certificate must name the URL's host in its SANs.
   */
  hubTls?: HubTlsOptions;
  /**
   * Key stock (key-stock.ts): keys for a busy (master SAE, slave SAE) pair established `aheadMs`
   * of measured demand ahead (default 2000; 0 disables it), living `ttlMs` (default 20,000; keep
   * it well below the hubs' share timeout), on the clock `now` (tests drive it).
   */
  stock?: KeyStockOptions;
  /** The responder's side. */
  gather?: GatherOptions;
  /**
   * SAE IDs hosted by KMEs of the reference implementation (issue 14). Keys towards them are made
   * in the reference's share format (reference-key.ts: x = 0..n−1, a 4-byte HMAC digest; no key
   * stock, no batch key IDs, no multicast), keys from them are decoded in it. Keys of other pairs
   * keep our format. Default none.
   */
  referenceSaes?: readonly string[];
  /**
   * Names of hubs of the reference implementation (issue 14; the name a hub URL ends with, e.g.
   * `hank`). With those hubs only (reference-hub.ts): unauthenticated registration (no proof of
   * identity), PSRD by unauthenticated `GET psrd` (usable at once, no confirmation, never bundles),
   * hmac-sha256 (the client refuses to start unless `link` allows it), one share per message in the
   * reference's v1 bodies, and after every registration our pools with the hub start over (the hub
   * reset its side). Our other hubs are unaffected. Default none.
   */
  referenceHubs?: readonly string[];
  /**
   * ETSI: `anonymousSingleSae` (default false) lets a KME with exactly one SAE take plain-mode
   * calls without `Authorization` as from that SAE, as the reference does (router.ts).
   */
  etsi?: { anonymousSingleSae?: boolean };
}

export const DEFAULT_HELD_KEY_TTL_MS = 60_000;
