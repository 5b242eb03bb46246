/**
 * PeerHub: a client's view of one hub. The facade over the parts, each with its own file:
 *
 * - hub-link.ts: URL, name, `HubApi`, registered flag, negotiated scheme and extensions, health.
 * - registration.ts: signed registration once the first PSRD bundle is installed, retried in the
 *   background; confirmation of installed blocks; unregistration and operator PSRD reset.
 * - replenishment.ts: our two PSRD pools with the hub and keeping them filled (bundle needs, or
 *   network delivery).
 * - signed-calls.ts: every in-band call pays its MACs from both pools and reacts to 401 / 503.
 * - share-posts.ts (scatter) and share-fetches.ts (gather): the share messages, coalesced into
 *   batches.
 * - acks.ts: acknowledgements of released shares (the `ack` extension).
 * - reference-hub.ts: a hub of the reference implementation (`reference`): unauthenticated
 *   registration that starts our pools over, GET psrd, the v1 share bodies.
 */
import type { AuthSchemeName } from "@dske/auth";
import { blockPoolStatus, type ShareMeta } from "@dske/protocol";
import type { Allocation, Pool, PoolStats, PsrdStore } from "@dske/psrd";
import { Acks } from "./acks.js";
import { HubLink, type HubLinkOptions } from "./hub-link.js";
import { hubAgentTls, plainRemoteHubUrls, type HubTlsOptions } from "./hub-tls.js";
import type { Logger } from "./logger.js";
import type { NodeState } from "./node-state.js";
import { HubNeeds } from "./psrd-needs.js";
import { Registration } from "./registration.js";
import { REFERENCE_HUB_NOTICE } from "./reference-hub.js";
import { Replenishment, resolvePsrdOptions, type PoolKind, type PsrdOptions, type ResolvedPsrdOptions } from "./replenishment.js";
import { ShareFetches, type FetchedShare, type ShareRef } from "./share-fetches.js";
import { SharePosts, type OutgoingShare } from "./share-posts.js";
import { SignedCalls } from "./signed-calls.js";

export { HubFailure, type HubLinkOptions } from "./hub-link.js";
export type { PoolKind, PsrdOptions } from "./replenishment.js";
export type { ShareRef } from "./share-fetches.js";
export type { OutgoingShare } from "./share-posts.js";

export interface PeerHubOptions {
  /** Hub base URL, e.g. `http://127.0.0.1:8100/hub/hank`. */
  url: string;
  clientName: string;
  encryptors: readonly string[];
  store: PsrdStore;
  state: NodeState;
  logger: Logger;
  /** PSRD pools and their replenishment (replenishment.ts). */
  psrd?: PsrdOptions;
  /** Registration, timeouts, batching and acknowledgements (hub-link.ts). */
  link?: HubLinkOptions;
  /** Called when this hub's pools state a new need (the client's NeedBoard). */
  onNeed?: () => void;
  /** A hub of the reference implementation (reference-hub.ts): v1 wire, PSRD by unauthenticated GET psrd. */
  reference?: boolean;
  /** How an `https://` hub is verified (ClientOptions.hubTls). */
  hubTls?: HubTlsOptions;
}

export class PeerHub {
  /** What this hub's pools need from the local distributor (bundle delivery). */
  readonly needs: HubNeeds;
  /** Bad shares detected from this hub (wrong share content). */
  badShares = 0;
  lastBadShare: { key_id: string; at: string } | undefined;

  private readonly link: HubLink;
  private readonly psrd: Replenishment;
  private readonly registration: Registration;
  private readonly acks: Acks;
  private readonly posts: SharePosts;
  private readonly fetches: ShareFetches;
  private readonly psrdOptions: ResolvedPsrdOptions;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: PeerHubOptions) {
    const linkOptions = options.link ?? {};
    const psrdOptions = resolvePsrdOptions(options.psrd);
    this.psrdOptions = psrdOptions;
    const link = new HubLink(
      options.url,
      options.state,
      linkOptions,
      () => this.psrd.peerAuth,
      (message, fields) => options.logger.warn(message, fields),
      options.reference === true,
      hubAgentTls(options.hubTls),
    );
    this.link = link;
    this.needs = new HubNeeds(() => link.name, options.onNeed ?? (() => {}));
    const reregister = (reason: string) => this.registration.requireReregistration(reason);
    this.psrd = new Replenishment({
      link,
      clientName: options.clientName,
      store: options.store,
      state: options.state,
      logger: options.logger,
      psrd: psrdOptions,
      needs: this.needs,
      timeoutMs: linkOptions.timeoutMs,
      reregister,
    });
    this.registration = new Registration({
      link,
      psrd: this.psrd,
      needs: this.needs,
      state: options.state,
      logger: options.logger,
      clientName: options.clientName,
      encryptors: options.encryptors,
      options: linkOptions,
      initialPsrdBytes: psrdOptions.initialBytes,
    });
    const calls = new SignedCalls({
      link,
      psrd: this.psrd,
      blockSize: psrdOptions.blockSize,
      reregister,
      retry: { retries: linkOptions.callRetries, initialMs: linkOptions.callRetryInitialMs, maxMs: linkOptions.callRetryMaxMs },
    });
    const coalescing = () => linkOptions.coalesce !== false && link.supportsBatch;
    this.acks = new Acks({ link, logger: options.logger, flushMs: linkOptions.ackFlushMs, send: (acks) => this.fetches.sendAcks(acks) });
    this.posts = new SharePosts({ link, psrd: this.psrd, calls, coalescing });
    this.fetches = new ShareFetches({
      link,
      psrd: this.psrd,
      calls,
      acks: this.acks,
      clientName: options.clientName,
      blockSize: psrdOptions.blockSize,
      coalescing,
    });
  }

  get url(): string {
    return this.link.url;
  }
  /** Hub name: from the registration response; until then the last URL path segment. */
  /** Requests this client made to the hub so far (status `io.hub_requests`, benchmarks). */
  get apiRequests(): number {
    return this.link.api.requests;
  }

  get name(): string {
    return this.link.name;
  }
  get registered(): boolean {
    return this.link.registered;
  }
  /** A hub of the reference implementation (reference-hub.ts). */
  /** Whether the hub URL is `https://`. */
  get secure(): boolean {
    return this.link.secure;
  }

  get reference(): boolean {
    return this.link.reference;
  }
  get scheme(): AuthSchemeName | undefined {
    return this.link.scheme;
  }
  get extensions(): ReadonlySet<string> {
    return this.link.extensions;
  }
  get lastError(): string | undefined {
    return this.link.lastError;
  }
  get lastFailureAt(): number {
    return this.link.lastFailureAt;
  }
  /** Time of the last exchange with the hub that succeeded (registration or signed call). */
  get lastOkAt(): number {
    return this.link.lastOkAt;
  }
  get supportsBatch(): boolean {
    return this.link.supportsBatch;
  }
  /** Whether this hub keeps released shares until we acknowledge them (the `ack` extension). */
  get supportsAck(): boolean {
    return this.link.supportsAck;
  }
  /** PSRD bytes consumed by one signed message under the negotiated scheme. */
  get messageCost(): number {
    return this.link.messageCost;
  }
  /** The first bundle from this hub is not installed yet. */
  get awaitingFirstBundle(): boolean {
    return this.registration.awaitingFirstBundle;
  }
  /** Not registered yet, but the first registration attempt has not failed either (startup), or the first bundle is on its way. */
  get registrationPending(): boolean {
    return this.registration.pending;
  }
  /** Acknowledgements not sent yet (diagnostics). */
  get pendingAckCount(): number {
    return this.acks.pendingCount;
  }
  /** Share posts merged into batch messages (diagnostics, tests). */
  get postCoalescer(): SharePosts["coalescer"] {
    return this.posts.coalescer;
  }
  /** Share fetches merged into batch messages (diagnostics, tests). */
  get fetchCoalescer(): ShareFetches["coalescer"] {
    return this.fetches.coalescer;
  }

  /** Start background registration and replenishment. */
  start(): void {
    this.registration.start();
    this.timer = setInterval(() => {
      if (this.link.registered) this.psrd.maybeReplenishBoth();
    }, this.psrdOptions.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (!this.link.stopped) await this.acks.flushBeforeStop();
    this.link.stopped = true;
    this.link.abort.abort();
    if (this.timer) clearInterval(this.timer);
    this.acks.stop();
    await this.registration.settled();
    await this.psrd.stop();
    this.link.api.close();
    this.needs.wake();
  }

  // registration.ts
  whenRegistered(timeoutMs?: number): Promise<void> {
    return this.registration.whenRegistered(timeoutMs);
  }
  ensureRegistering(): void {
    this.registration.ensureRegistering();
  }
  requireReregistration(reason: string): void {
    this.registration.requireReregistration(reason);
  }
  /**
   * Held for down (not registered)? Probe the hub now, bounded by the connect timeout, and register
   * at once if it is back (registration.ts). Resolves in every case; `registered` and `lastError`
   * then tell the current state.
   */
  probe(): Promise<void> {
    return this.registration.probe();
  }
  withChainLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.registration.withChainLock(fn);
  }
  onBundleInstalled(bytes: { local: number; peer: number }): void {
    this.registration.onBundleInstalled(bytes);
  }
  unregister(): Promise<void> {
    return this.registration.unregister();
  }
  resetPsrd(): Promise<void> {
    return this.registration.resetPsrd();
  }

  // replenishment.ts
  /** Our two pools with this hub (the bundle installer adds blocks to them). */
  pools(): Promise<{ local: Pool; peer: Pool }> {
    return this.psrd.pools();
  }
  /** Registered, with PSRD in both directions: keys can use this hub (what `dske-cli start` waits for). */
  get ready(): boolean {
    return this.registered && (this.poolStats("local")?.available ?? 0) > 0 && (this.poolStats("peer")?.available ?? 0) > 0;
  }

  poolStats(kind: PoolKind): PoolStats | undefined {
    return this.psrd.poolStats(kind);
  }
  maybeReplenish(kind: PoolKind): void {
    this.psrd.maybeReplenish(kind);
  }
  /** A one-time pad from the client-owned pool (key_source psrd: the pad is the share). */
  allocatePad(size: number, purpose: string): Promise<{ allocation: Allocation; data: Uint8Array }> {
    if (!this.link.registered) return Promise.reject(this.link.notRegistered());
    return this.psrd.allocateLocal(size, purpose);
  }

  // share-posts.ts, share-fetches.ts, acks.ts
  /** Post shares (one per key) to this hub; resolves when the hub acknowledged all of them. */
  async postShares(masterClient: string, items: readonly OutgoingShare[]): Promise<void> {
    if (!this.link.registered) await this.probe();
    return this.posts.post(masterClient, items);
  }
  /** Fetch and decrypt this hub's shares; keys it does not release are absent. Throws HubFailure when the hub fails. */
  async fetchShares(clientName: string, refs: readonly ShareRef[]): Promise<Map<string, FetchedShare>> {
    if (!this.link.registered) await this.probe();
    return this.fetches.fetch(clientName, refs);
  }
  /** Which of these key IDs the hub holds a live share of (unsigned, no PSRD). */
  sharesHeld(keyIds: readonly string[]): Promise<string[]> {
    return this.fetches.sharesHeld(keyIds);
  }
  /** Share metadata of these key IDs for this client's SAEs (signed; never values). */
  listShares(keyIds: readonly string[]): Promise<ShareMeta[]> {
    return this.fetches.listShares(keyIds);
  }
  /** Acknowledge keys (acks.ts): they ride on the next fetch to this hub, or go alone after `ackFlushMs`. */
  ack(masterSae: string, keyIds: readonly string[], evenUnfetched = false): void {
    this.acks.ack(masterSae, keyIds, evenUnfetched);
  }
  /** Send the pending acknowledgements now (no-op when none). */
  flushAcks(): Promise<void> {
    return this.acks.flush();
  }

  /** Record a wrong share detected by the responder. */
  noteBadShare(keyId: string): void {
    this.badShares++;
    this.lastBadShare = { key_id: keyId, at: new Date().toISOString() };
  }

  /**
   * Management status of this hub. `local_pool` / `peer_pool` are the reference's block view of
   * the client-owned pool (we allocate from it) and the hub-owned pool; they list block UUIDs and
   * usage only, never the block bytes (the reference's `data` field): no PSRD in a status.
   */
  status(): Record<string, unknown> {
    const pool = (kind: PoolKind) => {
      const s = this.poolStats(kind);
      return s ? { blocks: s.blocks, size: s.size, used: s.used, available: s.available } : { blocks: 0, size: 0, used: 0, available: 0 };
    };
    const blocks = (kind: PoolKind) => blockPoolStatus(this.psrd.blockUsage(kind) ?? [], kind);
    const chain = () => this.registration.chain();
    return {
      hub_name: this.name,
      url: this.url,
      tls: this.secure,
      // Plain HTTP to a hub off loopback (admitted with --allow-insecure-bind): flagged.
      ...(plainRemoteHubUrls(this.link.urls).length > 0 ? { insecure: true } : {}),
      registered: this.registered,
      auth_scheme: this.scheme ?? null,
      extensions: [...this.extensions],
      pending_acks: this.acks.pendingCount,
      last_error: this.lastError ?? null,
      bad_shares: this.badShares,
      last_bad_share: this.lastBadShare ?? null,
      ...(this.reference ? { implementation: "reference", notice: REFERENCE_HUB_NOTICE } : {}),
      pools: { client_owned: pool("local"), hub_owned: pool("peer") },
      local_pool: blocks("local"),
      peer_pool: blocks("peer"),
      psrd: {
        delivery: this.reference ? "reference-network" : this.psrdOptions.delivery,
        bundles_installed: chain()?.seq ?? 0,
        awaiting_first_bundle: this.awaitingFirstBundle,
        unconfirmed_blocks: chain()?.unconfirmed.length ?? 0,
        needs: this.needs.pending(),
      },
    };
  }
}
