/**
 * Client: the DSKE client (KME) domain object, the facade over its parts. No HTTP here (the
 * router in http/ is a thin adapter). Validation of the SAEs a request names is here; then:
 *
 * - Master side (`getKeys`, ETSI Get key): key-issuing.ts (the key stock, key-stock.ts, or
 *   on demand through scatter.ts: split, post to all hubs, k acknowledgements).
 * - Slave side (`getKeysWithIds`, ETSI Get key with key IDs): key-delivery.ts (held-keys.ts,
 *   gather.ts: fetch from k hubs, reconstruct, verify; acks.ts).
 * - Each hub: peer-hub.ts (registration, replenishment, share messages, acks).
 * - ETSI Get status with real values from the PSRD pools; the management status.
 */
import path from "node:path";
import { FsyncCounter } from "@dske/psrd";
import type { EtsiStatus, KeyContainer } from "@dske/protocol";
import { badRequest, unauthorized } from "./errors.js";
import { DEFAULT_ETSI_LIMITS, checkLimits, type EncKeysRequest, type EtsiLimits } from "./etsi.js";
import { secretLength } from "./key.js";
import { UnknownKeyGuard } from "./unknown-keys.js";
import { PartialShares } from "./partial-shares.js";
import { KeyStore } from "./key-store.js";
import { KeyStock } from "./key-stock.js";
import { silentLogger, type Logger } from "./logger.js";
import { NodeState } from "./node-state.js";
import { PeerHub } from "./peer-hub.js";
import { resolvePsrdOptions } from "./replenishment.js";
import { BundleInstaller, type InstalledBundle } from "./bundle-installer.js";
import { NeedBoard, type PsrdNeed } from "./psrd-needs.js";
import { DEFAULT_HELD_KEY_TTL_MS, type ClientOptions } from "./client-options.js";
import { HeldKeys } from "./held-keys.js";
import { Scatter } from "./scatter.js";
import { Gather } from "./gather.js";
import { KeyIssuing } from "./key-issuing.js";
import { KeyDelivery } from "./key-delivery.js";
import { REFERENCE_GUARANTEE } from "./reference-key.js";
import { referenceHubUrls } from "./reference-hub.js";

export type { ClientOptions, ClientPsrdOptions, GatherOptions } from "./client-options.js";

/** Max wait for first registrations still in flight when a request arrives right after start. */
const STARTUP_WAIT_MS = 5000;
/** How often `whenReady` looks at the hubs' registration and pools (in memory, microseconds a look). */
const READY_LOOK_MS = 5;

export class Client {
  readonly name: string;
  readonly encryptors: readonly string[];
  readonly k: number;
  readonly limits: EtsiLimits;
  readonly peerHubs: readonly PeerHub[];
  /** The SAE that plain-mode ETSI calls without `Authorization` are taken from (`etsi.anonymousSingleSae`), else undefined. */
  readonly anonymousSae: string | undefined;
  /** What the pools need from the local distributor (long poll of the management API). */
  readonly needBoard = new NeedBoard();
  private readonly logger: Logger;
  private readonly held: HeldKeys;
  /** Shares of keys not yet reconstructable, kept for a retry (partial-shares.ts). */
  private readonly partial: PartialShares;
  private readonly background = new Set<Promise<unknown>>();
  private stopped = false;
  private readonly badShareLog: { hub: string; key_id: string; at: string }[] = [];
  private readonly unknownKeys = new UnknownKeyGuard();
  /** Master side: keys established ahead per (master SAE, slave SAE, size) (key-stock.ts). */
  private readonly stock: KeyStock;
  private lastSweep = 0;
  private sharedRefresh: NodeJS.Timeout | undefined;
  private readonly stopThreshold: number;
  private readonly installer: BundleInstaller;
  private readonly issuing: KeyIssuing;
  private readonly delivery: KeyDelivery;
  /** This client's own fsyncs (key store, node state, pools), even beside other nodes in one process. */
  private readonly fsyncs: FsyncCounter | undefined;
  /** SAE IDs hosted by reference-implementation KMEs (reference-key.ts). */
  readonly referenceSaes: ReadonlySet<string>;
  private readonly gather: Gather;

  private constructor(
    private readonly options: ClientOptions,
    readonly keyStore: KeyStore,
    private readonly nodeState: NodeState,
  ) {
    this.name = options.name;
    this.encryptors = [...options.encryptors];
    if (options.etsi?.anonymousSingleSae === true && this.encryptors.length !== 1) {
      throw new RangeError(
        `etsi.anonymousSingleSae: client ${this.name} hosts ${this.encryptors.length} encryptors; only a KME with exactly one SAE ` +
          "may take ETSI calls without Authorization as from that SAE (turn it off, or host one SAE)",
      );
    }
    this.anonymousSae = options.etsi?.anonymousSingleSae === true ? this.encryptors[0] : undefined;
    this.k = options.minNrShares ?? 3;
    this.limits = checkLimits({ ...DEFAULT_ETSI_LIMITS, ...options.limits });
    this.logger = options.logger ?? silentLogger;
    const dirs = [options.stateDir, options.psrdStore.dir].filter((d): d is string => d !== undefined);
    this.fsyncs = dirs.length > 0 ? new FsyncCounter(dirs) : undefined;
    const heldTtl = options.gather?.heldKeyTtlMs ?? DEFAULT_HELD_KEY_TTL_MS;
    this.held = new HeldKeys(heldTtl);
    this.partial = new PartialShares(heldTtl);
    this.stock = new KeyStock(options.stock ?? {});
    if (!Number.isInteger(this.k) || this.k < 1 || this.k > 255) throw new RangeError("min_nr_shares must be an integer in 1..255");
    if (options.hubs.length < this.k) {
      throw new RangeError(`min_nr_shares (${this.k}) is larger than the number of hubs (${options.hubs.length})`);
    }
    if (options.hubs.length > 255) throw new RangeError("at most 255 hubs");
    this.referenceSaes = new Set(options.referenceSaes ?? []);
    const own = this.encryptors.filter((e) => this.referenceSaes.has(e));
    if (own.length > 0) throw new RangeError(`referenceSaes: ${own.join(", ")} are encryptors of this client, not of a reference KME`);
    const positions = options.hubPositions ?? options.hubs.map((_, i) => i);
    if (
      positions.length !== options.hubs.length ||
      new Set(positions).size !== positions.length ||
      positions.some((p) => !Number.isInteger(p) || p < 0 || p > 254)
    ) {
      throw new RangeError("hubPositions: expected one distinct position (0..254) per hub URL");
    }
    const gatherK = Math.max(this.k, options.gatherMinNrShares ?? this.k);
    if (!Number.isInteger(gatherK) || gatherK > options.hubs.length) {
      throw new RangeError(`gatherMinNrShares (${gatherK}) must be an integer at most the number of hubs (${options.hubs.length})`);
    }
    if (new Set(options.hubs.map((u) => u.replace(/\/+$/, ""))).size !== options.hubs.length) {
      throw new RangeError("duplicate hub URL");
    }
    const psrd = { ...options.psrd };
    delete psrd.inboxDir;
    this.stopThreshold = resolvePsrdOptions(psrd).stopThreshold; // also checks the thresholds
    // Reference hubs sign with hmac-sha256 only: it must be allowed (proposed, or fallback allowed).
    const hmacAllowed = options.link?.authScheme === "hmac-sha256" || options.link?.requireAuthScheme === false;
    const referenceHubs = referenceHubUrls(options.hubs, options.referenceHubs ?? [], hmacAllowed);
    this.peerHubs = options.hubs.map(
      (url) =>
        new PeerHub({
          reference: referenceHubs.has(url.replace(/\/+$/, "")),
          url,
          clientName: options.name,
          encryptors: this.encryptors,
          store: options.psrdStore,
          state: nodeState,
          logger: this.logger,
          psrd,
          link: options.link,
          ...(options.hubTls ? { hubTls: options.hubTls } : {}),
          onNeed: () => this.needBoard.notify(),
        }),
    );
    for (const h of this.peerHubs) this.needBoard.add(h.needs);
    this.installer = new BundleInstaller(options.name, this.peerHubs, nodeState, this.logger);
    const track = (p: Promise<unknown>) => this.track(p);
    const settleStartup = () => this.settleStartup();
    const scatter = new Scatter({
      clientName: this.name,
      hubs: this.peerHubs,
      positions,
      k: this.k,
      keySource: options.keySource ?? "random",
      keyStore,
      logger: this.logger,
      track,
      settleStartup,
      referenceSaes: this.referenceSaes,
    });
    this.issuing = new KeyIssuing({
      hubs: this.peerHubs,
      k: this.k,
      stock: this.stock,
      scatter,
      logger: this.logger,
      track,
      stopped: () => this.stopped,
      referenceSaes: this.referenceSaes,
    });
    const gather = new Gather({
      clientName: this.name,
      encryptors: this.encryptors,
      hubs: this.peerHubs,
      positions,
      k: gatherK,
      held: this.held,
      partial: this.partial,
      keyStore,
      logger: this.logger,
      hedgeMs: options.gather?.hedgeMs,
      onBadShare: (hub, keyId) => this.noteBadShare(hub, keyId),
      referenceSaes: this.referenceSaes,
    });
    this.gather = gather;
    this.delivery = new KeyDelivery({
      encryptors: this.encryptors,
      hubs: this.peerHubs,
      k: this.k,
      held: this.held,
      keyStore,
      unknownKeys: this.unknownKeys,
      gather,
      logger: this.logger,
      settleStartup,
      referenceSaes: this.referenceSaes,
    });
  }

  /** Open durable state (if stateDir) and build the client; call start() to register with hubs. */
  static async create(options: ClientOptions): Promise<Client> {
    const keyStore = await KeyStore.open({
      file: options.stateDir ? path.join(options.stateDir, "keys.jsonl") : undefined,
      ...(options.deliveryLedger ? { ledger: options.deliveryLedger } : {}),
    });
    const nodeState = options.nodeStateBackend
      ? await NodeState.openShared(options.nodeStateBackend)
      : await NodeState.open(options.stateDir ? path.join(options.stateDir, "client-state.json") : undefined);
    return new Client(options, keyStore, nodeState);
  }

  /** Where bundles wait to be installed at start (undefined without a state dir). */
  get inboxDir(): string | undefined {
    return this.options.psrd?.inboxDir ?? (this.options.stateDir ? path.join(this.options.stateDir, "inbox") : undefined);
  }

  /** Install a PSRD bundle file (see bundle-installer.ts); throws BundleInstallError. */
  installBundle(file: string): Promise<InstalledBundle> {
    return this.installer.install(file);
  }

  /** Operator: forget our PSRD with hub `hubName` (it lost its state); a new first bundle follows. */
  async resetHubPsrd(hubName: string): Promise<void> {
    const peer = this.peerHubs.find((h) => h.name === hubName);
    if (!peer) throw badRequest(`hub ${hubName} is not one of the hubs of client ${this.name}`, [{ hub_name: hubName }]);
    await peer.resetPsrd();
  }

  /** The local distributor's long poll: PSRD needs of the hubs' pools (each handed over once). */
  psrdNeeds(waitMs: number, signal?: AbortSignal, hubName?: string): Promise<PsrdNeed[]> {
    return this.needBoard.wait(waitMs, signal, hubName);
  }

  /** Ready with every hub (PeerHub.ready): registered, with PSRD in both directions. */
  get ready(): boolean {
    return this.peerHubs.every((h) => h.ready);
  }

  /**
   * Resolves once the client is ready or after `waitMs`, whichever is first, or when `signal`
   * aborts (the management status' long poll). Looks every READY_LOOK_MS: a look reads memory only.
   */
  async whenReady(waitMs: number, signal?: AbortSignal): Promise<void> {
    await this.lookUntil(() => this.ready || this.stopped, Date.now() + waitMs, READY_LOOK_MS, signal);
  }

  /**
   * Look at `done` every `everyMs` until it holds (true), or until the epoch ms `until` passes or
   * `signal` aborts (false). Each look reads memory only (registrations, pool levels).
   */
  private async lookUntil(done: () => boolean, until: number, everyMs: number, signal?: AbortSignal): Promise<boolean> {
    while (!done()) {
      if (signal?.aborted || Date.now() >= until) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(everyMs, Math.max(0, until - Date.now()))));
    }
    return true;
  }

  /** Install the bundles waiting in the inbox, then register with every hub (in the background, retrying while a hub is down). */
  async start(): Promise<void> {
    const inbox = this.inboxDir;
    if (inbox) await this.installer.installDirectory(inbox);
    for (const h of this.peerHubs) h.start();
    if (this.nodeState.shared) this.followSharedState();
  }

  /**
   * Replicas: read the shared node state again every sharedStateRefreshMs. A bundle chain that
   * another replica installed (or stepped) lets this one register with that hub too.
   */
  private followSharedState(): void {
    this.nodeState.onChainChanged((hubName) => {
      const peer = this.peerHubs.find((h) => h.name === hubName);
      if (peer && !peer.registered && !this.stopped) peer.ensureRegistering();
    });
    const every = this.options.sharedStateRefreshMs ?? 1000;
    this.sharedRefresh = setInterval(() => {
      if (this.stopped) return;
      this.nodeState
        .refresh()
        .catch((err: unknown) =>
          this.logger.warn("shared client state refresh failed", { err: err instanceof Error ? err.message : String(err) }),
        );
    }, every);
    this.sharedRefresh.unref();
  }

  /** Wait until at least `count` hubs (default all) are registered. */
  async whenRegistered(count = this.peerHubs.length, timeoutMs = 60_000): Promise<void> {
    const registered = () => this.peerHubs.filter((h) => h.registered).length;
    if (!(await this.lookUntil(() => registered() >= count, Date.now() + timeoutMs, 20))) {
      throw new Error(`only ${registered()} of ${count} hubs registered`);
    }
  }

  /**
   * Right after start, registrations are still in flight: a request then waits (bounded) for the
   * hubs whose first registration attempt has not failed, instead of failing with "not registered".
   */
  private async settleStartup(): Promise<void> {
    const settled = () => !this.peerHubs.some((h) => h.registrationPending) || this.peerHubs.every((h) => h.registered);
    await this.lookUntil(settled, Date.now() + STARTUP_WAIT_MS, 10);
  }

  /** Stop: background work finishes, stores flushed. Does NOT unregister (restart keeps state). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sharedRefresh) clearInterval(this.sharedRefresh);
    await Promise.allSettled([...this.background]);
    await Promise.allSettled(this.peerHubs.map((h) => h.stop()));
    this.stock.clear();
    this.held.clear();
    this.partial.clear();
    await this.keyStore.close();
    await this.nodeState.close();
    this.fsyncs?.close();
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch(() => undefined).finally(() => this.background.delete(q));
    this.background.add(q);
  }

  // ------------------------------------------------------------------ validation helpers

  private requireEncryptor(sae: string, role: string): void {
    if (!this.encryptors.includes(sae)) {
      throw unauthorized(`SAE ${sae} is not an encryptor of KME ${this.name}`, [{ [role]: sae, kme: this.name }]);
    }
  }

  private checkPeerSae(sae: string, master: string, what: string): void {
    if (sae === master) throw badRequest(`${what} must differ from the master SAE`, [{ [what]: sae }]);
    const dir = this.options.kmeDirectory;
    if (dir && !(sae in dir)) throw badRequest(`unknown ${what} ${sae}`, [{ [what]: sae }]);
  }

  /** The KME (client) hosting an SAE, "" if unknown. */
  kmeOf(sae: string): string {
    if (this.encryptors.includes(sae)) return this.name;
    return this.options.kmeDirectory?.[sae] ?? "";
  }

  // ------------------------------------------------------------------ keys

  /** ETSI Get key: `masterSae` is the caller, `slaveSae` from the URL (key-issuing.ts). */
  async getKeys(masterSae: string, slaveSae: string, request: EncKeysRequest): Promise<KeyContainer> {
    this.requireEncryptor(masterSae, "master_SAE_ID");
    this.checkPeerSae(slaveSae, masterSae, "slave_SAE_ID");
    const seen = new Set([slaveSae]);
    for (const a of request.additionalSlaves) {
      this.checkPeerSae(a, masterSae, "additional_slave_SAE_ID");
      if (seen.has(a)) throw badRequest("duplicate slave SAE ID in additional_slave_SAE_IDs", [{ additional_slave_SAE_ID: a }]);
      seen.add(a);
    }
    return this.issuing.issue(masterSae, slaveSae, request);
  }

  /** ETSI Get key with key IDs: `slaveSae` is the caller, `masterSae` from the URL (key-delivery.ts). */
  async getKeysWithIds(slaveSae: string, masterSae: string, keyIds: readonly string[]): Promise<KeyContainer> {
    this.requireEncryptor(slaveSae, "slave_SAE_ID");
    if (masterSae === slaveSae) throw badRequest("master_SAE_ID must differ from the calling SAE", [{ master_SAE_ID: masterSae }]);
    this.sweepHeld();
    return this.delivery.deliver(slaveSae, masterSae, keyIds);
  }

  /** Send every pending share acknowledgement now (ack extension; tests and shutdown). */
  async flushAcks(): Promise<void> {
    await Promise.all(this.peerHubs.map((h) => h.flushAcks()));
  }

  private noteBadShare(hubName: string, keyId: string): void {
    const hub = this.peerHubs.find((h) => h.name === hubName);
    hub?.noteBadShare(keyId);
    this.badShareLog.push({ hub: hubName, key_id: keyId, at: new Date().toISOString() });
    if (this.badShareLog.length > 100) this.badShareLog.shift();
    this.logger.warn("bad share from hub", { hub: hubName, key_id: keyId });
  }

  private sweepHeld(): void {
    const now = Date.now();
    // At most once a second: held keys and stock live for tens of seconds.
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    this.stock.sweep();
    this.partial.sweep(now);
    this.held.sweep(now);
  }

  // ------------------------------------------------------------------ status

  /**
   * ETSI Get status. `stored_key_count`: how many keys of `key_size` the current client-side PSRD
   * still supports towards that slave: per registered hub, min(client-owned available / (|S| + MAC),
   * hub-owned available / MAC) single-key requests; the k-th largest over the hubs (k shares must
   * get through).
   */
  status(masterSae: string, slaveSae: string): EtsiStatus {
    this.requireEncryptor(masterSae, "master_SAE_ID");
    this.checkPeerSae(slaveSae, masterSae, "slave_SAE_ID");
    const keySize = this.limits.defaultKeySize;
    // A reference-format share is as long as the key (reference-key.ts); ours carries pad and check word.
    const S = this.referenceSaes.has(slaveSae) ? keySize / 8 : secretLength(keySize);
    const perHub: number[] = [];
    const perHubMax: number[] = [];
    for (const h of this.peerHubs) {
      const local = h.poolStats("local");
      const peer = h.poolStats("peer");
      if (!h.registered || !local || !peer) continue;
      const mac = h.messageCost;
      perHub.push(Math.max(0, Math.min(Math.floor(local.available / (S + mac)), Math.floor(peer.available / mac))));
      perHubMax.push(Math.floor(Math.max(this.stopThreshold, local.available) / (S + mac)));
    }
    const kth = (xs: number[]) => (xs.length < this.k ? 0 : [...xs].sort((a, b) => b - a)[this.k - 1]);
    const stored = kth(perHub);
    return {
      source_KME_ID: this.name,
      target_KME_ID: this.kmeOf(slaveSae),
      master_SAE_ID: masterSae,
      slave_SAE_ID: slaveSae,
      key_size: keySize,
      stored_key_count: stored,
      max_key_count: Math.max(stored, kth(perHubMax)),
      max_key_per_request: this.limits.maxKeyPerRequest,
      max_key_size: this.limits.maxKeySize,
      min_key_size: this.limits.minKeySize,
      max_SAE_ID_count: this.limits.maxSaeIdCount,
    };
  }

  /** Management status (never key, share or PSRD bytes). */
  mgmtStatus(): Record<string, unknown> {
    const issued = this.issuing.counts;
    return {
      name: this.name,
      // both spellings: `encryptor_names` as the reference, `encryptors` as SYSTEM.md
      encryptor_names: [...this.encryptors],
      encryptors: [...this.encryptors],
      ...(this.anonymousSae !== undefined ? { etsi_anonymous_sae: this.anonymousSae } : {}),
      min_nr_shares: this.k,
      ...(this.options.nodeStateBackend ? { storage: this.options.nodeStateBackend.description } : {}),
      peer_hubs: this.peerHubs.map((h) => h.status()),
      keys: {
        ...this.keyStore.counts(),
        held: this.held.size,
        stocked: this.stock.total(),
        issued_from_stock: issued.stock,
        issued_on_demand: issued.demand,
        prefetched: this.delivery.prefetched,
        // Why keys were not served from the stock: pair quiet, stock empty, fewer than k hubs known good.
        stock_misses: { ...this.stock.misses, hubs: issued.stockSkippedHubs },
      },
      bad_shares: [...this.badShareLog],
      unknown_key_ids: { budget_per_minute: this.unknownKeys.budget, guarded: this.unknownKeys.guardedSaes() },
      // Keys exchanged with reference-implementation KMEs carry their weaker, computational check.
      reference_interop: {
        saes: [...this.referenceSaes],
        guarantee: REFERENCE_GUARANTEE,
        keys_issued: issued.reference,
        keys_reconstructed: this.gather.referenceKeys,
      },
      // Hubs of the reference implementation: PSRD over the network, unauthenticated (peer_hubs[].notice).
      reference_hubs: this.peerHubs.filter((h) => h.reference).map((h) => h.name),
      // Diagnostics for benchmarks: fsync/fdatasync calls and HTTP requests to hubs since start.
      io: { fsyncs: this.fsyncs?.fsyncs ?? 0, hub_requests: this.peerHubs.reduce((n, h) => n + h.apiRequests, 0) },
    };
  }
}
