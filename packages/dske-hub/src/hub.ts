/**
 * Hub: the DSKE security hub's protocol logic (no HTTP here).
 *
 * - Registrations: clients register with their encryptors (SAE IDs) and an auth scheme; an SAE ID
 *   can be hosted by one client only (else a client could claim another's keys). Each client has
 *   two PSRD pools in the `PsrdStore` (see peer-client.ts).
 * - PSRD delivery: fresh blocks from `crypto.randomBytes`; the hub's copy is added to its durable
 *   store (with the scheme's MAC key prefix) BEFORE the block is returned.
 * - Shares: posted shares are decrypted with the client-owned pool (reserve → commit) and stored
 *   durably (share-store.ts); fetched shares are re-encrypted with a fresh allocation from the
 *   hub-owned pool. Release and deletion rules: see wire.ts ("Share release rules").
 * - State (registrations, shares) is journaled under `stateDir` (journal.ts), so a restart keeps
 *   everything; without `stateDir` the hub keeps it in memory only.
 * - Deleted shares leave the disk within a bound: a deletion (acknowledged, fetched by all, timed
 *   out, master unregistered) leaves the share's value in the journal file, so the journal is
 *   compacted at the latest `compactIntervalMs` after the first deletion not yet covered by a
 *   compaction; the compaction zeroes the old file in place (@dske/psrd state-journal.ts). See
 *   the README, "Deleted shares on disk".
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import path from "node:path";
import { z } from "zod";
import { blockKeyPrefix, type AuthSchemeName, type PeerAuth } from "@dske/auth";
import type { PsrdStore, Reservation } from "@dske/psrd";
import { HubError, fromPsrdError } from "./errors.js";
import { FsyncCounter, StateJournal as Journal, allocationSize, xorPad } from "@dske/psrd";
import { PeerClient, poolNames, type WirePoolOwner } from "./peer-client.js";
import { ShareRecordSchema, ShareStore, sameValue, type NewShare, type StoredShare } from "./share-store.js";
import { BundleIssuer, MAX_BUNDLE_BLOCK_BYTES, ProvisionRecordSchema, type IssuedBundle, type ProvisionRecord } from "./bundle-issuer.js";
import {
  ACK_EXTENSION,
  AUTH_SCHEMES,
  BATCH_EXTENSION,
  type AckKeyRef,
  MAX_PSRD_BLOCK_BYTES,
  MAX_SHARE_BYTES,
  NodeNameSchema,
  allocationFromWire,
  allocationToWire,
  type FetchKeyRef,
  type FetchKeySharesResponse,
  type ShareMetaResponse,
  type GetKeyShareQuery,
  type GetKeyShareResponse,
  type HubStatus,
  type ParsedRegistrationRequest,
  type PoolStatus,
  type RegistrationResponse,
  type WireAllocation,
} from "@dske/protocol";

export interface HubOptions {
  /** Hub name (appears in paths `/hub/{name}/...`). */
  name: string;
  /** Where the PSRD pools live (FileStore for a real hub, MemoryStore in tests). */
  store: PsrdStore;
  /** Directory for the hub's state journal (`hub-state.jsonl`); absent → state in memory only. */
  stateDir?: string;
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
  /** Diagnostic lines (never secrets). */
  log?: (line: string) => void;
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
}

const HubOptionsSchema = z.object({
  name: NodeNameSchema,
  shareTimeoutSecs: z.number().positive().max(365 * 24 * 3600).optional(),
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
});

const RegistrationRecordSchema = z.discriminatedUnion("t", [
  z.object({
    t: z.literal("reg"),
    c: z.string(),
    en: z.array(z.string()),
    a: z.enum(AUTH_SCHEMES),
    at: z.number(),
    /** Negotiated per-client extensions (absent: none). */
    x: z.array(z.string()).optional(),
  }),
  z.object({ t: z.literal("unreg"), c: z.string() }),
]);
type RegistrationRecord = z.infer<typeof RegistrationRecordSchema>;
const StateRecordSchema = z.union([RegistrationRecordSchema, ShareRecordSchema, ProvisionRecordSchema]);

/** A share to store, as it arrives (wire field names). */
export interface ShareInput {
  master_sae_id: string;
  slave_sae_id: string;
  additional_slave_sae_ids?: string[];
  user_key_id: string;
  share_index: number;
  encrypted_share_value: string;
  key_size?: number;
}

export const STATE_FILE = "hub-state.jsonl";

/** Default of HubOptions.compactIntervalMs (see there and the README, "Deleted shares on disk"). */
export const DEFAULT_COMPACT_INTERVAL_MS = 5000;

/** Auth schemes a hub accepts unless told otherwise: gf128 only (hmac-sha256 only where a topology lists it). */
export const DEFAULT_HUB_AUTH_SCHEMES: readonly AuthSchemeName[] = ["gf128"];

export class Hub {
  readonly name: string;
  readonly shareTimeoutSecs: number;
  readonly authSchemes: readonly AuthSchemeName[];
  readonly extensions: readonly string[] = [BATCH_EXTENSION, ACK_EXTENSION];
  private readonly store: PsrdStore;
  private readonly clients = new Map<string, PeerClient>();
  /** SAE ID → name of the client hosting it. */
  private readonly saeHosts = new Map<string, string>();
  private readonly shares: ShareStore;
  private readonly issuer: BundleIssuer;
  readonly psrdDelivery: "bundle" | "network";
  private readonly acceptClients: ReadonlySet<string> | undefined;
  private readonly maxClients: number;
  private readonly maxPoolBytes: number;
  private readonly maxPoolBlocks: number;
  private readonly now: () => number;
  private readonly random: (size: number) => Uint8Array;
  private readonly maxPsrdBlockBytes: number;
  private readonly maxShareBytes: number;
  private readonly compactThreshold: number;
  private readonly log: (line: string) => void;
  private regLock: Promise<unknown> = Promise.resolve();
  private sweepTimer: NodeJS.Timeout | undefined;
  private lastSnapshotBytes = 0;
  private compacting = false;
  private readonly compactInterval: number;
  /** Date.now() of the oldest share deletion that no compaction snapshot covers yet. */
  private deadSince: number | undefined;
  private deadTimer: NodeJS.Timeout | undefined;
  /** Journal compactions finished since open, and the duration of the last one (diagnostics). */
  readonly compactions = { count: 0, lastMs: 0 };
  /** fsync / fdatasync calls of this process since the hub opened (status `io`). */
  private readonly fsyncs = new FsyncCounter();
  private closed = false;

  private constructor(
    private readonly options: HubOptions,
    private readonly journal: Journal | undefined,
  ) {
    this.name = options.name;
    this.store = options.store;
    this.shareTimeoutSecs = options.shareTimeoutSecs ?? 60;
    this.authSchemes = options.authSchemes ?? DEFAULT_HUB_AUTH_SCHEMES;
    this.now = options.now ?? Date.now;
    this.random = options.randomBytes ?? ((n) => nodeRandomBytes(n));
    this.maxPsrdBlockBytes = options.maxPsrdBlockBytes ?? 4 * 1024 * 1024;
    this.maxShareBytes = options.maxShareBytes ?? MAX_SHARE_BYTES;
    this.compactThreshold = options.compactThresholdBytes ?? 4 * 1024 * 1024;
    this.compactInterval = options.compactIntervalMs ?? DEFAULT_COMPACT_INTERVAL_MS;
    this.log = options.log ?? (() => {});
    this.shares = new ShareStore(
      journal,
      (err) => this.log(`hub ${this.name}: state journal write failed: ${String(err)}`),
      () => this.noteDeleted(),
    );
    this.psrdDelivery = options.psrdDelivery ?? "bundle";
    this.acceptClients = options.acceptClients ? new Set(options.acceptClients) : undefined;
    this.maxClients = options.maxClients ?? 1000;
    this.maxPoolBytes = options.maxPoolBytes ?? 1024 * 1024 * 1024;
    this.maxPoolBlocks = options.maxPoolBlocks ?? 4096;
    const outbox = options.outboxDir ?? (options.stateDir ? path.join(options.stateDir, "outbox") : undefined);
    this.issuer = new BundleIssuer(this.name, this.store, outbox, (records) => this.appendDurably(records), this.random);
  }

  /** Open a hub: restore its state from `stateDir` (if given) and open the clients' pools. */
  static async open(options: HubOptions): Promise<Hub> {
    const parsed = HubOptionsSchema.safeParse(options);
    if (!parsed.success) {
      throw new HubError("bad_request", "invalid hub options", parsed.error.issues);
    }
    let journal: Journal | undefined;
    let records: unknown[] = [];
    if (options.stateDir) {
      ({ journal, records } = await Journal.open(path.join(options.stateDir, STATE_FILE)));
    }
    const hub = new Hub(options, journal);
    try {
      await hub.restore(records);
    } catch (err) {
      await journal?.close();
      throw err;
    }
    const interval = options.sweepIntervalMs ?? Math.min(1000, (hub.shareTimeoutSecs * 1000) / 2);
    if (interval > 0) {
      hub.sweepTimer = setInterval(() => hub.sweep(), interval);
      hub.sweepTimer.unref();
    }
    return hub;
  }

  private async restore(records: unknown[]): Promise<void> {
    const regs = new Map<string, Extract<RegistrationRecord, { t: "reg" }>>();
    records.forEach((raw, i) => {
      const r = StateRecordSchema.safeParse(raw);
      if (!r.success) {
        throw new HubError("unavailable", `hub state journal: record ${i + 1} is invalid`, r.error.issues);
      }
      const rec = r.data;
      if (rec.t === "reg") regs.set(rec.c, rec);
      else if (rec.t === "unreg") {
        regs.delete(rec.c);
        this.issuer.dropClient(rec.c);
      } else if (rec.t === "chain" || rec.t === "stg" || rec.t === "act") this.issuer.applyRecord(rec);
      else this.shares.applyRecord(rec);
    });
    for (const reg of regs.values()) {
      const names = poolNames(reg.c);
      const [clientOwned, hubOwned] = await Promise.all([
        this.store.openPool(names.clientOwned, "peer"),
        this.store.openPool(names.hubOwned, "local"),
      ]);
      this.addClient(new PeerClient(reg.c, reg.en, reg.a, clientOwned, hubOwned, reg.at, reg.x?.includes(ACK_EXTENSION) ?? false));
    }
    // Shares of clients that are no longer registered cannot be served: drop them.
    for (const s of this.shares.list()) {
      if (!this.clients.has(s.masterClientName)) this.shares.delete(s.masterClientName, s.keyId);
    }
    this.sweep();
    await this.issuer.recoverOutbox();
    const live = this.snapshotRecords();
    if (this.journal && records.length > live.length) {
      await this.journal.rewrite(live);
      this.lastSnapshotBytes = this.journal.size;
    } else if (this.journal) {
      this.lastSnapshotBytes = this.journal.size;
    }
  }

  // ------------------------------------------------------------------------------ registration

  /** Choose the auth scheme for a registration (see SYSTEM.md negotiation rules). */
  negotiate(proposed: string | undefined): AuthSchemeName {
    if (proposed !== undefined && (this.authSchemes as readonly string[]).includes(proposed)) {
      return proposed as AuthSchemeName;
    }
    if (this.authSchemes.includes("hmac-sha256")) return "hmac-sha256";
    throw new HubError(
      "bad_request",
      proposed === undefined
        ? `this hub requires an auth_scheme; it supports: ${this.authSchemes.join(", ")}`
        : `auth_scheme "${proposed}" is not supported by this hub; it supports: ${this.authSchemes.join(", ")}`,
      [{ field: "auth_scheme", supported: [...this.authSchemes] }],
    );
  }

  /** Register (idempotent: same client, same scheme → updates its encryptors). */
  register(request: ParsedRegistrationRequest): Promise<RegistrationResponse> {
    return this.exclusive(async () => {
      this.assertOpen();
      this.assertAccepted(request.client_name);
      const scheme = this.negotiate(request.auth_scheme);
      const encryptors = [...new Set(request.encryptor_names)];
      const conflicts = encryptors.filter((e) => {
        const host = this.saeHosts.get(e);
        return host !== undefined && host !== request.client_name;
      });
      if (conflicts.length > 0) {
        throw new HubError(
          "conflict",
          `encryptor(s) ${conflicts.map((c) => JSON.stringify(c)).join(", ")} already registered by another client`,
          conflicts.map((c) => ({ field: "encryptor_names", encryptor: c, client_name: this.saeHosts.get(c) })),
        );
      }
      const ack = request.extensions?.includes(ACK_EXTENSION) ?? false;
      const x = ack ? [ACK_EXTENSION] : undefined;
      const existing = this.clients.get(request.client_name);
      const hasPsrd = existing !== undefined && (existing.clientOwnedPool.stats().size > 0 || existing.hubOwnedPool.stats().size > 0);
      if (existing) {
        if (existing.authScheme !== scheme) {
          throw new HubError(
            "conflict",
            `client ${request.client_name} is registered with auth scheme ${existing.authScheme}; unregister (DELETE) first to switch to ${scheme}`,
            [{ field: "auth_scheme", registered: existing.authScheme, requested: scheme }],
          );
        }
        if (!existing.sameEncryptors(encryptors) || existing.ack !== ack) {
          await this.appendDurably([{ t: "reg", c: existing.name, en: encryptors, a: scheme, at: existing.registeredAt, x }]);
          for (const e of existing.encryptorNames) this.saeHosts.delete(e);
          existing.setEncryptors(encryptors);
          for (const e of encryptors) this.saeHosts.set(e, existing.name);
          existing.ack = ack;
        }
      } else {
        this.assertRoomForClient();
        const names = poolNames(request.client_name);
        const [clientOwned, hubOwned] = await Promise.all([
          this.store.openPool(names.clientOwned, "peer"),
          this.store.openPool(names.hubOwned, "local"),
        ]);
        const at = this.now();
        await this.appendDurably([{ t: "reg", c: request.client_name, en: encryptors, a: scheme, at, x }]);
        this.addClient(new PeerClient(request.client_name, encryptors, scheme, clientOwned, hubOwned, at, ack));
        this.log(`hub ${this.name}: registered client ${request.client_name} (${scheme})`);
      }
      return {
        hub_name: this.name,
        auth_scheme: scheme,
        extensions: ack ? [BATCH_EXTENSION, ACK_EXTENSION] : [BATCH_EXTENSION],
        share_timeout_secs: this.shareTimeoutSecs,
        has_psrd: hasPsrd,
      };
    });
  }

  /** Unregister: zero and delete the client's pools and the shares it posted. Idempotent. */
  async unregister(clientName: string): Promise<boolean> {
    const r = await this.unregisterDeferred(clientName);
    await r.deletePools();
    return r.unregistered;
  }

  /**
   * Unregister now (journaled; the client can no longer sign or be served), but zero and delete
   * its pools only when `deletePools` is called: an answer signed for the client (its own signed
   * unregistration) still needs the hub-owned pool. Call `deletePools` after the answer is sent.
   */
  unregisterDeferred(clientName: string): Promise<{ unregistered: boolean; deletePools: () => Promise<void> }> {
    const deletePools = async () => {
      const names = poolNames(clientName);
      if (this.clients.has(clientName)) return; // registered again meanwhile: its pools are in use
      await this.store.deletePool(names.clientOwned);
      await this.store.deletePool(names.hubOwned);
      await this.issuer.forget(clientName);
    };
    return this.exclusive(async () => {
      this.assertOpen();
      const client = this.clients.get(clientName);
      if (!client) return { unregistered: false, deletePools: async () => {} };
      this.clients.delete(clientName);
      for (const e of client.encryptorNames) if (this.saeHosts.get(e) === clientName) this.saeHosts.delete(e);
      this.shares.deleteByMaster(clientName);
      await this.appendDurably([{ t: "unreg", c: clientName }]);
      this.issuer.dropClient(clientName);
      this.log(`hub ${this.name}: unregistered client ${clientName}`);
      this.maybeCompact();
      return { unregistered: true, deletePools };
    });
  }

  /** The registered client, if any. */
  client(name: string): PeerClient | undefined {
    return this.clients.get(name);
  }

  /** Pools of a registered client for the signature middleware (undefined → 401). */
  peerAuth(clientName: unknown): PeerAuth | undefined {
    if (typeof clientName !== "string") return undefined;
    return this.clients.get(clientName)?.peerAuth;
  }

  // ------------------------------------------------------------------------------ PSRD

  /**
   * Network PSRD delivery (`psrdDelivery: "network"` only; the router authenticates the client
   * first): a fresh block for one of the client's pools, staged until the client confirms it in
   * band (`confirmPsrd`). The hub's copy is durable before this resolves; the returned `data` is
   * the caller's to send and then zero.
   */
  async createPsrdBlock(
    clientName: string,
    poolOwner: WirePoolOwner,
    size: number,
  ): Promise<{ blockUuid: string; data: Uint8Array }> {
    this.assertOpen();
    if (this.psrdDelivery !== "network") {
      throw new HubError(
        "forbidden",
        `hub ${this.name} delivers PSRD only in bundles carried out of band (psrd_delivery: bundle); ` +
          `the operator issues them with 'dske-cli psrd issue' (or the local distributor does)`,
        [{ field: "psrd_delivery", value: this.psrdDelivery }],
      );
    }
    const client = this.requireClient(clientName);
    if (!Number.isInteger(size) || size < 1 || size > this.maxPsrdBlockBytes) {
      throw new HubError("bad_request", `size must be an integer from 1 to ${this.maxPsrdBlockBytes}`, [
        { field: "size", max: this.maxPsrdBlockBytes },
      ]);
    }
    const keyPrefix = client.keyPrefix;
    if (size <= keyPrefix) {
      throw new HubError(
        "bad_request",
        `size must exceed the ${keyPrefix}-byte MAC key prefix of auth scheme ${client.authScheme}`,
        [{ field: "size", min: keyPrefix + 1 }],
      );
    }
    this.assertPoolRoom(client, poolOwner, size - keyPrefix, 1);
    return this.issuer.stageNetworkBlock(clientName, poolOwner, size, keyPrefix);
  }

  /**
   * Issue a PSRD bundle for a client (operator or local distributor): registers a client in the
   * acceptance policy on its first bundle (scheme: this hub's preferred one), writes the sealed
   * bundle into the outbox and returns where. Bytes are usable (not counting MAC key prefixes).
   */
  issueBundle(
    clientName: string,
    clientOwnedBytes: number,
    hubOwnedBytes: number,
    options: { authScheme?: AuthSchemeName } = {},
  ): Promise<IssuedBundle & { hubName: string; clientName: string }> {
    return this.issue(clientName, clientOwnedBytes, hubOwnedBytes, false, options.authScheme);
  }

  /**
   * `issueBundle` for an embedded hub without an outbox (e.g. in memory): the sealed bundle's
   * bytes, the caller's to hand over out of band and then zero.
   */
  async issueBundleBytes(clientName: string, clientOwnedBytes: number, hubOwnedBytes: number, options: { authScheme?: AuthSchemeName } = {}): Promise<Uint8Array> {
    const r = await this.issue(clientName, clientOwnedBytes, hubOwnedBytes, true, options.authScheme);
    return r.bytes!;
  }

  private issue(
    clientName: string,
    clientOwnedBytes: number,
    hubOwnedBytes: number,
    asBytes: boolean,
    authScheme: AuthSchemeName | undefined,
  ): Promise<IssuedBundle & { hubName: string; clientName: string; bytes?: Uint8Array }> {
    return this.exclusive(async () => {
      if (authScheme !== undefined && !this.authSchemes.includes(authScheme)) {
        throw new HubError("bad_request", `auth_scheme ${authScheme} is not allowed at hub ${this.name}; it allows ${this.authSchemes.join(", ")}`, [
          { field: "auth_scheme", supported: [...this.authSchemes] },
        ]);
      }
      this.assertOpen();
      this.assertAccepted(clientName);
      for (const [field, v] of [["client_owned_bytes", clientOwnedBytes], ["hub_owned_bytes", hubOwnedBytes]] as const) {
        if (!Number.isInteger(v) || v < 0 || v > this.maxPoolBytes) {
          throw new HubError("bad_request", `${field} must be an integer from 0 to ${this.maxPoolBytes} (this hub's max_pool_bytes)`, [
            { field, max_pool_bytes: this.maxPoolBytes },
          ]);
        }
      }
      if (clientOwnedBytes + hubOwnedBytes === 0) {
        throw new HubError("bad_request", "a bundle needs client_owned_bytes or hub_owned_bytes above 0", [{ field: "client_owned_bytes" }]);
      }
      let client = this.clients.get(clientName);
      const scheme = client?.authScheme ?? authScheme ?? this.authSchemes[0];
      const prefix = blockKeyPrefix(scheme);
      const blocksOf = (bytes: number) => Math.ceil(bytes / (MAX_BUNDLE_BLOCK_BYTES - prefix));
      if (client) {
        this.assertPoolRoom(client, "client", clientOwnedBytes, blocksOf(clientOwnedBytes));
        this.assertPoolRoom(client, "hub", hubOwnedBytes, blocksOf(hubOwnedBytes));
      } else {
        // A new client: every cap is checked before anything is registered or created.
        this.assertRoomForClient();
        for (const [owner, bytes] of [["client", clientOwnedBytes], ["hub", hubOwnedBytes]] as const) {
          this.assertRoomIn(clientName, owner, { available: 0, blocks: 0 }, bytes, blocksOf(bytes));
        }
        const names = poolNames(clientName);
        const [clientOwned, hubOwned] = await Promise.all([
          this.store.openPool(names.clientOwned, "peer"),
          this.store.openPool(names.hubOwned, "local"),
        ]);
        const at = this.now();
        await this.appendDurably([{ t: "reg", c: clientName, en: [], a: scheme, at }]);
        client = new PeerClient(clientName, [], scheme, clientOwned, hubOwned, at, false);
        this.addClient(client);
        this.log(`hub ${this.name}: provisioned client ${clientName} (${scheme})`);
      }
      const issued = await this.issuer.issue({
        clientName,
        authScheme: client.authScheme,
        keyPrefix: client.keyPrefix,
        clientOwnedBytes,
        hubOwnedBytes,
        clientOwnedPool: client.clientOwnedPool,
        asBytes,
      });
      this.log(`hub ${this.name}: issued PSRD bundle ${issued.seq} for ${clientName} (${clientOwnedBytes} + ${hubOwnedBytes} bytes)`);
      return { ...issued, hubName: this.name, clientName };
    });
  }

  /** The client confirmed these blocks in a signed message: the hub starts using them. */
  async confirmPsrd(clientName: string, blockUuids: readonly string[]): Promise<number> {
    this.assertOpen();
    const client = this.requireClient(clientName);
    return this.issuer.confirm(clientName, blockUuids, { client: client.clientOwnedPool, hub: client.hubOwnedPool });
  }

  /** True when `secret` is the enrollment secret of the client's first bundle (plain-mode credential). */
  checkEnrollmentSecret(clientName: string, secret: string): boolean {
    return this.issuer.checkEnrollmentSecret(clientName, secret);
  }

  /** Whether `issueBundle` can write bundle files (a state dir or an outbox was given). */
  get hasOutbox(): boolean {
    return this.issuer.hasOutbox;
  }

  /** Whether a client name is in this hub's acceptance policy. */
  accepts(clientName: string): boolean {
    return this.acceptClients === undefined || this.acceptClients.has(clientName);
  }

  // ------------------------------------------------------------------------------ shares

  /** POST key-share: decrypt with the client-owned pool and store. */
  async postShare(request: ShareInput & { master_client_name: string; encryption_key_allocation: WireAllocation }): Promise<void> {
    await this.postShares(request.master_client_name, request.encryption_key_allocation, [request]);
  }

  /**
   * Store shares posted by `masterClientName`; `allocation` names the pads of all shares, in order
   * (the single POST is a batch of one). All or nothing. Returns the number of shares in the batch.
   * Re-posting an identical share (same index, slaves and value, e.g. a retry whose response was
   * lost) succeeds; a different share under the same (master, key ID) is a 409.
   */
  async postShares(masterClientName: string, allocation: WireAllocation, items: readonly ShareInput[]): Promise<number> {
    this.assertOpen();
    const client = this.requireClient(masterClientName);
    const ciphertexts: Buffer[] = [];
    const seen = new Set<string>();
    let total = 0;
    items.forEach((item, index) => {
      const where = items.length > 1 ? ` (shares[${index}])` : "";
      if (!client.hosts(item.master_sae_id)) {
        throw new HubError(
          "forbidden",
          `master_sae_id "${item.master_sae_id}" is not an encryptor of client ${masterClientName}${where}`,
          [{ index, field: "master_sae_id" }],
        );
      }
      if (seen.has(item.user_key_id)) {
        throw new HubError("bad_request", `user_key_id ${item.user_key_id} appears more than once${where}`, [
          { index, field: "user_key_id" },
        ]);
      }
      seen.add(item.user_key_id);
      const ct = Buffer.from(item.encrypted_share_value, "base64");
      if (ct.length === 0) {
        throw new HubError("bad_request", `encrypted_share_value is empty${where}`, [{ index, field: "encrypted_share_value" }]);
      }
      if (ct.length > this.maxShareBytes) {
        throw new HubError("too_large", `share of ${ct.length} bytes exceeds the hub's limit of ${this.maxShareBytes}${where}`, [
          { index, field: "encrypted_share_value", max: this.maxShareBytes },
        ]);
      }
      ciphertexts.push(ct);
      total += ct.length;
    });
    const allocated = allocationSize(allocation);
    if (allocated !== total) {
      throw new HubError(
        "bad_request",
        `encryption_key_allocation names ${allocated} bytes but the share value(s) have ${total}`,
        [{ field: "encryption_key_allocation", allocation_bytes: allocated, share_bytes: total }],
      );
    }

    let reservation: Reservation;
    try {
      reservation = await client.clientOwnedPool.reserve(
        allocationFromWire(allocation),
        `decrypt ${items.length} key-share(s) from ${masterClientName}`,
      );
    } catch (err) {
      throw fromPsrdError(err, `encryption_key_allocation of ${masterClientName}`);
    }
    const values: Buffer[] = [];
    let committed = false;
    try {
      const pad = reservation.data;
      let offset = 0;
      for (const ct of ciphertexts) {
        const v = Buffer.alloc(ct.length);
        xorPad(ct, pad, offset, v);
        offset += ct.length;
        values.push(v);
      }
      const expiresAt = this.now() + this.shareTimeoutSecs * 1000;
      const fresh: NewShare[] = [];
      const duplicates: number[] = [];
      items.forEach((item, index) => {
        const slaves = slaveList(item);
        const existing = this.shares.get(masterClientName, item.user_key_id);
        if (existing) {
          const same =
            existing.shareIndex === item.share_index &&
            existing.masterSaeId === item.master_sae_id &&
            sameList(existing.slaveSaeIds, slaves) &&
            sameValue(existing.value, values[index]);
          if (!same) {
            throw new HubError(
              "conflict",
              `a different share for key ${item.user_key_id} of ${masterClientName} is already stored`,
              [{ index, field: "user_key_id" }],
            );
          }
          duplicates.push(index);
          return;
        }
        fresh.push({
          masterClientName,
          masterSaeId: item.master_sae_id,
          keyId: item.user_key_id,
          shareIndex: item.share_index,
          slaveSaeIds: slaves,
          value: values[index],
          expiresAt,
          keySize: item.key_size,
        });
      });
      // The PSRD commit and the share journal write run in parallel; the shares are served only
      // once both are durable (ShareStore.put's gate), so nothing derived from the pad leaves the
      // process before its consumption is on stable storage.
      committed = true;
      let commitFailed: unknown;
      // The response's signing pad (hub-owned pool) is consumed now too: its commit overlaps.
      client.prepareResponseSignature();
      const commit = reservation.commit().catch((err: unknown) => {
        commitFailed = err;
        throw err;
      });
      commit.catch(() => {}); // observed below; never an unhandled rejection
      for (const i of duplicates) values[i].fill(0);
      try {
        await this.shares.put(fresh, commit);
        await commit;
      } catch (err) {
        if (commitFailed !== undefined) {
          throw new HubError("unavailable", `could not commit the PSRD consumption: ${errorMessage(commitFailed)}`);
        }
        throw new HubError("unavailable", `could not store the share(s) durably: ${errorMessage(err)}`);
      }
      return items.length;
    } catch (err) {
      if (!committed) {
        try {
          reservation.release();
        } catch {
          // already released/committed: nothing to give back
        }
      }
      for (const v of values) v.fill(0);
      throw fromPsrdError(err, `encryption_key_allocation of ${masterClientName}`);
    } finally {
      for (const ct of ciphertexts) ct.fill(0);
      reservation.data.fill(0); // the pad (a copy); its consumption is settled by now
    }
  }

  /** GET key-share: re-encrypt the share for a responder client with hub-owned PSRD. */
  async getShare(query: GetKeyShareQuery): Promise<GetKeyShareResponse> {
    this.assertOpen();
    const client = this.clients.get(query.client_name);
    const share = client ? this.releasable(client, query) : undefined;
    if (!client || !share) throw notAvailable(query.key_id, query.client_name);
    const result = await this.encryptFor(client, [share], `key-share ${query.key_id} for ${client.name}`);
    return {
      share_index: share.shareIndex,
      encryption_key_allocation: result.allocation,
      encrypted_share_value: result.ciphertexts[0],
    };
  }

  /**
   * Batch fetch: every available share re-encrypted under one hub-owned allocation. `acks`
   * (ack extension) are applied first: the client is done with those shares.
   */
  async fetchShares(clientName: string, keys: readonly FetchKeyRef[], acks: readonly AckKeyRef[] = []): Promise<FetchKeySharesResponse> {
    this.assertOpen();
    const client = this.clients.get(clientName);
    const acknowledged = client && acks.length > 0 ? this.acknowledge(client, acks) : undefined;
    const ackField = acknowledged === undefined ? {} : { acknowledged };
    const seen = new Set<string>();
    keys.forEach((k, index) => {
      if (seen.has(k.key_id)) {
        throw new HubError("bad_request", `key_id ${k.key_id} appears more than once (keys[${index}])`, [
          { index, field: "key_id" },
        ]);
      }
      seen.add(k.key_id);
    });
    const found: StoredShare[] = [];
    const missing: string[] = [];
    for (const k of keys) {
      const share = client ? this.releasable(client, k) : undefined;
      if (share) found.push(share);
      else missing.push(k.key_id);
    }
    if (!client || found.length === 0) return { shares: [], missing, ...ackField };
    const result = await this.encryptFor(client, found, `${found.length} key-share(s) for ${client.name}`);
    return {
      encryption_key_allocation: result.allocation,
      shares: found.map((s, i) => ({ key_id: s.keyId, share_index: s.shareIndex, encrypted_share_value: result.ciphertexts[i] })),
      missing,
      ...ackField,
    };
  }

  /**
   * Mark shares as acknowledged (done) by the client; delete those every intended responder
   * client is done with. A client may acknowledge a share it fetched, or one it never fetched if
   * it hosts an intended slave SAE (it got the key from other hubs: this hub may drop its share
   * now instead of at the timeout). Unknown, not-for-this-client or already acknowledged shares
   * are ignored. Returns how many shares were newly acknowledged.
   */
  private acknowledge(client: PeerClient, acks: readonly AckKeyRef[]): number {
    let n = 0;
    for (const a of acks) {
      for (const s of this.shares.withKeyId(a.key_id)) {
        if (s.masterSaeId !== a.master_sae_id || s.ackedBy.has(client.name)) continue;
        if (!s.fetchedBy.has(client.name) && !s.slaveSaeIds.some((sae) => client.hosts(sae))) continue;
        this.shares.markAcked(s, client.name, (x) => this.doneByAll(x));
        n++;
      }
    }
    if (n > 0) this.maybeCompact();
    return n;
  }

  /**
   * Share metadata (never values) for a registered client: the stored, unexpired shares with
   * these key IDs of which the client hosts an intended slave SAE. Unknown client → empty list.
   */
  shareMeta(clientName: string, keyIds: readonly string[]): ShareMetaResponse {
    const client = this.clients.get(clientName);
    if (!client) return { shares: [] };
    const now = this.now();
    const shares: ShareMetaResponse["shares"] = [];
    for (const keyId of new Set(keyIds)) {
      for (const s of this.shares.withKeyId(keyId)) {
        if (!s.ready || s.expiresAt <= now || !s.slaveSaeIds.some((sae) => client.hosts(sae))) continue;
        shares.push({ key_id: s.keyId, master_sae_id: s.masterSaeId, slave_sae_ids: [...s.slaveSaeIds] });
      }
    }
    return { shares };
  }

  /** Which of these key IDs the hub holds a live (stored, unexpired) share of; nothing else. */
  sharesHeld(keyIds: readonly string[]): string[] {
    const now = this.now();
    return [...new Set(keyIds)].filter((id) => this.shares.withKeyId(id).some((s) => s.ready && s.expiresAt > now));
  }

  /** The share the client may fetch for this query, or undefined (unknown, expired or not for it). */
  private releasable(
    client: PeerClient,
    q: { master_sae_id: string; slave_sae_id: string; key_id: string },
  ): StoredShare | undefined {
    if (!client.hosts(q.slave_sae_id)) return undefined;
    const now = this.now();
    for (const s of this.shares.withKeyId(q.key_id)) {
      if (s.ackedBy.has(client.name)) continue; // the client said it is done with this share
      if (s.ready && s.masterSaeId === q.master_sae_id && s.slaveSaeIds.includes(q.slave_sae_id) && s.expiresAt > now) return s;
    }
    return undefined;
  }

  /**
   * Encrypt the shares for `client` with one fresh allocation from its hub-owned pool; then mark
   * them fetched and delete those every intended responder client is done with (see doneByAll:
   * a client with the ack extension is done only once it acknowledged). Values are copied
   * before the await, so a concurrent deletion cannot turn a pad into a ciphertext of zeros.
   */
  private async encryptFor(
    client: PeerClient,
    shares: readonly StoredShare[],
    purpose: string,
  ): Promise<{ allocation: WireAllocation; ciphertexts: string[] }> {
    const copies = shares.map((s) => Buffer.from(s.value));
    const total = copies.reduce((n, c) => n + c.length, 0);
    let pad: Uint8Array | undefined;
    try {
      let allocated: { allocation: { fragments: readonly { blockUuid: string; start: number; size: number }[] }; data: Uint8Array };
      try {
        const pending = client.hubOwnedPool.allocate(total, `encrypt ${purpose}`);
        // Same turn → same journal batch: the response's signing pad rides on this commit.
        client.prepareResponseSignature();
        allocated = await pending;
      } catch (err) {
        throw fromPsrdError(err, `hub-owned pool of ${client.name} cannot supply ${total} bytes; request more PSRD`);
      }
      pad = allocated.data;
      const ciphertexts: string[] = [];
      let offset = 0;
      for (const c of copies) {
        xorPad(c, pad, offset, c);
        offset += c.length;
        ciphertexts.push(c.toString("base64"));
      }
      for (const s of shares) {
        this.shares.markFetched(s, client.name);
        if (this.doneByAll(s)) this.shares.delete(s.masterClientName, s.keyId);
      }
      this.maybeCompact();
      return { allocation: allocationToWire(allocated.allocation), ciphertexts };
    } finally {
      pad?.fill(0);
      for (const c of copies) c.fill(0);
    }
  }

  /**
   * True when every intended slave SAE is hosted by a registered client that is done with the
   * share: it fetched it (v1 client) or acknowledged it (client with the ack extension).
   */
  private doneByAll(share: StoredShare): boolean {
    for (const sae of share.slaveSaeIds) {
      const host = this.saeHosts.get(sae);
      if (host === undefined) return false;
      const done = this.clients.get(host)?.ack ? share.ackedBy.has(host) : share.fetchedBy.has(host);
      if (!done) return false;
    }
    return true;
  }

  /** Delete shares past their timeout. Returns how many were deleted. */
  sweep(): number {
    if (this.closed) return 0;
    const n = this.shares.sweep(this.now());
    if (n > 0) this.maybeCompact();
    return n;
  }

  // ------------------------------------------------------------------------------ management

  status(): HubStatus {
    const poolStatus = (p: { stats(): { blocks: number; size: number; used: number; available: number } }): PoolStatus => {
      const s = p.stats();
      return { blocks: s.blocks, size: s.size, used: s.used, available: s.available };
    };
    return {
      name: this.name,
      share_timeout_secs: this.shareTimeoutSecs,
      auth_schemes: [...this.authSchemes],
      extensions: [...this.extensions],
      peer_clients: [...this.clients.values()].map((c) => ({
        client_name: c.name,
        encryptor_names: c.encryptorNames,
        auth_scheme: c.authScheme,
        extensions: c.ack ? [ACK_EXTENSION] : [],
        pools: { client_owned: poolStatus(c.clientOwnedPool), hub_owned: poolStatus(c.hubOwnedPool) },
        psrd: (() => {
          const st = this.issuer.stagedBytes(c.name);
          return { bundles_issued: this.issuer.seq(c.name), staged: { client: st.client, hub: st.hub, blocks: st.blocks } };
        })(),
      })),
      psrd_delivery: this.psrdDelivery,
      shares: this.shares.list().map((s) => ({
        master_client_name: s.masterClientName,
        key_id: s.keyId,
        share_index: s.shareIndex,
        slave_sae_ids: [...s.slaveSaeIds],
        fetched_by: [...s.fetchedBy],
        acked_by: [...s.ackedBy],
        pending_ack: [...s.fetchedBy].filter((c) => !s.ackedBy.has(c) && this.clients.get(c)?.ack === true),
        expires_at: new Date(s.expiresAt).toISOString(),
      })),
      io: { fsyncs: this.fsyncs.count },
    };
  }

  /** Number of stored shares. */
  get shareCount(): number {
    return this.shares.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Stop the sweep, flush and compact the journal, zero shares in memory; close the store if owned. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.deadTimer) clearTimeout(this.deadTimer);
    await this.regLock.catch(() => {});
    if (this.journal) {
      try {
        this.shares.flushBackground();
        const live = this.snapshotRecords();
        await this.journal.rewrite(live);
      } catch (err) {
        this.log(`hub ${this.name}: final journal compaction failed: ${errorMessage(err)}`);
      }
      await this.journal.close();
    }
    this.shares.wipe();
    this.issuer.wipe();
    if (this.options.closeStore) await this.store.close();
  }

  // ------------------------------------------------------------------------------ internals

  private addClient(client: PeerClient): void {
    this.clients.set(client.name, client);
    for (const e of client.encryptorNames) this.saeHosts.set(e, client.name);
  }

  private requireClient(name: string): PeerClient {
    const client = this.clients.get(name);
    if (!client) {
      throw new HubError("not_found", `client ${name} is not registered at hub ${this.name}`, [{ field: "client_name" }]);
    }
    return client;
  }

  private assertAccepted(clientName: string): void {
    if (!this.accepts(clientName)) {
      throw new HubError("forbidden", `client ${clientName} is not in the acceptance policy of hub ${this.name}`, [
        { field: "client_name", client_name: clientName },
      ]);
    }
  }

  private assertRoomForClient(): void {
    if (this.clients.size >= this.maxClients) {
      throw new HubError("conflict", `hub ${this.name} already has its maximum of ${this.maxClients} registered clients`, [
        { field: "client_name", max_clients: this.maxClients },
      ]);
    }
  }

  /** Caps per client and pool: available + staged bytes, and live + staged blocks of that pool. */
  private assertPoolRoom(client: PeerClient, owner: WirePoolOwner, bytes: number, blocks: number): void {
    const st = client.pool(owner).stats();
    const staged = this.issuer.stagedBytes(client.name);
    this.assertRoomIn(
      client.name,
      owner,
      {
        available: st.available + (owner === "client" ? staged.client : staged.hub),
        blocks: st.blocks + (owner === "client" ? staged.clientBlocks : staged.hubBlocks),
      },
      bytes,
      blocks,
    );
  }

  private assertRoomIn(clientName: string, owner: WirePoolOwner, now: { available: number; blocks: number }, bytes: number, blocks: number): void {
    if (bytes === 0) return;
    const have = now.available;
    if (have + bytes > this.maxPoolBytes) {
      throw new HubError(
        "conflict",
        `the ${owner}-owned pool of ${clientName} would hold ${have + bytes} bytes, above this hub's cap of ${this.maxPoolBytes} (max_pool_bytes); use PSRD first or raise the cap`,
        [{ field: `${owner}_owned_bytes`, available: have, requested: bytes, max_pool_bytes: this.maxPoolBytes }],
      );
    }
    if (now.blocks + blocks > this.maxPoolBlocks) {
      throw new HubError(
        "conflict",
        `the ${owner}-owned pool of ${clientName} would hold more than ${this.maxPoolBlocks} blocks (max_pool_blocks); ask for fewer, larger blocks or raise the cap`,
        [{ field: `${owner}_owned_bytes`, blocks: now.blocks, max_pool_blocks: this.maxPoolBlocks }],
      );
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new HubError("unavailable", `hub ${this.name} is stopping`);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.regLock.then(fn, fn);
    this.regLock = run.catch(() => {});
    return run;
  }

  private async appendDurably(records: readonly (RegistrationRecord | ProvisionRecord)[]): Promise<void> {
    if (!this.journal) return;
    try {
      await this.journal.append(records);
    } catch (err) {
      throw new HubError("unavailable", `could not write the hub state durably: ${errorMessage(err)}`);
    }
  }

  private snapshotRecords(): unknown[] {
    const regs: RegistrationRecord[] = [...this.clients.values()].map((c) => ({
      t: "reg",
      c: c.name,
      en: c.encryptorNames,
      a: c.authScheme,
      at: c.registeredAt,
      ...(c.ack ? { x: [ACK_EXTENSION] } : {}),
    }));
    return [...regs, ...this.issuer.snapshotRecords(), ...this.shares.snapshotRecords()];
  }

  /** Rewrite the journal when dead records dominate it (zeroes the old file; see journal.ts). */
  private maybeCompact(): void {
    const j = this.journal;
    if (!j || this.compacting || this.closed) return;
    if (j.size <= this.compactThreshold || j.size <= 4 * this.lastSnapshotBytes) return;
    this.compact();
  }

  /**
   * A share was deleted: its value is still in the journal file. Make sure a compaction starts
   * within compactIntervalMs of the oldest such deletion (one timer, however many deletions: at
   * thousands of deletions per second this is still one compaction per interval at most, and
   * usually none, since the size threshold compacts sooner under load).
   */
  private noteDeleted(): void {
    if (!this.journal || this.closed) return;
    this.deadSince ??= Date.now();
    this.scheduleDeadCompaction();
  }

  private scheduleDeadCompaction(): void {
    if (this.deadTimer || this.compacting || this.closed || this.deadSince === undefined) return;
    const delay = Math.max(0, this.deadSince + this.compactInterval - Date.now());
    this.deadTimer = setTimeout(() => {
      this.deadTimer = undefined;
      this.compact();
    }, delay);
    this.deadTimer.unref();
  }

  /**
   * Rewrite the journal with a snapshot of the live state. The snapshot is taken (and queued
   * behind the appends already queued) synchronously, so it covers every deletion made so far;
   * the journal writes it, then zeroes the old file in place off the append path.
   */
  private compact(): void {
    const j = this.journal;
    if (!j || this.compacting || this.closed) return;
    this.compacting = true;
    this.deadSince = undefined;
    if (this.deadTimer) clearTimeout(this.deadTimer);
    this.deadTimer = undefined;
    const started = Date.now();
    j.rewrite(this.snapshotRecords())
      .then(() => {
        this.lastSnapshotBytes = j.size;
        this.compactions.count++;
        this.compactions.lastMs = Date.now() - started;
      })
      .catch((err: unknown) => {
        this.log(`hub ${this.name}: journal compaction failed: ${errorMessage(err)}`);
        // Try again one interval from now (not at once: a broken journal fails at once).
        this.deadSince = Date.now();
      })
      .finally(() => {
        this.compacting = false;
        this.scheduleDeadCompaction();
      });
  }
}

function slaveList(item: ShareInput): string[] {
  return [...new Set([item.slave_sae_id, ...(item.additional_slave_sae_ids ?? [])])];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function notAvailable(keyId: string, clientName: string): HubError {
  return new HubError("not_found", `no share for key ${keyId} is available to client ${clientName}`, [
    { field: "key_id", key_id: keyId },
  ]);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
