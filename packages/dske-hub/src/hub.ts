/**
 * Hub: the DSKE security hub (no HTTP here; http/router.ts serves it). A facade over its parts,
 * each in the file named after its concept:
 *
 * - registration.ts: registered clients, their encryptors and pools, acceptance policy, caps;
 * - psrd-delivery.ts (with bundle-issuer.ts): PSRD for the clients' pools, bundles, confirmations;
 * - shares.ts (with share-store.ts): posted and fetched shares, acknowledgements, timeouts;
 * - hub-state.ts: the durable state journal under `stateDir` and its compaction;
 * - status.ts: the management status.
 *
 * The parts share a HubContext (context.ts: name, clock, logger, closed) and get their other
 * dependencies explicitly from `Hub`'s constructor.
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import path from "node:path";
import type { AuthSchemeName, PeerAuth } from "@dske/auth";
import { FsyncCounter, type PsrdStore } from "@dske/psrd";
import {
  ACK_EXTENSION,
  BATCH_EXTENSION,
  MAX_SHARE_BYTES,
  silentLogger,
  type AckKeyRef,
  type FetchKeyRef,
  type FetchKeySharesResponse,
  type GetKeyShareQuery,
  type GetKeyShareResponse,
  type HubStatus,
  type ParsedRegistrationRequest,
  type RegistrationResponse,
  type ShareMetaResponse,
  type WireAllocation,
} from "@dske/protocol";
import { BundleIssuer, type IssuedBundle } from "./bundle-issuer.js";
import { HubContext } from "./context.js";
import { HubError } from "./errors.js";
import { DEFAULT_HUB_AUTH_SCHEMES, HubOptionsSchema, type HubOptions } from "./hub-options.js";
import { DEFAULT_COMPACT_INTERVAL_MS, HubState, type StateRecord } from "./hub-state.js";
import type { PeerClient, WirePoolOwner } from "./peer-client.js";
import { PsrdDelivery } from "./psrd-delivery.js";
import { Registry, type RegistrationRecord } from "./registration.js";
import { ShareStore } from "./share-store.js";
import { SharedState } from "./shared-state.js";
import { isShared } from "./state-backend.js";
import { ReferenceClients } from "./reference-clients.js";
import { Shares, type ShareInput, type UnboundShareInput } from "./shares.js";
import { hubStatus } from "./status.js";

export class Hub {
  readonly name: string;
  readonly shareTimeoutSecs: number;
  readonly authSchemes: readonly AuthSchemeName[];
  readonly extensions: readonly string[] = [BATCH_EXTENSION, ACK_EXTENSION];
  readonly psrdDelivery: "bundle" | "network";
  /** Reference-client mode (reference-clients.ts), if configured. */
  readonly referenceClients: ReferenceClients | undefined;
  private readonly ctx: HubContext;
  private readonly store: PsrdStore;
  private readonly state: HubState;
  private readonly shareStore: ShareStore;
  private readonly issuer: BundleIssuer;
  private readonly registry: Registry;
  private readonly delivery: PsrdDelivery;
  private readonly shares: Shares;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Replicas sharing a backend (shared-state.ts); undefined for a hub of its own. */
  private readonly sharedState: SharedState | undefined;
  private readonly fsyncs: FsyncCounter | undefined;

  private constructor(
    private readonly options: HubOptions,
    ctx: HubContext,
    state: HubState,
  ) {
    this.ctx = ctx;
    this.state = state;
    this.name = options.name;
    this.store = options.store;
    // This hub's own fsyncs (state journal, outbox, pools), even beside other nodes in one process.
    const dirs = [options.stateDir, options.store.dir].filter((d): d is string => d !== undefined);
    this.fsyncs = dirs.length > 0 ? new FsyncCounter(dirs) : undefined;
    this.shareTimeoutSecs = options.shareTimeoutSecs ?? 60;
    this.authSchemes = options.authSchemes ?? DEFAULT_HUB_AUTH_SCHEMES;
    this.psrdDelivery = options.psrdDelivery ?? "bundle";
    this.referenceClients = options.referenceClients ? new ReferenceClients(options.referenceClients) : undefined;
    this.shareStore = new ShareStore(
      state.journal,
      (err) => ctx.logger.error("state journal write failed", { err: String(err) }),
      () => state.noteDeleted(),
    );
    const outbox = options.outboxDir ?? (options.stateDir ? path.join(options.stateDir, "outbox") : undefined);
    const random = options.randomBytes ?? ((n: number) => nodeRandomBytes(n));
    this.issuer = new BundleIssuer(this.name, this.store, outbox, (records) => state.appendDurably(records), random);
    this.issuer.onLostBlock = (client, uuid, reason) =>
      ctx.logger.warn("staged PSRD block lost before its confirmation; dropped", { client, block: uuid, err: reason });
    this.registry = new Registry(
      ctx,
      { store: this.store, issuer: this.issuer, shares: this.shareStore, state },
      {
        authSchemes: this.authSchemes,
        acceptClients: options.acceptClients ? new Set(options.acceptClients) : undefined,
        shareTimeoutSecs: this.shareTimeoutSecs,
        maxClients: options.maxClients ?? 1000,
        maxPoolBytes: options.maxPoolBytes ?? 1024 * 1024 * 1024,
        maxPoolBlocks: options.maxPoolBlocks ?? 4096,
      },
      this.referenceClients,
    );
    this.delivery = new PsrdDelivery(
      ctx,
      this.registry,
      this.issuer,
      { psrdDelivery: this.psrdDelivery, maxPsrdBlockBytes: options.maxPsrdBlockBytes ?? 4 * 1024 * 1024 },
      random,
    );
    this.shares = new Shares(ctx, this.registry, this.shareStore, state, {
      shareTimeoutSecs: this.shareTimeoutSecs,
      maxShareBytes: options.maxShareBytes ?? MAX_SHARE_BYTES,
    });
    const backend = options.stateBackend;
    this.sharedState = isShared(backend)
      ? new SharedState(ctx, backend, { registry: this.registry, issuer: this.issuer, shares: this.shareStore })
      : undefined;
  }

  /** Open a hub: restore its state from `stateDir` (if given) and open the clients' pools. */
  static async open(options: HubOptions): Promise<Hub> {
    const parsed = HubOptionsSchema.safeParse(options);
    if (!parsed.success) {
      throw new HubError("bad_request", "invalid hub options", parsed.error.issues);
    }
    if (options.referenceClients) {
      ReferenceClients.validate(options.referenceClients, options.authSchemes ?? DEFAULT_HUB_AUTH_SCHEMES, options.acceptClients);
    }
    const ctx = new HubContext(options.name, options.now ?? Date.now, options.logger ?? silentLogger);
    const { state, records, recordCount } = await HubState.open(
      ctx,
      options.stateDir,
      {
        compactThresholdBytes: options.compactThresholdBytes ?? 4 * 1024 * 1024,
        compactIntervalMs: options.compactIntervalMs ?? DEFAULT_COMPACT_INTERVAL_MS,
      },
      // Called only after construction (at compaction), never during HubState.open.
      () => hub.snapshotRecords(),
      options.stateBackend,
    );
    const hub = new Hub(options, ctx, state);
    if (hub.referenceClients) ctx.logger.warn(hub.referenceClients.warning.message, hub.referenceClients.warning.fields);
    try {
      await hub.restore(records, recordCount);
    } catch (err) {
      await state.journal?.close();
      throw err;
    }
    const interval = options.sweepIntervalMs ?? Math.min(1000, (hub.shareTimeoutSecs * 1000) / 2);
    if (interval > 0) {
      const opened = hub;
      opened.sweepTimer = setInterval(() => opened.sweep(), interval);
      opened.sweepTimer.unref();
    }
    hub.sharedState?.startPolling(1000);
    return hub;
  }

  private async restore(records: readonly StateRecord[], recordCount: number): Promise<void> {
    const regs = new Map<string, Extract<RegistrationRecord, { t: "reg" }>>();
    for (const rec of records) {
      if (rec.t === "reg") regs.set(rec.c, rec);
      else if (rec.t === "unreg") {
        regs.delete(rec.c);
        this.issuer.dropClient(rec.c);
      } else if (rec.t === "chain" || rec.t === "stg" || rec.t === "act") this.issuer.applyRecord(rec);
      else this.shareStore.applyRecord(rec);
    }
    await this.registry.restore(regs.values());
    // Shares of clients that are no longer registered cannot be served: drop them.
    for (const s of this.shareStore.list()) {
      if (!this.registry.get(s.masterClientName)) this.shareStore.delete(s.masterClientName, s.keyId);
    }
    this.sweep();
    await this.issuer.recoverOutbox();
    await this.state.restored(recordCount);
  }

  private snapshotRecords(): unknown[] {
    return [...this.registry.snapshotRecords(), ...this.issuer.snapshotRecords(), ...this.shareStore.snapshotRecords()];
  }

  /**
   * Replicas on a shared backend: resolves once this replica applied what the others wrote
   * before the call (shared-state.ts); the router awaits it before each request. Undefined for a
   * hub of its own (nothing to wait for).
   */
  get barrier(): (() => Promise<void>) | undefined {
    const shared = this.sharedState;
    return shared ? () => shared.barrier() : undefined;
  }

  // ------------------------------------------------------------------------------ registration

  /** Choose the auth scheme for a registration (rules: README, "Wire behaviour at the hub"). */
  negotiate(proposed: string | undefined): AuthSchemeName {
    return this.registry.negotiate(proposed);
  }

  /**
   * Register (idempotent: same client, same scheme → updates its encryptors). A reference client
   * starts with fresh pools each time (reference-clients.ts). `source`: the caller's address (log).
   */
  register(request: ParsedRegistrationRequest, source?: string): Promise<RegistrationResponse> {
    return this.registry.register(request, source);
  }

  /** Whether this client is served as a reference (dske-python) client (reference-client mode). */
  isReferenceClient(clientName: string): boolean {
    return this.registry.isReference(clientName);
  }

  /**
   * Whether an unauthenticated call from `address` (the TCP peer; IPv4-mapped IPv6 allowed) may
   * act for reference client `clientName`: it is one, and the address is listed.
   */
  referenceClientFrom(clientName: string, address: string | undefined): boolean {
    return this.referenceClients?.allows(clientName, address) ?? false;
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
    return this.registry.unregisterDeferred(clientName);
  }

  /** The registered client, or undefined. */
  client(name: string): PeerClient | undefined {
    return this.registry.get(name);
  }

  /** Pools of a registered client for the signature middleware (undefined → 401). */
  peerAuth(clientName: unknown): PeerAuth | undefined {
    return this.registry.peerAuth(clientName);
  }

  /** Whether a client name is in this hub's acceptance policy. */
  accepts(clientName: string): boolean {
    return this.registry.accepts(clientName);
  }

  // ------------------------------------------------------------------------------ PSRD

  /**
   * Network PSRD delivery (`psrdDelivery: "network"` only; the router authenticates the client
   * first): a fresh block for one of the client's pools, staged until the client confirms it in
   * band (`confirmPsrd`). The hub's copy is durable before this resolves; the returned `data` is
   * the caller's to send and then zero.
   */
  createPsrdBlock(clientName: string, poolOwner: WirePoolOwner, size: number): Promise<{ blockUuid: string; data: Uint8Array }> {
    return this.delivery.createBlock(clientName, poolOwner, size);
  }

  /**
   * `GET psrd` of a reference client (the router checked the caller may act for it): a fresh
   * block, usable at once. The returned `data` is the caller's to send and then zero.
   */
  createReferencePsrdBlock(clientName: string, poolOwner: WirePoolOwner, size: number): Promise<{ blockUuid: string; data: Uint8Array }> {
    return this.delivery.createReferenceBlock(clientName, poolOwner, size);
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
    return this.delivery.issue(clientName, clientOwnedBytes, hubOwnedBytes, false, options.authScheme);
  }

  /**
   * `issueBundle` for an embedded hub without an outbox (e.g. in memory): the sealed bundle's
   * bytes, the caller's to hand over out of band and then zero.
   */
  async issueBundleBytes(
    clientName: string,
    clientOwnedBytes: number,
    hubOwnedBytes: number,
    options: { authScheme?: AuthSchemeName } = {},
  ): Promise<Uint8Array> {
    const r = await this.delivery.issue(clientName, clientOwnedBytes, hubOwnedBytes, true, options.authScheme);
    if (!r.bytes) throw new Error(`internal: bundle for ${clientName} issued as bytes came back without its bytes`);
    return r.bytes;
  }

  /** The client confirmed these blocks in a signed message: the hub starts using them. */
  confirmPsrd(clientName: string, blockUuids: readonly string[]): Promise<number> {
    return this.delivery.confirm(clientName, blockUuids);
  }

  /** True when `secret` is the enrollment secret of the client's first bundle (plain-mode credential). */
  checkEnrollmentSecret(clientName: string, secret: string): boolean {
    return this.issuer.checkEnrollmentSecret(clientName, secret);
  }

  /** Whether `issueBundle` can write bundle files (a state dir or an outbox was given). */
  get hasOutbox(): boolean {
    return this.issuer.hasOutbox;
  }

  // ------------------------------------------------------------------------------ shares

  /** POST key-share: decrypt with the client-owned pool and store. */
  async postShare(request: ShareInput & { master_client_name: string; encryption_key_allocation: WireAllocation }): Promise<void> {
    await this.shares.post(request.master_client_name, request.encryption_key_allocation, [request]);
  }

  /**
   * Store shares posted by `masterClientName`; `allocation` names the pads of all shares, in order
   * (the single POST is a batch of one). All or nothing. Returns the number of shares stored.
   */
  postShares(masterClientName: string, allocation: WireAllocation, items: readonly ShareInput[]): Promise<number> {
    return this.shares.post(masterClientName, allocation, items);
  }

  /** POST key-share of a reference client (no SAE IDs): an unbound share (share-release.ts). */
  postUnboundShare(masterClientName: string, allocation: WireAllocation, item: UnboundShareInput): Promise<void> {
    return this.shares.postUnbound(masterClientName, allocation, item);
  }

  /** GET key-share: re-encrypt the share for a responder client with hub-owned PSRD. */
  getShare(query: GetKeyShareQuery): Promise<GetKeyShareResponse> {
    return this.shares.get(query);
  }

  /** GET key-share of a reference client by key ID alone: unbound, or for an SAE it hosts. */
  getShareByKeyId(query: { client_name: string; key_id: string }): Promise<GetKeyShareResponse> {
    return this.shares.getByKeyId(query);
  }

  /**
   * Batch fetch: every available share re-encrypted under one hub-owned allocation. `acks`
   * (ack extension) are applied first: the client is done with those shares.
   */
  fetchShares(clientName: string, keys: readonly FetchKeyRef[], acks: readonly AckKeyRef[] = []): Promise<FetchKeySharesResponse> {
    return this.shares.fetch(clientName, keys, acks);
  }

  /** Share metadata (never values) of these key IDs for a responder client (see Shares.meta). */
  shareMeta(clientName: string, keyIds: readonly string[]): ShareMetaResponse {
    return this.shares.release.meta(clientName, keyIds);
  }

  /** Which of these key IDs the hub holds a live (stored, unexpired) share of; nothing else. */
  sharesHeld(keyIds: readonly string[]): string[] {
    return this.shares.release.held(keyIds);
  }

  /** Delete shares past their timeout. Returns how many were deleted. */
  sweep(): number {
    return this.shares.sweep();
  }

  // ------------------------------------------------------------------------------ management

  status(): HubStatus {
    const { name, shareTimeoutSecs, authSchemes, extensions, psrdDelivery } = this;
    const status = hubStatus({
      name,
      shareTimeoutSecs,
      authSchemes,
      extensions,
      psrdDelivery,
      registry: this.registry,
      issuer: this.issuer,
      shares: this.shareStore,
      fsyncs: this.fsyncs?.fsyncs ?? 0,
    });
    return this.referenceClients ? this.referenceClients.annotate(status) : status;
  }

  /** Number of stored shares. */
  get shareCount(): number {
    return this.shareStore.size;
  }

  /** Journal compactions finished since open, and the duration of the last one (diagnostics). */
  get compactions(): { readonly count: number; readonly lastMs: number } {
    return this.state.compactions;
  }

  get isClosed(): boolean {
    return this.ctx.closed;
  }

  /** Stop the sweep, flush and compact the journal, zero shares in memory; close the store if owned. */
  async close(): Promise<void> {
    if (this.ctx.closed) return;
    this.ctx.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sharedState?.stopPolling();
    this.state.stopTimers();
    await this.registry.settled();
    await this.state.close(() => this.shareStore.flushBackground());
    this.shareStore.wipe();
    this.issuer.wipe();
    if (this.options.closeStore) await this.store.close();
    this.fsyncs?.close();
  }
}
