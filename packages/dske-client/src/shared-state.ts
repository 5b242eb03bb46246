/**
 * Where the replicas of one client (KME) share their state (README, "Replicas of a client (KME)").
 * Domain code sees only these interfaces; the database driver stays in storage/pg-client-state.ts.
 *
 * - NodeStateBackend: the node state (node-state.ts: registrations, bundle chains) as one entry
 *   per hub URL / hub name. Each replica keeps the state in memory as a single client does, writes
 *   every change through, and `load`s the entries again to see the other replicas' changes.
 * - DeliveryLedger: the delivered marks (master SAE, key ID, slave SAE) of key-store.ts. A
 *   delivery is recorded with `claim`, all marks of a request or none: a key ID claimed through one
 *   replica is refused ("already delivered") through every other, exactly as on one process.
 */
import type { ChainRecord, HubRecord } from "./node-state.js";

export interface NodeStateEntries {
  hubs: Record<string, HubRecord>;
  chains: Record<string, ChainRecord>;
}

export interface NodeStateBackend {
  /** Every entry as stored now. */
  load(): Promise<NodeStateEntries>;
  /** Set (or delete with undefined) the registration record of the hub at `url`. */
  setHub(url: string, record: HubRecord | undefined): Promise<void>;
  /**
   * Set (or delete with undefined) the bundle chain with a hub. A record whose `seq` is below the
   * stored one is not written (a replica with a stale view must not step a chain back).
   */
  setChain(hubName: string, record: ChainRecord | undefined): Promise<void>;
  /** Short description for logs and status (never the URL: it may hold a password). */
  readonly description: string;
  close(): Promise<void>;
}

export interface DeliveryMark {
  masterSae: string;
  keyId: string;
  sae: string;
}

export interface DeliveryLedger {
  /** Record these marks, all or none: the marks already recorded (by any replica) when none was written, else []. */
  claim(marks: readonly DeliveryMark[]): Promise<DeliveryMark[]>;
  /** The key IDs of `keyIds` already delivered to `sae` for `masterSae` (by any replica). */
  delivered(masterSae: string, keyIds: readonly string[], sae: string): Promise<Set<string>>;
  readonly description: string;
  close(): Promise<void>;
}
