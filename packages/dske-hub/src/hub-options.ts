/**
 * HubOptions: how a hub is opened (Hub.open), and their validation. Defaults are stated on each
 * option; the parts apply them (hub.ts builds the parts).
 */
import { z } from "zod";
import type { AuthSchemeName } from "@dske/auth";
import type { PsrdStore } from "@dske/psrd";
import { AUTH_SCHEMES, MAX_PSRD_BLOCK_BYTES, MAX_SHARE_BYTES, NodeNameSchema, type Logger } from "@dske/protocol";
import type { HubStateBackend } from "./state-backend.js";
import { ReferenceClientsOptionSchema, type ReferenceClientsOption } from "./reference-clients.js";

export interface HubOptions {
  /** Hub name (appears in paths `/hub/{name}/...`). */
  name: string;
  /** Where the PSRD pools live (FileStore for a real hub, MemoryStore in tests). */
  store: PsrdStore;
  /** Directory for the hub's state journal (`hub-state.jsonl`); absent → state in memory only. */
  stateDir?: string;
  /**
   * A shared state backend (state-backend.ts; e.g. PostgreSQL from storage/pg-state-backend.ts)
   * instead of the journal file under `stateDir`: replicas of this hub that use the same one share
   * registrations, chains, staged blocks and shares. Closed by the hub's `close()`.
   */
  stateBackend?: HubStateBackend;
  /** Shares are deleted this long after they were posted (default 60). */
  shareTimeoutSecs?: number;
  /**
   * Auth schemes this hub accepts, in preference order (default ["gf128"]: information-theoretic
   * only). List "hmac-sha256" too only for reference (v1) peers.
   */
  authSchemes?: AuthSchemeName[];
  /** Largest PSRD block a client may request (default 4 MiB). */
  maxPsrdBlockBytes?: number;
  /** Largest share accepted (default 64 KiB). */
  maxShareBytes?: number;
  /** Whether `close()` also closes `store` (default false: the opener of the store closes it). */
  closeStore?: boolean;
  /** Clock (epoch ms), for tests. */
  now?: () => number;
  /** Random source for PSRD blocks (default crypto.randomBytes), for tests. */
  randomBytes?: (size: number) => Uint8Array;
  /** Interval of the share timeout sweep in ms (default min(1000, timeout/2)); 0 disables the timer. */
  sweepIntervalMs?: number;
  /** Compact the state journal when it exceeds this many bytes and 4× its live size (default 4 MiB). */
  compactThresholdBytes?: number;
  /**
   * Compact the state journal at the latest this many ms after a share was deleted (default
   * 5000): the bound on how long a deleted share's value stays in the journal file (plus the
   * compaction's own duration). Under load the size threshold usually compacts sooner.
   */
  compactIntervalMs?: number;
  /** Diagnostic lines (never secrets); default silentLogger. The standalone passes pino's. */
  logger?: Logger;
  /**
   * Acceptance policy (draft §11.1): the only client names this hub registers or issues PSRD to.
   * Absent: every name the operator issues a bundle for (bundles need the operator credential).
   */
  acceptClients?: readonly string[];
  /**
   * How PSRD reaches clients (default "bundle"): sealed bundle files carried out of band (the
   * operator or the local distributor moves them). "network": also `GET psrd`, for the
   * authenticated client itself only, its blocks usable after the client confirms them in band.
   */
  psrdDelivery?: "bundle" | "network";
  /** Where bundle files are written (default `<stateDir>/outbox`). */
  outboxDir?: string;
  /** Most clients registered at once (default 1000). */
  maxClients?: number;
  /** Most available bytes in one pool of one client, staged bytes included (default 1 GiB). */
  maxPoolBytes?: number;
  /** Most live blocks in one pool of one client (default 4096). */
  maxPoolBlocks?: number;
  /**
   * Reference-client mode (off by default; reference-clients.ts, README "Reference clients"): the
   * named dske-python clients may register and fetch PSRD (`GET psrd`, usable at once) without
   * proof of identity, from the `from` addresses only (default 127.0.0.1 and ::1), and use the
   * reference key-share wire. Needs "hmac-sha256" in `authSchemes`, and the names in
   * `acceptClients` when that is given. Nobody else gets these rules.
   */
  referenceClients?: ReferenceClientsOption;
}

export const HubOptionsSchema = z.object({
  name: NodeNameSchema,
  shareTimeoutSecs: z
    .number()
    .positive()
    .max(365 * 24 * 3600)
    .optional(),
  authSchemes: z.array(z.enum(AUTH_SCHEMES)).min(1).optional(),
  maxPsrdBlockBytes: z.int().min(1).max(MAX_PSRD_BLOCK_BYTES).optional(),
  maxShareBytes: z.int().min(1).max(MAX_SHARE_BYTES).optional(),
  sweepIntervalMs: z.int().min(0).optional(),
  compactThresholdBytes: z.int().min(0).optional(),
  acceptClients: z.array(NodeNameSchema).optional(),
  psrdDelivery: z.enum(["bundle", "network"]).optional(),
  maxClients: z.int().min(1).optional(),
  maxPoolBytes: z.int().min(1).optional(),
  maxPoolBlocks: z.int().min(1).optional(),
  compactIntervalMs: z.int().min(1).max(3_600_000).optional(),
  referenceClients: ReferenceClientsOptionSchema.optional(),
});

/** Auth schemes a hub accepts unless told otherwise: gf128 only (hmac-sha256 only where a topology lists it). */
export const DEFAULT_HUB_AUTH_SCHEMES: readonly AuthSchemeName[] = ["gf128"];
