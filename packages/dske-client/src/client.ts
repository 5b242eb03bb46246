/**
 * Client: the DSKE client (KME) domain object. No HTTP here (the router is a thin adapter).
 *
 * - Master side (`getKeys`, ETSI Get key): make keys, split each into n Shamir shares (one per
 *   configured hub, x = hub position + 1), post the shares to all hubs in parallel and succeed as
 *   soon as k hubs acknowledged (the rest finish in the background). Fewer than k → 503 naming the
 *   shortfall and each hub's failure.
 * - Slave side (`getKeysWithIds`, ETSI Get key with key IDs): fetch shares from k hubs in parallel
 *   (healthy hubs first), reconstruct and verify the check word; if a hub fails or a check fails,
 *   fetch from the remaining hubs and reconstruct robustly, naming the bad hubs. A share whose
 *   share_index is not its hub's position + 1 is that hub's bad share (so every client of a topology
 *   must list the hubs in the same order, as dske-cli does). Never a wrong key: 503 instead.
 * - ETSI Get status with real values from the PSRD pools.
 */
import path from "node:path";
import type { AuthSchemeName } from "@dske/auth";
import { ChannelCounter, FsyncCounter, type PsrdStore } from "@dske/psrd";
import { HUB_API_REQUEST_CHANNEL, type EtsiStatus, type KeyContainer } from "@dske/protocol";
import { EtsiError, KEYS_NOT_FOUND_MESSAGE, badRequest, unauthorized, unavailable } from "./errors.js";
import {
  DEFAULT_ETSI_LIMITS,
  checkLimits,
  type EncKeysRequest,
  type EtsiLimits,
} from "./etsi.js";
import { batchSiblings, isMulticastKeyId, makeSplitKey, newBatchKeyIds, pooledRandom, splitRandomBytes, padLengthFromKeyId, reconstructKey, secretLength, type SourcedShare, type SplitKey } from "./key.js";
import { UnknownKeyGuard, listedByHubs } from "./unknown-keys.js";
import { PartialShares } from "./partial-shares.js";
import { makePsrdSplitKeys, type KeySource, type PadAllocation } from "./key-source.js";
import { KeyStore } from "./key-store.js";
import { KeyStock, MAX_STOCK_BATCH } from "./key-stock.js";
import { silentLogger, type Logger } from "./logger.js";
import { NodeState } from "./node-state.js";
import { HubFailure, PeerHub, type OutgoingShare, type ShareRef } from "./peer-hub.js";
import { BundleInstaller, type InstalledBundle } from "./bundle-installer.js";
import { NeedBoard, type PsrdNeed } from "./psrd-needs.js";

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
  /** Start fetching PSRD when a pool's available bytes drop below this (default 500). */
  startRequestPsrdThreshold?: number;
  /** Stop fetching PSRD when above this (default 2000). */
  stopRequestPsrdThreshold?: number;
  /** PSRD block size in bytes (default 1000). */
  getPsrdBlockSize?: number;
  /** Durable state (registrations, key bookkeeping) goes here; memory only when absent. */
  stateDir?: string;
  /** SAE → client (KME) name, for target_KME_ID and slave SAE validation. */
  kmeDirectory?: Readonly<Record<string, string>>;
  /** ETSI limits (key sizes, number per request, multicast). */
  limits?: Partial<EtsiLimits>;
  logger?: Logger;
  /** Proposed hub auth scheme (default gf128). */
  authScheme?: AuthSchemeName;
  /**
   * Refuse a hub that chooses another scheme than the proposed one (default true: a client
   * requires gf128). Set false only where the topology allows hmac-sha256 (reference hubs).
   */
  requireAuthScheme?: boolean;
  /** Hub registration retry backoff (ms). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Per hub request timeout (ms). */
  hubTimeoutMs?: number;
  /** Reconstructed keys that could not be handed out (the request failed for another key) are held
   *  in memory this long so that a retry succeeds (the hubs may already have dropped the shares). */
  heldKeyTtlMs?: number;
  /** Responder: start fetching from the remaining hubs when the first k have not all answered
   *  within this many ms (default 1000). */
  gatherHedgeMs?: number;
  /** Merge concurrent requests to a hub into batch messages (default true; see coalescer.ts). */
  coalesce?: boolean;
  /** Ack extension: send pending share acknowledgements alone after this many ms without a fetch (default 1000). */
  ackFlushMs?: number;
  /** Propose the hubs' `ack` extension (default true): released shares are kept until acknowledged. */
  ackExtension?: boolean;
  /** Where keys come from: "random" (default, crypto.randomBytes) or "psrd" (PSRD used as shares; key-source.ts). */
  keySource?: KeySource;
  /**
   * Key stock (key-stock.ts): keys for a busy (master SAE, slave SAE) pair are established this
   * many ms of measured demand ahead, in batches; 0 disables it. Default 2000.
   */
  keyStockAheadMs?: number;
  /** Lifetime of a stocked key (ms), default 20,000; keep it well below the hubs' share timeout. */
  keyStockTtlMs?: number;
  /** The key stock's clock (epoch ms; default Date.now): demand rates, look-ahead and key lifetimes. Tests drive it. */
  keyStockClock?: () => number;
  /** PSRD delivery (default "bundle": installed out of band; "network": GET psrd, see peer-hub.ts). */
  psrdDelivery?: "bundle" | "network";
  /** Longest wait of a request for a PSRD bundle when a pool runs short (default 10,000 ms). */
  psrdWaitMs?: number;
  /** Usable bytes per pool asked for in the first bundle of each hub (default 65,536). */
  initialPsrdBytes?: number;
  /** Bundles found here are installed at start (default `<stateDir>/inbox`). */
  inboxDir?: string;
}

interface HeldKey {
  key: Uint8Array;
  expires: number;
}

/** What the slave side found for one key ID. */
type GatherOutcome = { key: Uint8Array } | { error: EtsiError };

const nowMs = () => Date.now();
/** When k acknowledgements are out of reach, wait this long for the other hubs before reporting. */
const QUORUM_REPORT_WAIT_MS = 3000;
/**
 * enc_keys for more keys than this bypass the key stock: such a request is a batch of its own (one
 * message per hub for all its keys), so the stock would only split it and add messages. Up to this
 * size many concurrent requests are served from refills of 512..2000 keys (key-stock.ts), i.e. far
 * fewer, bigger hub messages: measured with 16 SAE callers asking for 100 keys each (e2e bench),
 * 0.37 ms of node CPU per key from the stock against 0.52 ms on demand, on the same machine.
 */
const STOCK_MAX_REQUEST = 256;
/** The key stock is used only while k hubs answered fine within this many ms (see healthyHubs). */
const STOCK_FRESH_MS = 3000;
/** Max wait for first registrations still in flight when a request arrives right after start. */
const STARTUP_WAIT_MS = 5000;

export class Client {
  readonly name: string;
  readonly encryptors: readonly string[];
  readonly k: number;
  readonly limits: EtsiLimits;
  readonly peerHubs: readonly PeerHub[];
  private readonly logger: Logger;
  private readonly held = new Map<string, HeldKey>();
  /** Shares of keys not yet reconstructable, kept for a retry (partial-shares.ts). */
  private readonly partial: PartialShares;
  private readonly background = new Set<Promise<unknown>>();
  private rotation = 0;
  private stopped = false;
  private readonly badShareLog: { hub: string; key_id: string; at: string }[] = [];
  private readonly unknownKeys = new UnknownKeyGuard();
  /** Master side: keys established ahead per (master SAE, slave SAE, size) (key-stock.ts). */
  private readonly stock: KeyStock;
  private lastSweep = 0;
  /** Slave side: keys being fetched right now (held-key name → settles when that fetch is done). */
  private readonly fetching = new Map<string, Promise<void>>();
  /** Keys handed to master SAEs from the stock / established on demand (status, bench). */
  private readonly issuedFrom = { stock: 0, demand: 0, prefetched: 0, stockSkippedHubs: 0 };
  /** fsync / fdatasync calls and HubApi requests of this process since the client started (status `io`). */
  private readonly io = { fsyncs: new FsyncCounter(), hubRequests: new ChannelCounter(HUB_API_REQUEST_CHANNEL) };
  /** What the pools need from the local distributor (long poll of the management API). */
  readonly needBoard = new NeedBoard();
  private readonly installer: BundleInstaller;

  private constructor(
    private readonly options: ClientOptions,
    readonly keyStore: KeyStore,
    private readonly nodeState: NodeState,
  ) {
    this.name = options.name;
    this.encryptors = [...options.encryptors];
    this.k = options.minNrShares ?? 3;
    this.limits = checkLimits({ ...DEFAULT_ETSI_LIMITS, ...options.limits });
    this.logger = options.logger ?? silentLogger;
    this.partial = new PartialShares(options.heldKeyTtlMs ?? 60_000);
    this.stock = new KeyStock({ aheadMs: options.keyStockAheadMs, ttlMs: options.keyStockTtlMs, now: options.keyStockClock });
    const start = options.startRequestPsrdThreshold ?? 500;
    const stop = options.stopRequestPsrdThreshold ?? 2000;
    const block = options.getPsrdBlockSize ?? 1000;
    if (!Number.isInteger(this.k) || this.k < 1 || this.k > 255) throw new RangeError("min_nr_shares must be an integer in 1..255");
    if (options.hubs.length < this.k) {
      throw new RangeError(`min_nr_shares (${this.k}) is larger than the number of hubs (${options.hubs.length})`);
    }
    if (options.hubs.length > 255) throw new RangeError("at most 255 hubs");
    if (new Set(options.hubs.map((u) => u.replace(/\/+$/, ""))).size !== options.hubs.length) {
      throw new RangeError("duplicate hub URL");
    }
    if (!(start >= 0 && stop >= start && block >= 1)) {
      throw new RangeError("PSRD thresholds must satisfy 0 <= start <= stop, block size >= 1");
    }
    this.peerHubs = options.hubs.map(
      (url) =>
        new PeerHub({
          url,
          clientName: options.name,
          encryptors: this.encryptors,
          store: options.psrdStore,
          state: nodeState,
          logger: this.logger,
          startThreshold: start,
          stopThreshold: stop,
          blockSize: block,
          authScheme: options.authScheme,
          requireAuthScheme: options.requireAuthScheme,
          retryInitialMs: options.retryInitialMs,
          retryMaxMs: options.retryMaxMs,
          timeoutMs: options.hubTimeoutMs,
          coalesce: options.coalesce,
          ackFlushMs: options.ackFlushMs,
          ackExtension: options.ackExtension,
          psrdDelivery: options.psrdDelivery,
          psrdWaitMs: options.psrdWaitMs,
          initialPsrdBytes: options.initialPsrdBytes,
          onNeed: () => this.needBoard.notify(),
        }),
    );
    for (const h of this.peerHubs) this.needBoard.add(h.needs);
    this.installer = new BundleInstaller(options.name, this.peerHubs, nodeState, this.logger);
  }

  /** Where bundles wait to be installed at start (undefined without a state dir). */
  get inboxDir(): string | undefined {
    return this.options.inboxDir ?? (this.options.stateDir ? path.join(this.options.stateDir, "inbox") : undefined);
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

  /** Open durable state (if stateDir) and build the client; call start() to register with hubs. */
  static async create(options: ClientOptions): Promise<Client> {
    const keyStore = await KeyStore.open({ file: options.stateDir ? path.join(options.stateDir, "keys.jsonl") : undefined });
    const nodeState = await NodeState.open(options.stateDir ? path.join(options.stateDir, "client-state.json") : undefined);
    return new Client(options, keyStore, nodeState);
  }

  /** Install the bundles waiting in the inbox, then register with every hub (in the background, retrying while a hub is down). */
  async start(): Promise<void> {
    const inbox = this.inboxDir;
    if (inbox) await this.installer.installDirectory(inbox);
    for (const h of this.peerHubs) h.start();
  }

  /** Wait until at least `count` hubs (default all) are registered. */
  async whenRegistered(count = this.peerHubs.length, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.peerHubs.filter((h) => h.registered).length < count) {
      if (Date.now() > until) throw new Error(`only ${this.peerHubs.filter((h) => h.registered).length} of ${count} hubs registered`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Right after start, registrations are still in flight: a request then waits (bounded) for the
   * hubs whose first registration attempt has not failed, instead of failing with "not registered".
   */
  private async settleStartup(): Promise<void> {
    const until = nowMs() + STARTUP_WAIT_MS;
    while (
      this.peerHubs.some((h) => h.registrationPending) &&
      this.peerHubs.filter((h) => h.registered).length < this.peerHubs.length &&
      nowMs() < until
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Stop: background work finishes, stores flushed. Does NOT unregister (restart keeps state). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.allSettled([...this.background]);
    await Promise.allSettled(this.peerHubs.map((h) => h.stop()));
    this.stock.clear();
    for (const h of this.held.values()) h.key.fill(0);
    this.partial.clear();
    this.held.clear();
    await this.keyStore.close();
    await this.nodeState.flush();
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

  // ------------------------------------------------------------------ master side

  /** ETSI Get key: `masterSae` is the caller, `slaveSae` from the URL. */
  async getKeys(masterSae: string, slaveSae: string, request: EncKeysRequest): Promise<KeyContainer> {
    this.requireEncryptor(masterSae, "master_SAE_ID");
    this.checkPeerSae(slaveSae, masterSae, "slave_SAE_ID");
    const additional = request.additionalSlaves;
    const seen = new Set([slaveSae]);
    for (const a of additional) {
      this.checkPeerSae(a, masterSae, "additional_slave_SAE_ID");
      if (seen.has(a)) throw badRequest("duplicate slave SAE ID in additional_slave_SAE_IDs", [{ additional_slave_SAE_ID: a }]);
      seen.add(a);
    }
    const started = nowMs();
    const slaves = [slaveSae, ...additional];

    // Key stock (key-stock.ts): single-slave keys come from the stock when it has them; the rest
    // is established now. The stock is refilled in the background as the demand warrants.
    // A stocked key is handed out only while at least k hubs are known good (registered, last
    // exchange fine and recent) and the pair's demand is ongoing (key-stock.ts): otherwise the
    // request goes the on-demand way, which checks the hubs (503 naming the shortfall).
    // Requests for many keys are one batch anyway: they are established on demand and do not count
    // as stock demand (STOCK_MAX_REQUEST).
    const stockable = additional.length === 0 && request.number <= STOCK_MAX_REQUEST && this.stock.enabled;
    const stockUsable = stockable && this.healthyHubs() >= this.k;
    const stocked = stockUsable ? this.stock.take(masterSae, slaveSae, request.size, request.number) : [];
    if (stockable && !stockUsable) this.issuedFrom.stockSkippedHubs += request.number;
    let fresh: { keyId: string; key: Uint8Array }[] = [];
    try {
      if (stocked.length < request.number) {
        fresh = await this.establish(masterSae, slaves, request.size, request.number - stocked.length);
      }
    } catch (err) {
      this.stock.putBack(masterSae, slaveSae, request.size, stocked);
      if (err instanceof EtsiError) this.logger.warn(`enc_keys ${masterSae}->${slaveSae} failed: ${err.message}`);
      throw err;
    } finally {
      if (stockable) this.maybeRefill(masterSae, slaveSae, request.size);
    }
    const made = [...stocked, ...fresh];
    this.issuedFrom.stock += stocked.length;
    this.issuedFrom.demand += fresh.length;
    const container: KeyContainer = {
      keys: made.map((m) => ({ key_ID: m.keyId, key: Buffer.from(m.key).toString("base64") })),
    };
    for (const m of made) m.key.fill(0);
    this.logger.info(
      `keys issued: ${masterSae} -> ${slaves.join(",")} number=${request.number} size=${request.size} ` +
        `from_stock=${stocked.length} ids=${summarizeIds(made.map((m) => m.keyId))} (${nowMs() - started} ms)`,
    );
    return container;
  }

  /**
   * Hubs known good right now: registered, last exchange fine and recent (STOCK_FRESH_MS). Under
   * load the stock refills, acknowledgements and PSRD top-ups keep this fresh; after a quiet spell
   * the next request goes the on-demand way, which checks the hubs again.
   */
  private healthyHubs(): number {
    const since = nowMs() - STOCK_FRESH_MS;
    let n = 0;
    for (const h of this.peerHubs) if (h.registered && h.lastError === undefined && h.lastOkAt >= since) n++;
    return n;
  }

  /** Start a background stock refill for the pair if one is due (key-stock.ts). */
  private maybeRefill(masterSae: string, slaveSae: string, size: number): void {
    if (this.stopped) return;
    const order = this.stock.refillDue(masterSae, slaveSae, size);
    if (!order) return;
    this.track(
      this.establish(masterSae, [slaveSae], size, order.count, true)
        .then((keys) => {
          if (this.stopped) {
            for (const k of keys) k.key.fill(0);
            return;
          }
          this.stock.add(masterSae, slaveSae, size, keys);
        })
        .catch((err: unknown) => {
          this.logger.warn(`key stock ${masterSae}->${slaveSae}: refill of ${order.count} failed: ${err instanceof Error ? err.message : String(err)}`);
        })
        .finally(() => this.stock.refillDone(order)),
    );
  }

  /**
   * Make `count` keys for the master SAE and slaves, post their shares to every hub and return
   * once k hubs acknowledged them and the issued-key records are durable. The caller owns the
   * returned key bytes. `batch`: the keys get batch key IDs (key.ts newBatchKeyIds).
   */
  private async establish(
    masterSae: string,
    slaves: readonly string[],
    size: number,
    count: number,
    batch = false,
  ): Promise<{ keyId: string; key: Uint8Array }[]> {
    const [slaveSae, ...additional] = slaves;
    await this.settleStartup();
    const registered = this.peerHubs.filter((h) => h.registered);
    if (registered.length < this.k) {
      const down = this.peerHubs.filter((h) => !h.registered).map((h) => `${h.name}: ${h.lastError ?? "not registered"}`);
      throw unavailable(this.shortfall(registered.length, down), [{ hubs_registered: registered.length, min_nr_shares: this.k }]);
    }

    const n = this.peerHubs.length;
    let made: SplitKey[];
    let pads: Map<number, PadAllocation>[] | undefined;
    if (this.options.keySource === "psrd") {
      try {
        ({ made, pads } = await makePsrdSplitKeys(this.peerHubs, this.k, size, count, additional.length > 0));
      } catch (err) {
        throw unavailable(`cannot derive keys from PSRD: ${err instanceof Error ? err.message : String(err)}`);
      }
    } else {
      const random = pooledRandom(count * splitRandomBytes(size, this.k));
      try {
        made = Array.from({ length: count }, () => makeSplitKey(size, n, this.k, random, additional.length > 0));
      } finally {
        random.wipe();
      }
    }
    if (batch) {
      const ids = newBatchKeyIds(size, count);
      made.forEach((m, i) => (m.keyId = ids[i]));
    }
    const zeroShares = () => {
      for (const m of made) for (const s of m.shares) s.y.fill(0);
      for (const p of pads ?? []) for (const a of p.values()) a.data.fill(0);
    };
    const perHub: OutgoingShare[][] = this.peerHubs.map((_, j) =>
      made.map((m, i) => ({
        ...(pads?.[i].has(j) ? { pad: pads[i].get(j) } : {}),
        keyId: m.keyId,
        masterSae,
        slaveSae,
        additionalSlaves: additional,
        x: m.shares[j].x,
        y: m.shares[j].y,
        keySize: size,
      })),
    );

    // The issued-key record (bookkeeping: master and intended slaves, no secrets) is journaled
    // while the shares are posted, so its fsync overlaps the hub round trips instead of following
    // them. If the request then fails, the record names a key no hub holds: dec_keys says 400.
    const recorded = this.keyStore.recordIssued(made.map((m) => ({ keyId: m.keyId, masterSae, slaveSaes: [...slaves], size })));
    recorded.catch(() => undefined); // observed below
    try {
      const result = this.quorum(
        this.peerHubs.map((h, j) => () => h.postShares(this.name, perHub[j])),
        this.k,
      );
      // Zero the plain shares once every hub is done (slow hubs finish in the background).
      this.track(result.all.finally(zeroShares));
      await result.quorum;
      // A stock batch (background, no caller waiting) is ready only once every hub settled: the
      // responder then finds the shares at whichever hubs it asks, instead of racing the slow ones.
      if (batch) await result.all;
    } catch (err) {
      for (const m of made) m.key.fill(0);
      throw err;
    }

    try {
      await recorded;
    } catch (err) {
      for (const m of made) m.key.fill(0);
      throw unavailable(`cannot record issued keys: ${err instanceof Error ? err.message : String(err)}`);
    }
    return made.map((m) => ({ keyId: m.keyId, key: m.key }));
  }

  private shortfall(acked: number, failures: string[]): string {
    return `only ${acked} of ${this.peerHubs.length} hubs acknowledged, ${this.k} needed: ${failures.join(", ")}`;
  }

  /**
   * Run the tasks in parallel; `quorum` resolves with the names of the first k that succeeded, or
   * rejects (503, naming the shortfall) as soon as k can no longer be reached. `all` settles when
   * every task settled.
   */
  private quorum(tasks: (() => Promise<void>)[], k: number): { quorum: Promise<string[]>; all: Promise<unknown> } {
    const ok: string[] = [];
    const failed: string[] = [];
    let resolveQ!: (v: string[]) => void;
    let rejectQ!: (e: unknown) => void;
    let done = false;
    const quorum = new Promise<string[]>((res, rej) => {
      resolveQ = res;
      rejectQ = rej;
    });
    const all = Promise.allSettled(
      tasks.map((task, j) =>
        task().then(
          () => {
            ok.push(this.peerHubs[j].name);
            if (!done && ok.length >= k) {
              done = true;
              resolveQ([...ok]);
            }
          },
          (err: unknown) => {
            const msg = err instanceof HubFailure ? err.message : `${this.peerHubs[j].name}: ${err instanceof Error ? err.message : String(err)}`;
            failed.push(msg);
            if (done) {
              this.logger.warn(`share post after quorum failed: ${msg}`);
            } else if (failed.length > tasks.length - k) {
              done = true;
              // k is out of reach: report how many acknowledged once the others settled (bounded wait).
              void Promise.race([all, new Promise((r) => setTimeout(r, QUORUM_REPORT_WAIT_MS).unref())]).then(() => {
                const pending = this.peerHubs
                  .filter((h) => !ok.includes(h.name) && !failed.some((f) => f.startsWith(`${h.name}: `)))
                  .map((h) => `${h.name}: no answer yet`);
                const all = [...failed, ...pending];
                rejectQ(unavailable(this.shortfall(ok.length, all), [{ hubs_acknowledged: ok.length, hubs_needed: k, failures: all }]));
              });
            }
          },
        ),
      ),
    );
    return { quorum, all };
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch(() => undefined).finally(() => this.background.delete(q));
    this.background.add(q);
  }

  // ------------------------------------------------------------------ slave side

  /** ETSI Get key with key IDs: `slaveSae` is the caller, `masterSae` from the URL. */
  async getKeysWithIds(slaveSae: string, masterSae: string, keyIds: readonly string[]): Promise<KeyContainer> {
    this.requireEncryptor(slaveSae, "slave_SAE_ID");
    if (masterSae === slaveSae) throw badRequest("master_SAE_ID must differ from the calling SAE", [{ master_SAE_ID: masterSae }]);
    const started = nowMs();
    this.sweepHeld();
    await this.settleStartup();
    // Keys another request is fetching right now (e.g. a batch prefetch): wait for that fetch.
    const pendingFetches = new Set<Promise<void>>();
    for (const id of keyIds) {
      const p = this.fetching.get(heldKeyName(masterSae, id, slaveSae));
      if (p) pendingFetches.add(p);
    }
    if (pendingFetches.size > 0) await Promise.all(pendingFetches);

    // Local knowledge first: already delivered, issued here (intended slaves known), pad length.
    const outcomes = new Map<string, GatherOutcome>();
    const toFetch: string[] = [];
    for (const id of keyIds) {
      const heldKey = this.held.get(heldKeyName(masterSae, id, slaveSae));
      if (heldKey) {
        outcomes.set(id, { key: heldKey.key });
        continue;
      }
      if (this.keyStore.isDelivered(masterSae, id, slaveSae)) {
        outcomes.set(id, { error: notFound(id, "already delivered") });
        continue;
      }
      const issued = this.keyStore.issued(id);
      if (issued) {
        if (issued.masterSae !== masterSae) {
          outcomes.set(id, { error: notFound(id) });
          continue;
        }
        if (!issued.slaveSaes.includes(slaveSae)) {
          outcomes.set(id, { error: unauthorized(`SAE ${slaveSae} is not an intended slave SAE of the requested keys`) });
          continue;
        }
      }
      if (padLengthFromKeyId(id) === undefined) {
        outcomes.set(id, { error: notFound(id) });
        continue;
      }
      toFetch.push(id);
    }

    if (toFetch.length > 0) {
      // PSRD-drain guard (unknown-keys.ts): an SAE that asked for many unknown key IDs is checked
      // against the hubs' share metadata (no PSRD) before any signed lookup.
      const fetchable = this.unknownKeys.guarded(slaveSae) ? await listedByHubs(this.peerHubs, toFetch, this.k) : new Set(toFetch);
      let unknown = 0;
      for (const id of toFetch) {
        if (fetchable.has(id)) continue;
        outcomes.set(id, { error: notFound(id, "fewer than min_nr_shares hubs hold a share") });
        unknown++;
      }
      // Key stock (key-stock.ts): a key of a master-side batch comes with its siblings, which the
      // master SAE will hand to this SAE next; they are fetched in the same hub messages and held
      // until asked for. Not for an SAE under the unknown-ID guard.
      const prefetch = this.unknownKeys.guarded(slaveSae) ? [] : this.siblingsToPrefetch(masterSae, slaveSae, [...fetchable], keyIds);
      // While this fetch runs, other requests for these keys wait for it instead of fetching them
      // again (a hub re-releases an unacknowledged share with a fresh pad: PSRD and CPU twice).
      let fetched!: () => void;
      const inFlight = new Promise<void>((r) => (fetched = r));
      const names = [...fetchable, ...prefetch].map((id) => heldKeyName(masterSae, id, slaveSae)).filter((n) => !this.fetching.has(n));
      for (const n of names) this.fetching.set(n, inFlight);
      let gathered: Map<string, GatherOutcome>;
      try {
        gathered =
          fetchable.size > 0 ? await this.gather(slaveSae, masterSae, [...fetchable, ...prefetch], new Set(prefetch)) : new Map<string, GatherOutcome>();
        for (const id of prefetch) {
          const o = gathered.get(id);
          gathered.delete(id);
          if (!o || !("key" in o)) continue;
          if (this.held.has(heldKeyName(masterSae, id, slaveSae))) {
            o.key.fill(0);
            continue;
          }
          this.issuedFrom.prefetched++;
          this.held.set(heldKeyName(masterSae, id, slaveSae), { key: o.key, expires: nowMs() + (this.options.heldKeyTtlMs ?? 60_000) });
        }
      } finally {
        for (const n of names) if (this.fetching.get(n) === inFlight) this.fetching.delete(n);
        fetched();
      }
      for (const [id, o] of gathered) {
        outcomes.set(id, o);
        if ("error" in o && o.error.status === 400) unknown++;
      }
      this.unknownKeys.note(slaveSae, unknown);
    }

    // All or nothing (ETSI): the first error wins; 401 before 400 before 503.
    const errors = [...outcomes.values()].flatMap((o) => ("error" in o ? [o.error] : []));
    if (errors.length > 0) {
      const rank = (e: EtsiError) => (e.status === 401 ? 0 : e.status === 400 ? 1 : 2);
      errors.sort((a, b) => rank(a) - rank(b));
      // Keys reconstructed in this request are held briefly so that a retry without the bad IDs works.
      for (const [id, o] of outcomes) {
        if ("key" in o && !this.held.has(heldKeyName(masterSae, id, slaveSae))) {
          this.held.set(heldKeyName(masterSae, id, slaveSae), { key: o.key, expires: nowMs() + (this.options.heldKeyTtlMs ?? 60_000) });
        }
      }
      const first = errors[0];
      this.logger.warn(`dec_keys ${masterSae} -> ${slaveSae} failed: ${first.message}`);
      if (first.status === 400 && first.message.startsWith(KEYS_NOT_FOUND_MESSAGE)) {
        const ids = [...outcomes.entries()].filter(([, o]) => "error" in o && o.error.status === 400).map(([id]) => ({ key_ID: id }));
        throw badRequest(KEYS_NOT_FOUND_MESSAGE, ids);
      }
      throw first;
    }

    try {
      await this.keyStore.markDelivered(keyIds.map((keyId) => ({ masterSae, keyId, sae: slaveSae })));
    } catch (err) {
      for (const o of outcomes.values()) if ("key" in o) o.key.fill(0);
      throw unavailable(`cannot record delivery: ${err instanceof Error ? err.message : String(err)}`);
    }
    const container: KeyContainer = {
      keys: keyIds.map((id) => {
        const o = outcomes.get(id) as { key: Uint8Array };
        return { key_ID: id, key: Buffer.from(o.key).toString("base64") };
      }),
    };
    for (const id of keyIds) {
      const hk = heldKeyName(masterSae, id, slaveSae);
      const o = outcomes.get(id) as { key: Uint8Array };
      o.key.fill(0);
      this.held.delete(hk);
    }
    this.acknowledge(masterSae, keyIds);
    this.logger.info(
      `keys delivered: ${masterSae} -> ${slaveSae} number=${keyIds.length} ids=${summarizeIds(keyIds)} (${nowMs() - started} ms)`,
    );
    return container;
  }

  /** Batch siblings (key.ts batchSiblings) of the key IDs to fetch that this SAE may still be asked for. */
  private siblingsToPrefetch(masterSae: string, slaveSae: string, toFetch: readonly string[], asked: readonly string[]): string[] {
    const skip = new Set(asked);
    const out: string[] = [];
    const batches = new Set<string>();
    for (const id of toFetch) {
      // One sibling list per batch (the IDs of a batch differ only in the index digits 28..30).
      const batch = id.slice(0, 28) + id.slice(31);
      if (batches.has(batch)) continue;
      batches.add(batch);
      const siblings = batchSiblings(id);
      if (siblings.length === 0 || siblings.length > MAX_STOCK_BATCH) continue;
      for (const sib of siblings) {
        const name = heldKeyName(masterSae, sib, slaveSae);
        if (skip.has(sib) || this.held.has(name) || this.fetching.has(name) || this.keyStore.isDelivered(masterSae, sib, slaveSae)) continue;
        skip.add(sib);
        out.push(sib);
      }
    }
    return out;
  }

  /**
   * Ack extension: the keys are durably recorded as delivered, so the hubs that released their
   * shares to us may delete them (acknowledged asynchronously, batched per hub). A multicast key
   * still held for another local SAE is acknowledged when that SAE gets it (or never: the hubs'
   * timeout deletes it).
   */
  private acknowledge(masterSae: string, keyIds: readonly string[]): void {
    const done = keyIds.filter((id) => !this.encryptors.some((e) => this.held.has(heldKeyName(masterSae, id, e))));
    if (done.length === 0) return;
    // Every hub, also those we did not fetch from: they drop their shares now rather than at their
    // share timeout (less secret data held, smaller hub state).
    for (const h of this.peerHubs) h.ack(masterSae, done, true);
  }

  /** Send every pending share acknowledgement now (ack extension; tests and shutdown). */
  async flushAcks(): Promise<void> {
    await Promise.all(this.peerHubs.map((h) => h.flushAcks()));
  }

  /** Hubs in gather order: registered, no recent failure, fewest bad shares; rotated for balance. */
  private gatherOrder(): PeerHub[] {
    const hubs = [...this.peerHubs];
    const shift = this.rotation++ % hubs.length;
    const rotated = [...hubs.slice(shift), ...hubs.slice(0, shift)];
    const recent = nowMs() - 10_000;
    const score = (h: PeerHub) =>
      (h.registered ? 0 : 100) + (h.lastFailureAt > recent ? 10 : 0) + Math.min(h.badShares, 5);
    return rotated
      .map((h, i) => ({ h, i, s: score(h) }))
      .sort((a, b) => a.s - b.s || a.i - b.i)
      .map((e) => e.h);
  }

  /**
   * Fetch and reconstruct the keys. `optional` IDs (batch siblings fetched ahead) ride in the same
   * hub messages; one that no hub releases is simply left out (no lookups, no error).
   */
  private async gather(
    slaveSae: string,
    masterSae: string,
    keyIds: readonly string[],
    optional: ReadonlySet<string> = new Set(),
  ): Promise<Map<string, GatherOutcome>> {
    const shares = new Map<string, SourcedShare[]>(keyIds.map((id) => [id, this.partial.take(heldKeyName(masterSae, id, slaveSae)) ?? []]));
    const failures: string[] = [];
    const outcomes = new Map<string, GatherOutcome>();
    const order = this.gatherOrder();
    let closed = false;
    let resolveDone!: () => void;
    const allDone = new Promise<void>((r) => (resolveDone = r));
    const checkDone = () => {
      if (keyIds.every((id) => outcomes.has(id))) resolveDone();
    };

    /** One fetch per hub; each arrival is added and reconstruction retried at once. */
    const fetchFrom = (hubs: PeerHub[], ids: readonly string[]): Promise<void>[] => {
      const refs: ShareRef[] = ids.map((keyId) => ({ masterSae, slaveSae, keyId }));
      return hubs.map(async (h) => {
        // The master gives the hub at position i of the (shared, topology-ordered) hub list the
        // share at x = i + 1 (key.ts, key-source.ts). A hub that answers with another index lies:
        // its share is that hub's bad share, never allowed to push out the honest hub's share of
        // the index it claims.
        const expectedX = this.peerHubs.indexOf(h) + 1;
        try {
          const got = await h.fetchShares(this.name, refs);
          for (const [id, s] of got) {
            const list = shares.get(id);
            if (list && s.x !== expectedX) {
              s.y.fill(0);
              this.logger.warn(`hub ${h.name} returned share index ${s.x} for key ${id}, expected ${expectedX} (its position)`);
              this.noteBadShare(h.name, id);
              continue;
            }
            if (closed || !list || outcomes.has(id)) {
              s.y.fill(0); // late or unneeded
              continue;
            }
            if (list.some((o) => o.x === s.x)) {
              // The same hub again (a share kept from an earlier attempt, partial-shares.ts): keep the first.
              s.y.fill(0);
              continue;
            }
            list.push({ x: s.x, y: s.y, source: h.name });
          }
        } catch (err) {
          failures.push(err instanceof HubFailure ? err.message : `${h.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
        if (!closed) {
          tryReconstruct(ids);
          checkDone();
        }
      });
    };

    const tryReconstruct = (ids: readonly string[]) => {
      for (const id of ids) {
        if (outcomes.has(id)) continue;
        const list = shares.get(id) ?? [];
        if (list.length < this.k) continue;
        const r = padLengthFromKeyId(id) ?? 0;
        const rec = reconstructKey(list, this.k, r);
        if (!rec) continue;
        outcomes.set(id, { key: rec.key });
        for (const other of intended.get(id) ?? []) {
          if (other === slaveSae || !this.encryptors.includes(other) || this.keyStore.isDelivered(masterSae, id, other)) continue;
          this.held.set(heldKeyName(masterSae, id, other), {
            key: rec.key.slice(),
            expires: nowMs() + (this.options.heldKeyTtlMs ?? 60_000),
          });
        }
        for (const bad of rec.bad) this.noteBadShare(bad, id);
        if (rec.method !== "fast") this.logger.warn(`key ${id}: reconstructed robustly (${rec.method}), bad hubs: ${rec.bad.join(",") || "none"}`);
      }
    };

    // Wave 1: k hubs in parallel. Wave 2 (only if needed: a hub failed, a check failed, or wave 1
    // is slower than the hedge delay): all remaining hubs. Return as soon as every key is verified;
    // late answers are zeroed on arrival.
    // Multicast keys on a client hosting several encryptors: the hubs release a share once per
    // client, so learn the intended slaves first (from k hubs agreeing) and hold the key for the
    // other intended local SAEs.
    const multicastHere = this.encryptors.length > 1 ? keyIds.filter((id) => isMulticastKeyId(id)) : [];
    const intended = multicastHere.length > 0 ? await this.intendedSlaves(multicastHere) : new Map<string, Set<string>>();

    const first = order.slice(0, this.k);
    const rest = order.slice(this.k);
    const wave1 = fetchFrom(first, keyIds);
    let wave1Settled = false;
    const wave1Done = Promise.all(wave1).then(() => {
      wave1Settled = true;
    });
    let hedge: NodeJS.Timeout | undefined;
    await Promise.race([
      wave1Done,
      allDone,
      new Promise<void>((r) => {
        hedge = setTimeout(r, this.options.gatherHedgeMs ?? 1000);
      }),
    ]);
    clearTimeout(hedge);
    let pending = keyIds.filter((id) => !outcomes.has(id));
    // Once the first k hubs all answered, ask the others only for key IDs they can still complete
    // to k shares (unknown-keys.ts: a key ID no hub knows costs k lookups, not n).
    const reachable = wave1Settled ? pending.filter((id) => (shares.get(id)?.length ?? 0) + rest.length >= this.k) : pending;
    if (reachable.length > 0 && rest.length > 0) {
      const wave2 = fetchFrom(rest, reachable);
      await Promise.race([Promise.all([...wave1, ...wave2]), allDone]);
    } else if (pending.length > 0) {
      await Promise.race([Promise.all(wave1), allDone]);
    }
    closed = true;
    pending = keyIds.filter((id) => !outcomes.has(id));

    if (pending.length > 0) {
      const none = pending.filter((id) => (shares.get(id) ?? []).length === 0 && !optional.has(id));
      const some = pending.filter((id) => (shares.get(id) ?? []).length > 0);
      // No hub released anything: unknown, expired, already fetched, or not for this SAE.
      if (none.length > 0) {
        const notIntended = failures.length < this.peerHubs.length ? await this.notIntendedFor(slaveSae, none) : new Set<string>();
        for (const id of none) {
          if (notIntended.has(id)) {
            outcomes.set(id, { error: unauthorized(`SAE ${slaveSae} is not an intended slave SAE of the requested keys`) });
          } else if (failures.length > 0 && this.peerHubs.length - failures.length < this.k) {
            outcomes.set(id, {
              error: unavailable(this.gatherShortfall(0, failures), [{ hubs_failed: failures.length, min_nr_shares: this.k }]),
            });
          } else {
            outcomes.set(id, { error: notFound(id) });
          }
        }
      }
      for (const id of some) {
        const got = shares.get(id)?.length ?? 0;
        const msg =
          got < this.k
            ? this.gatherShortfall(got, failures)
            : `key ${id}: the ${got} shares received do not reconstruct a verified key (more bad shares than can be corrected)`;
        outcomes.set(id, { error: unavailable(msg, [{ key_ID: id, shares_received: got, min_nr_shares: this.k }]) });
        this.partial.keep(heldKeyName(masterSae, id, slaveSae), shares.get(id) ?? []);
      }
    }
    for (const list of shares.values()) for (const s of list) s.y.fill(0);
    return outcomes;
  }

  private gatherShortfall(got: number, failures: string[]): string {
    return `only ${got} of ${this.peerHubs.length} hubs delivered a share, ${this.k} needed${failures.length ? `: ${failures.join(", ")}` : ""}`;
  }

  /**
   * How many registered hubs hold a live share of each of these key IDs: the hubs' unsigned
   * `held` query, which costs no PSRD (so bogus key IDs cost nothing here). A hub that does not
   * answer holds nothing.
   */
  private async heldCounts(keyIds: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    await Promise.all(
      this.peerHubs
        .filter((h) => h.registered)
        .map(async (h) => {
          try {
            for (const id of new Set(await h.sharesHeld(keyIds))) counts.set(id, (counts.get(id) ?? 0) + 1);
          } catch {
            // unknown: counts as not held
          }
        }),
    );
    return counts;
  }

  /**
   * Which of these key IDs exist at some hub for other slave SAEs (→ 401 rather than 400). First
   * the free `held` query; then, for IDs some hub holds, the signed share metadata: an ID held
   * but not listed with `slaveSae` as an intended slave (or not listed at all: not for any SAE of
   * this client) is not for this SAE.
   */
  private async notIntendedFor(slaveSae: string, keyIds: readonly string[]): Promise<Set<string>> {
    const held = await this.heldCounts(keyIds);
    const candidates = keyIds.filter((id) => (held.get(id) ?? 0) > 0);
    if (candidates.length === 0) return new Set();
    const intended = new Set<string>();
    let answered = 0;
    await Promise.all(
      this.peerHubs
        .filter((h) => h.registered)
        .map(async (h) => {
          try {
            const shares = await h.listShares(candidates);
            answered++;
            for (const s of shares) if (s.slave_sae_ids.includes(slaveSae)) intended.add(s.key_id);
          } catch {
            // a hub that does not answer tells nothing
          }
        }),
    );
    // Without any metadata answer we cannot tell: "not found" rather than a guess.
    return answered === 0 ? new Set() : new Set(candidates.filter((id) => !intended.has(id)));
  }

  /**
   * Intended slave SAEs of these keys per the hubs' share metadata (signed in-band query, never
   * values), asked only for key IDs that at least k hubs hold (the free `held` query first, so
   * key IDs nobody created cost no PSRD). An SAE counts only if at least k hubs list it, so
   * fewer than k lying hubs cannot make this client hand a key to an unintended local SAE.
   */
  private async intendedSlaves(keyIds: readonly string[]): Promise<Map<string, Set<string>>> {
    const held = await this.heldCounts(keyIds);
    const candidates = keyIds.filter((id) => (held.get(id) ?? 0) >= this.k);
    const votes = new Map<string, Map<string, number>>();
    if (candidates.length === 0) return new Map();
    const wanted = new Set(candidates);
    await Promise.all(
      this.peerHubs
        .filter((h) => h.registered)
        .map(async (h) => {
          try {
            const seen = new Set<string>();
            for (const s of await h.listShares(candidates)) {
              if (!wanted.has(s.key_id) || seen.has(s.key_id)) continue;
              seen.add(s.key_id);
              const v = votes.get(s.key_id) ?? new Map<string, number>();
              for (const sae of new Set(s.slave_sae_ids)) v.set(sae, (v.get(sae) ?? 0) + 1);
              votes.set(s.key_id, v);
            }
          } catch {
            // a hub that does not answer does not vote
          }
        }),
    );
    const out = new Map<string, Set<string>>();
    for (const [id, v] of votes) out.set(id, new Set([...v].filter(([, n]) => n >= this.k).map(([sae]) => sae)));
    return out;
  }

  private noteBadShare(hubName: string, keyId: string): void {
    const hub = this.peerHubs.find((h) => h.name === hubName);
    hub?.noteBadShare(keyId);
    this.badShareLog.push({ hub: hubName, key_id: keyId, at: new Date().toISOString() });
    if (this.badShareLog.length > 100) this.badShareLog.shift();
    this.logger.warn(`hub ${hubName} gave a bad share for key ${keyId}`);
  }

  private sweepHeld(): void {
    const now = nowMs();
    // At most once a second: held keys and stock live for tens of seconds.
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    this.stock.sweep();
    this.partial.sweep(now);
    for (const [k, v] of this.held) {
      if (v.expires < now) {
        v.key.fill(0);
        this.held.delete(k);
      }
    }
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
    const S = secretLength(keySize);
    const perHub: number[] = [];
    const perHubMax: number[] = [];
    for (const h of this.peerHubs) {
      const local = h.poolStats("local");
      const peer = h.poolStats("peer");
      if (!h.registered || !local || !peer) continue;
      const mac = h.messageCost;
      perHub.push(Math.max(0, Math.min(Math.floor(local.available / (S + mac)), Math.floor(peer.available / mac))));
      const stop = this.options.stopRequestPsrdThreshold ?? 2000;
      perHubMax.push(Math.floor(Math.max(stop, local.available) / (S + mac)));
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
    return {
      name: this.name,
      // both spellings: `encryptor_names` as the reference, `encryptors` as SYSTEM.md
      encryptor_names: [...this.encryptors],
      encryptors: [...this.encryptors],
      min_nr_shares: this.k,
      peer_hubs: this.peerHubs.map((h) => h.status()),
      keys: {
        ...this.keyStore.counts(),
        held: this.held.size,
        stocked: this.stock.total(),
        issued_from_stock: this.issuedFrom.stock,
        issued_on_demand: this.issuedFrom.demand,
        prefetched: this.issuedFrom.prefetched,
        // Why keys were not served from the stock: pair quiet, stock empty, fewer than k hubs known good.
        stock_misses: { ...this.stock.misses, hubs: this.issuedFrom.stockSkippedHubs },
      },
      bad_shares: [...this.badShareLog],
      unknown_key_ids: { budget_per_minute: this.unknownKeys.budget, guarded: this.unknownKeys.guardedSaes() },
      // Diagnostics for benchmarks: fsync/fdatasync calls and HTTP requests to hubs since start.
      io: { fsyncs: this.io.fsyncs.count, hub_requests: this.io.hubRequests.count },
    };
  }
}

function notFound(keyId: string, why?: string): EtsiError {
  return badRequest(KEYS_NOT_FOUND_MESSAGE, [{ key_ID: keyId, ...(why ? { reason: why } : {}) }]);
}

function heldKeyName(master: string, keyId: string, sae: string): string {
  return `${master}\u0000${keyId}\u0000${sae}`;
}

function summarizeIds(ids: readonly string[]): string {
  return ids.length <= 4 ? ids.join(",") : `${ids.slice(0, 2).join(",")},...(${ids.length})`;
}
