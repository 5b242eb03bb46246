/**
 * PeerHub: a client's view of one hub.
 *
 * - Registration (out of band, `PUT registration`, proposing `gf128`), retried in the background
 *   with capped exponential backoff, forever, while the hub is down. Re-registration happens on a
 *   401 from a signed call (e.g. the hub lost our registration) or on demand.
 * - Two PSRD pools per hub in the client's PsrdStore: the client-owned pool (owner `local`: we
 *   allocate from it to sign requests and encrypt shares we send) and the hub-owned pool (owner
 *   `peer`: we take from it to verify responses and decrypt shares we receive). Blocks are added
 *   with `keyPrefix: blockKeyPrefix(scheme)`.
 * - Replenishment: when a pool's available bytes drop below `startThreshold`, blocks of
 *   `blockSize` are fetched until it is above `stopThreshold` (in the background, single-flight per
 *   pool). A demand larger than the pool (e.g. a batch of 1000 keys) fetches one block big enough.
 * - In-band calls through `HubApi` from @dske/hub, signed with @dske/auth interceptors.
 *
 * State lost by a hub: after (re-)registration the hub's status is checked; if the hub has no
 * PSRD for us at all while we hold blocks, the hub lost its state and our pools for it are reset
 * (the old blocks are useless: the hub no longer has them).
 */
import {
  GF128_PAD_LENGTH,
  HMAC_SHA256_KEY_LENGTH,
  SigningReserve,
  blockKeyPrefix,
  type AuthSchemeName,
  type PeerAuth,
} from "@dske/auth";
import { ACK_EXTENSION, BATCH_EXTENSION, HubApi, HubApiError, MAX_BATCH_SHARES, allocationFromWire, allocationToWire, type AckKeyRef, type BatchShareItem, type FetchKeySharesResponse, type ShareMeta } from "@dske/protocol";
import { allocationSize, xor, type Allocation, type Pool, type PoolStats, type PsrdStore } from "@dske/psrd";
import { Coalescer } from "./coalescer.js";
import type { Logger } from "./logger.js";
import type { NodeState } from "./node-state.js";
import { HubNeeds } from "./psrd-needs.js";

export type PoolKind = "local" | "peer";


/** How long a graceful stop waits for the pending acknowledgements to reach a hub. */
const STOP_ACK_FLUSH_MS = 1000;
export interface PeerHubOptions {
  /** Hub base URL, e.g. `http://127.0.0.1:8100/hub/hank`. */
  url: string;
  clientName: string;
  encryptors: readonly string[];
  store: PsrdStore;
  state: NodeState;
  logger: Logger;
  startThreshold: number;
  stopThreshold: number;
  blockSize: number;
  /** Scheme proposed at registration (default gf128). */
  authScheme?: AuthSchemeName;
  /** Refuse a hub that does not speak the proposed scheme (default true: no fallback to hmac-sha256). */
  requireAuthScheme?: boolean;
  /** Registration retry backoff (ms): first delay and cap. Defaults 200 / 5000. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Per-request timeout (ms), default 10,000. */
  timeoutMs?: number;
  /** Background replenishment check interval (ms), default 1000. */
  tickMs?: number;
  /** Coalesce concurrent share posts / fetches into batch messages (default true; needs the hub's batch extension). */
  coalesce?: boolean;
  /**
   * Ack extension: pending acknowledgements ride on the next fetch to this hub; if none goes out
   * within this many ms, they are sent alone (one signed ack-only message). Default 1000.
   */
  ackFlushMs?: number;
  /** Propose the `ack` extension at registration (default true; false behaves as a v1 client). */
  ackExtension?: boolean;
  /**
   * How PSRD arrives (default "bundle"): bundles installed by the local distributor (the client
   * states its needs, see psrd-needs.ts), or "network": GET psrd with the enrollment secret of the
   * first bundle, each block confirmed in band before use.
   */
  psrdDelivery?: "bundle" | "network";
  /** A pool short of PSRD waits at most this long for a bundle before the request fails (default 10,000 ms). */
  psrdWaitMs?: number;
  /** Usable bytes per pool asked for in the first bundle from a hub (default 65,536). */
  initialPsrdBytes?: number;
  /** Called when this hub's pools state a new need (the client's NeedBoard). */
  onNeed?: () => void;
}

/** A share to post to this hub. */
export interface OutgoingShare {
  keyId: string;
  masterSae: string;
  slaveSae: string;
  additionalSlaves: readonly string[];
  /** Shamir x (= share_index). */
  x: number;
  /** Plain share bytes (not zeroed here). */
  y: Uint8Array;
  /** Key size in bits (informational on the wire). */
  keySize: number;
  /** Encrypt with this pad (already allocated from our pool) instead of a fresh one: key_source psrd (key-source.ts). */
  pad?: { allocation: Allocation; data: Uint8Array };
}

export interface ShareRef {
  masterSae: string;
  slaveSae: string;
  keyId: string;
}

/** A failure of one hub for one operation; the message starts with the hub name. */
export class HubFailure extends Error {
  override readonly name = "HubFailure";
  constructor(
    readonly hub: string,
    readonly reason: string,
    readonly status = 0,
  ) {
    super(`${hub}: ${reason}`);
  }
}

const MAX_DEMAND_BLOCK = 8 * 1024 * 1024;
/** Smallest bundle asked for (usable bytes per pool): bundles carry a header and a chain key each. */
const MIN_BUNDLE_BYTES = 32 * 1024;
/** A large request (above the start threshold) keeps the pool topped up to its size this long. */
const RECENT_DEMAND_MS = 10_000;
/** Replenishment looks this far ahead at the recent consumption rate (refill below 1×, fill to 2×): fewer, larger blocks (each costs a round trip and a durable block add on both sides). */
const AHEAD_MS = 4000;
/** Cap of the rate-based look-ahead per pool (bytes). */
const MAX_AHEAD = 1024 * 1024;
/** Consumption rate sampling period (ms). */
const RATE_SAMPLE_MS = 200;
/** Released-but-unacknowledged keys remembered per hub at most this long (the hubs' share timeout is shorter). */
const UNACKED_TTL_MS = 10 * 60_000;
const ackName = (masterSae: string, keyId: string): string => `${masterSae}\u0000${keyId}`;
/** Keep a batch message well below the hub's 1 MiB body limit (base64 + JSON overhead). */
const MAX_BATCH_SHARE_BYTES = 512 * 1024;

function isExhausted(err: unknown): boolean {
  return err instanceof Error && (err as { code?: string }).code === "exhausted";
}

export class PeerHub {
  readonly url: string;
  /** Hub name: from the registration response; until then the last URL path segment. */
  name: string;
  registered = false;
  scheme: AuthSchemeName | undefined;
  extensions = new Set<string>();
  lastError: string | undefined;
  lastFailureAt = 0;
  /** Time of the last exchange with the hub that succeeded (registration or signed call). */
  lastOkAt = 0;
  /** Bad shares detected from this hub (wrong share content). */
  badShares = 0;
  lastBadShare: { key_id: string; at: string } | undefined;

  private readonly api: HubApi;
  /** Out-of-band calls with our enrollment secret (network delivery only). */
  private oob: HubApi | undefined;
  private auth: PeerAuth | undefined;
  /** The client-owned pool as the request signer sees it (signing pads prepared with share pads). */
  private signing: SigningReserve | undefined;
  private stopped = false;
  private started = false;
  private registering: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly refill: Record<PoolKind, Promise<void> | undefined> = { local: undefined, peer: undefined };
  /** Bytes wanted by callers waiting in ensure(). */
  private readonly demand: Record<PoolKind, number> = { local: 0, peer: 0 };
  /** Largest recent single demand above the start threshold (batches): refills keep room for the next one. */
  private readonly recent: Record<PoolKind, { bytes: number; at: number }> = { local: { bytes: 0, at: 0 }, peer: { bytes: 0, at: 0 } };
  /** Consumption rate per pool (bytes/ms, smoothed): replenishment runs ahead of it. */
  private readonly usage: Record<PoolKind, { used: number; at: number; rate: number }> = {
    local: { used: -1, at: 0, rate: 0 },
    peer: { used: -1, at: 0, rate: 0 },
  };
  /** Hub-owned bytes expected to be used by in-flight requests (our view lags the hub's). */
  private peerInFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Ack extension: keys this hub released to us that we have not acknowledged yet (→ time seen). */
  private readonly unacked = new Map<string, number>();
  /** Ack extension: acknowledgements waiting for the next fetch (or the flush timer). */
  private readonly pendingAcks = new Map<string, AckKeyRef>();
  private ackTimer: NodeJS.Timeout | undefined;
  /** Last decrypted share length seen (estimate for the responder's PSRD needs). */
  private shareBytesEstimate = 48;
  /** Concurrent postShares / fetchShares calls merged into batch messages (see coalescer.ts). */
  /** What this hub's pools need from the local distributor (bundle delivery). */
  readonly needs: HubNeeds;
  /** Serializes bundle installs and confirmations with this hub. */
  private chainLock: Promise<unknown> = Promise.resolve();
  /** The first bundle from this hub is not installed yet. */
  awaitingFirstBundle = false;
  readonly postCoalescer: Coalescer<{ masterClient: string; items: readonly OutgoingShare[] }, void>;
  readonly fetchCoalescer: Coalescer<{ clientName: string; refs: readonly ShareRef[] }, Map<string, { x: number; y: Uint8Array }>>;

  constructor(private readonly options: PeerHubOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.name = this.url.split("/").pop() || this.url;
    const rec = options.state.hub(this.url);
    if (rec) this.name = rec.hub_name;
    this.needs = new HubNeeds(() => this.name, options.onNeed ?? (() => {}));
    this.api = new HubApi(this.url, {
      timeoutMs: options.timeoutMs,
      // The hub closed a connection (stopped, crashed, restarted, or idle): not known good until
      // the next exchange succeeds (the key stock is then not used; client.ts healthyHubs).
      onConnectionLost: () => {
        this.lastOkAt = 0;
      },
      auth: {
        resolvePeer: () => {
          if (!this.auth) throw new HubFailure(this.name, "not registered");
          return this.auth;
        },
      },
    });
    this.postCoalescer = new Coalescer<{ masterClient: string; items: readonly OutgoingShare[] }, void>({
      group: (e) => e.masterClient,
      conflicts: (e) => e.items.map((i) => i.keyId),
      run: async (entries) => {
        const all = entries.flatMap((e) => e.items);
        await this.sendShares(entries[0].masterClient, all);
        return entries.map(() => undefined);
      },
    });
    this.fetchCoalescer = new Coalescer({
      group: (e) => e.clientName,
      conflicts: (e) => e.refs.map((r) => r.keyId),
      run: async (entries) => {
        const all = await this.fetchSharesOnce(entries[0].clientName, entries.flatMap((e) => e.refs));
        // Split per caller (key IDs are disjoint across the entries of a batch).
        return entries.map((e) => {
          const mine = new Map<string, { x: number; y: Uint8Array }>();
          for (const r of e.refs) {
            const s = all.get(r.keyId);
            if (s) mine.set(r.keyId, s);
          }
          return mine;
        });
      },
    });
  }

  /** Whether concurrent calls are merged into batch messages (option on and the hub speaks batch). */
  private get coalescing(): boolean {
    return this.options.coalesce !== false && this.supportsBatch;
  }

  /** Start background registration and replenishment. */
  start(): void {
    this.started = true;
    if (!this.options.state.chain(this.name)) this.askForFirstBundle();
    this.ensureRegistering();
    const tick = this.options.tickMs ?? 1000;
    this.timer = setInterval(() => {
      if (this.registered) {
        this.maybeReplenish("local");
        this.maybeReplenish("peer");
      }
    }, tick);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (!this.stopped && this.pendingAcks.size > 0) {
      // Graceful stop: tell the hub now that it may drop the shares we acknowledged, rather than
      // leaving them until its share timeout. Best effort, bounded (a down hub must not hold us up).
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((r) => (timer = setTimeout(r, STOP_ACK_FLUSH_MS)));
      await Promise.race([this.flushAcks().catch(() => undefined), bound]);
      clearTimeout(timer);
    }
    this.stopped = true;
    this.abort.abort();
    if (this.timer) clearInterval(this.timer);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    const pending = [this.registering, this.refill.local, this.refill.peer].filter(Boolean);
    await Promise.allSettled(pending);
    await this.signing?.discard();
    this.api.close();
    this.oob?.close();
    this.needs.wake();
  }

  /** Not registered yet, but the first registration attempt has not failed either (startup), or the first bundle is on its way. */
  get registrationPending(): boolean {
    return this.started && !this.registered && !this.stopped && (this.lastError === undefined || this.awaitingFirstBundle);
  }

  get supportsBatch(): boolean {
    return this.extensions.has(BATCH_EXTENSION);
  }

  /** Whether this hub keeps released shares until we acknowledge them (the `ack` extension). */
  get supportsAck(): boolean {
    return this.extensions.has(ACK_EXTENSION) && this.supportsBatch;
  }

  /** Acknowledgements not sent yet (diagnostics). */
  get pendingAckCount(): number {
    return this.pendingAcks.size;
  }

  /**
   * Acknowledge keys (ack extension): the client recorded or delivered them and no longer needs
   * this hub's shares. Asynchronous and batched: they ride on the next fetch to this hub, or go
   * alone after `ackFlushMs`. By default only keys this hub released to us are acknowledged;
   * `evenUnfetched`: also keys we got from other hubs, so that this hub drops its share now
   * instead of keeping it until its share timeout (a hub ignores acks for shares it does not hold).
   */
  ack(masterSae: string, keyIds: readonly string[], evenUnfetched = false): void {
    for (const keyId of keyIds) {
      const name = ackName(masterSae, keyId);
      if (!this.unacked.delete(name) && !evenUnfetched) continue;
      if (this.supportsAck) this.pendingAcks.set(name, { master_sae_id: masterSae, key_id: keyId });
    }
    this.armAckTimer();
  }

  private armAckTimer(): void {
    if (this.pendingAcks.size > 0 && !this.ackTimer && !this.stopped) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = undefined;
        this.flushAcks().catch((err: unknown) =>
          this.options.logger.warn(`hub ${this.name}: sending acknowledgements failed (will retry): ${err instanceof Error ? err.message : String(err)}`),
        );
      }, this.options.ackFlushMs ?? 1000);
      this.ackTimer.unref();
    }
  }

  /** Send the pending acknowledgements now, in one signed ack-only message (no-op when none). */
  async flushAcks(): Promise<void> {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (this.pendingAcks.size === 0 || this.stopped) return;
    if (!this.registered || !this.supportsAck) {
      this.armAckTimer(); // try again later
      return;
    }
    const acks = this.takeAcks();
    let verified: Promise<void> = Promise.resolve();
    try {
      await this.signedCall(this.messageCost, () =>
        this.api.getKeyShares({ client_name: this.options.clientName, keys: [], ack: acks }, { onVerified: (c) => (verified = c) }),
      );
      await this.settleVerified(verified);
    } catch (err) {
      this.restoreAcks(acks);
      throw err;
    }
  }

  private takeAcks(): AckKeyRef[] {
    const out: AckKeyRef[] = [];
    for (const [name, ref] of this.pendingAcks) {
      if (out.length >= MAX_BATCH_SHARES) break;
      out.push(ref);
      this.pendingAcks.delete(name);
    }
    return out;
  }

  /** Acks of a failed message are kept for the next one (acks are idempotent at the hub). */
  private restoreAcks(acks: readonly AckKeyRef[]): void {
    for (const a of acks) this.pendingAcks.set(ackName(a.master_sae_id, a.key_id), a);
    this.armAckTimer();
  }

  /** Remember that this hub released a share of the key to us (to acknowledge it later). */
  private noteReleased(masterSae: string, keyId: string): void {
    if (!this.supportsAck) return;
    const now = Date.now();
    this.unacked.set(ackName(masterSae, keyId), now);
    if (this.unacked.size > 10_000) {
      for (const [k, at] of this.unacked) if (at < now - UNACKED_TTL_MS) this.unacked.delete(k);
    }
  }

  /** Wait until registered (or throw after timeoutMs). */
  async whenRegistered(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.registered) {
      if (this.stopped) throw new HubFailure(this.name, "stopped");
      if (Date.now() > until) throw new HubFailure(this.name, `not registered: ${this.lastError ?? "pending"}`);
      this.ensureRegistering();
      await sleep(20);
    }
  }

  // ------------------------------------------------------------------ registration

  /** (Re-)register in the background unless already doing so. */
  ensureRegistering(): void {
    if (this.registering || this.stopped) return;
    this.registering = this.registerLoop().finally(() => {
      this.registering = undefined;
    });
  }

  /** Forget the registration (e.g. the hub said 401) and register again in the background. */
  requireReregistration(reason: string): void {
    if (this.stopped) return;
    if (this.registered) this.options.logger.warn(`hub ${this.name}: re-registering (${reason})`);
    this.registered = false;
    this.ensureRegistering();
  }

  private async registerLoop(): Promise<void> {
    let delay = this.options.retryInitialMs ?? 200;
    const max = this.options.retryMaxMs ?? 5000;
    let attempts = 0;
    while (!this.stopped) {
      try {
        await this.registerOnce();
        return;
      } catch (err) {
        attempts++;
        this.noteFailure(err);
        if (this.awaitingFirstBundle) {
          // Nothing to retry before the first bundle arrives: its install restarts registration.
          this.options.logger.info(`hub ${this.name}: ${this.lastError}`);
          return;
        }
        if (attempts === 1 || attempts % 10 === 0) {
          this.options.logger.warn(`hub ${this.name}: registration failed (attempt ${attempts}): ${this.lastError}; retrying`);
        }
        await sleep(delay, this.abort.signal);
        delay = Math.min(max, delay * 2);
      }
    }
  }

  private async registerOnce(): Promise<void> {
    const o = this.options;
    const chain = o.state.chain(this.name);
    if (!chain) {
      this.awaitingFirstBundle = true;
      throw new HubFailure(
        this.name,
        `no PSRD from hub ${this.name} yet: waiting for its first PSRD bundle (the local distributor delivers it; ` +
          `by hand: dske-cli psrd issue ${this.name} ${o.clientName}, then dske-cli psrd install ${o.clientName} FILE)`,
      );
    }
    this.awaitingFirstBundle = false;
    const proposed = o.authScheme ?? "gf128";
    const scheme = chain.auth_scheme;
    if ((o.requireAuthScheme ?? true) && scheme !== proposed) {
      throw new HubFailure(this.name, `hub ${this.name} issued PSRD for auth scheme ${scheme}, but this client requires ${proposed}`);
    }
    // Under the chain lock: never while an install or an operator's PSRD reset is at work.
    await this.withChainLock(() => this.attachPools(scheme));
    await this.confirmInstalled();
    // Signed with PSRD of our bundles: the hub knows it is us, and we know it is the hub.
    const res = await this.api.registerSigned({
      client_name: o.clientName,
      encryptor_names: [...o.encryptors],
      auth_scheme: scheme,
      ...(o.ackExtension === false ? {} : { extensions: [ACK_EXTENSION] }),
    });
    const chosen = (res.auth_scheme ?? "hmac-sha256") as AuthSchemeName;
    if (chosen !== scheme) {
      throw new HubFailure(res.hub_name, `hub answered auth scheme ${JSON.stringify(chosen)}, but its PSRD bundles are for ${scheme}`);
    }
    if (res.hub_name !== this.name) {
      throw new HubFailure(this.name, `hub at ${this.url} calls itself ${JSON.stringify(res.hub_name)}, but its bundles are from ${this.name}`);
    }
    await o.state.setHub(this.url, { hub_name: res.hub_name, auth_scheme: scheme, extensions: res.extensions ?? [] });
    this.extensions = new Set(res.extensions ?? []);
    this.peerInFlight = 0;
    this.registered = true;
    this.lastError = undefined;
    this.lastOkAt = Date.now();
    o.logger.info(
      `hub ${this.name}: registered (auth ${scheme}${this.extensions.size ? `, extensions ${[...this.extensions].join(",")}` : ""})`,
    );
    this.maybeReplenish("local");
    this.maybeReplenish("peer");
  }

  /** Open our two pools with this hub and the signer over them (once; again if the scheme changed). */
  private async attachPools(scheme: AuthSchemeName): Promise<void> {
    if (this.auth && this.scheme === scheme) return;
    const o = this.options;
    const local = await o.store.openPool(this.poolName("local"), "local");
    const peer = await o.store.openPool(this.poolName("peer"), "peer");
    this.scheme = scheme;
    await this.signing?.discard();
    this.signing = new SigningReserve(local);
    this.auth = { scheme, localPool: this.signing, peerPool: peer };
  }

  /** Our two pools with this hub (the bundle installer adds blocks to them). */
  async pools(): Promise<{ local: Pool; peer: Pool }> {
    const o = this.options;
    return {
      local: await o.store.openPool(this.poolName("local"), "local"),
      peer: await o.store.openPool(this.poolName("peer"), "peer"),
    };
  }

  /** Run `fn` exclusively with other installs and confirmations of this hub's bundles. */
  withChainLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chainLock.then(fn, fn);
    this.chainLock = run.catch(() => undefined);
    return run;
  }

  /** Tell the hub (signed) which installed hub-owned blocks we have: it uses them only after this. */
  private confirmInstalled(): Promise<void> {
    return this.withChainLock(async () => {
      const chain = this.options.state.chain(this.name);
      if (!chain || chain.unconfirmed.length === 0 || !this.auth) return;
      const uuids = [...chain.unconfirmed];
      for (let i = 0; i < uuids.length; i += 4096) {
        await this.api.confirmPsrd({ client_name: this.options.clientName, block_uuids: uuids.slice(i, i + 4096) });
      }
      const now = this.options.state.chain(this.name);
      if (now) await this.options.state.setChain(this.name, { ...now, unconfirmed: now.unconfirmed.filter((u) => !uuids.includes(u)) });
    });
  }

  /**
   * A bundle from this hub was installed (bundle-installer.ts): confirm its hub-owned blocks (now
   * if we can sign, else at registration), register if this was the first, wake waiters.
   */
  onBundleInstalled(bytes: { local: number; peer: number }): void {
    this.needs.installed("local", bytes.local);
    this.needs.installed("peer", bytes.peer);
    if (this.stopped) return;
    if (this.auth) {
      this.confirmInstalled().catch((err: unknown) => {
        this.noteFailure(err);
        this.options.logger.warn(`hub ${this.name}: confirming installed PSRD failed: ${this.lastError}; retrying at the next install or registration`);
        this.requireReregistration("PSRD confirmation failed");
      });
    }
    if (!this.registered) {
      this.awaitingFirstBundle = false;
      this.ensureRegistering();
    }
  }

  private poolName(kind: PoolKind, hubName = this.name): string {
    return `hub-${hubName}-${kind === "local" ? "client-owned" : "hub-owned"}`;
  }

  private async deletePools(hubName: string): Promise<void> {
    await this.options.store.deletePool(this.poolName("local", hubName));
    await this.options.store.deletePool(this.poolName("peer", hubName));
  }

  /** Unregister (explicit operator action): the hub deletes our pools and shares; so do we. */
  async unregister(): Promise<void> {
    await this.api.unregisterSigned(this.options.clientName);
    this.registered = false;
    this.auth = undefined;
    await this.signing?.discard();
    this.signing = undefined;
    await this.deletePools(this.name);
    await this.options.state.setHub(this.url, undefined);
    await this.options.state.setChain(this.name, undefined);
  }

  /**
   * Forget our PSRD with this hub (operator action, e.g. the hub lost its state): zero and delete
   * our two pools and the bundle chain; the hub's local distributor then delivers a new first
   * bundle (the client states its initial need) and we register again. Never automatic: a hub
   * that answers "unknown client" could be an impostor, so only the operator decides.
   */
  async resetPsrd(): Promise<void> {
    await this.withChainLock(async () => {
      this.registered = false;
      this.auth = undefined;
      await this.signing?.discard();
      this.signing = undefined;
      this.scheme = undefined;
      await this.deletePools(this.name);
      await this.options.state.setHub(this.url, undefined);
      await this.options.state.setChain(this.name, undefined);
    });
    this.options.logger.warn(`hub ${this.name}: PSRD reset by the operator; waiting for a new first bundle`);
    this.askForFirstBundle();
  }

  /** No bundle from this hub (yet, or any more): state the first bundle's need for both pools. */
  private askForFirstBundle(): void {
    this.awaitingFirstBundle = true;
    const initial = this.options.initialPsrdBytes ?? 65_536;
    this.needs.request("local", initial);
    this.needs.request("peer", initial);
  }

  // ------------------------------------------------------------------ PSRD pools

  private pool(kind: PoolKind): Pool {
    if (!this.auth || !this.signing) throw this.notRegistered();
    return kind === "local" ? this.signing.inner : this.auth.peerPool;
  }

  poolStats(kind: PoolKind): PoolStats | undefined {
    if (!this.auth) return undefined;
    return this.pool(kind).stats();
  }

  /** PSRD bytes consumed by one signed message under the negotiated scheme. */
  get messageCost(): number {
    return this.scheme === "hmac-sha256" ? HMAC_SHA256_KEY_LENGTH : GF128_PAD_LENGTH;
  }

  private available(kind: PoolKind): number {
    const a = this.pool(kind).stats().available;
    return kind === "peer" ? a - this.peerInFlight : a;
  }

  /** Start a background refill up to the stop threshold if below the start threshold. */
  maybeReplenish(kind: PoolKind): void {
    if (!this.registered || this.stopped || this.refill[kind]) return;
    if (this.available(kind) >= Math.max(this.options.startThreshold, this.recentDemand(kind), this.aheadBytes(kind))) return;
    this.runFill(kind);
  }

  /**
   * PSRD this pool consumes in AHEAD_MS at the recent rate. Replenishment starts below this and
   * fills to twice it, so under load a refill happens in the background well before the pool runs
   * dry and asks for one block sized to the demand (a multiple of the block size) instead of many
   * small ones (each block costs a PSRD round trip plus a durable block add on both sides).
   */
  private aheadBytes(kind: PoolKind): number {
    const u = this.usage[kind];
    const now = Date.now();
    const used = this.pool(kind).stats().used;
    if (u.used < 0 || used < u.used) {
      u.used = used;
      u.at = now;
      u.rate = 0;
    } else if (now - u.at >= RATE_SAMPLE_MS) {
      const inst = (used - u.used) / (now - u.at);
      u.rate = u.rate === 0 ? inst : 0.5 * u.rate + 0.5 * inst;
      u.used = used;
      u.at = now;
    }
    return Math.min(MAX_AHEAD, Math.ceil(u.rate * AHEAD_MS));
  }

  private recentDemand(kind: PoolKind): number {
    const r = this.recent[kind];
    return Date.now() - r.at < RECENT_DEMAND_MS ? r.bytes : 0;
  }

  private noteDemand(kind: PoolKind, bytes: number): void {
    if (bytes <= this.options.startThreshold) return;
    const r = this.recent[kind];
    if (bytes >= r.bytes || Date.now() - r.at >= RECENT_DEMAND_MS) this.recent[kind] = { bytes, at: Date.now() };
    else r.at = Date.now();
  }

  private runFill(kind: PoolKind): Promise<void> {
    const existing = this.refill[kind];
    if (existing) return existing;
    const p = this.fill(kind)
      .catch((err) => {
        this.noteFailure(err);
        if (err instanceof HubApiError && (err.status === 404 || err.status === 401 || err.status === 0)) {
          this.requireReregistration(`PSRD request answered ${err.status}: ${err.message}`);
        }
        this.options.logger.warn(`hub ${this.name}: PSRD replenishment (${kind === "local" ? "client" : "hub"}-owned) failed: ${this.lastError}`);
        throw err;
      })
      .finally(() => {
        this.refill[kind] = undefined;
      });
    this.refill[kind] = p;
    p.catch(() => undefined);
    return p;
  }

  private async fill(kind: PoolKind): Promise<void> {
    const o = this.options;
    for (let guard = 0; guard < 10_000 && this.registered && !this.stopped; guard++) {
      // Batches: after a large request, keep room for three more of its size above the stop
      // threshold (refilled once less than one is left), so the next batches do not wait for
      // PSRD and one block serves several of them (fewer PSRD round trips and block commits).
      const recent = this.recentDemand(kind);
      const ahead = 2 * this.aheadBytes(kind);
      const target = Math.max(o.stopThreshold, this.demand[kind] + this.messageCost * 4, recent > 0 ? 3 * recent + o.stopThreshold : 0, ahead);
      const deficit = target - this.available(kind);
      if (deficit <= 0) return;
      const prefix = blockKeyPrefix(this.scheme ?? "gf128");
      // Threshold refills use blocks of blockSize; a large (recent) demand gets one block big enough.
      let size = o.blockSize;
      if ((this.demand[kind] > 0 || recent > 0 || ahead > o.stopThreshold) && deficit + prefix > o.blockSize) {
        size = Math.min(MAX_DEMAND_BLOCK, Math.ceil((deficit + prefix) / o.blockSize) * o.blockSize);
      }
      if ((o.psrdDelivery ?? "bundle") === "network") {
        await this.fetchBlock(kind, size);
        continue;
      }
      // Out of band: state the need; the local distributor has the hub issue a bundle and installs it.
      this.needs.request(kind, Math.max(size - prefix, MIN_BUNDLE_BYTES));
      const waitMs = o.psrdWaitMs ?? 10_000;
      if (!(await this.needs.waitForInstall(waitMs, this.abort.signal)) && this.available(kind) < target) {
        throw new HubFailure(
          this.name,
          `no PSRD bundle from hub ${this.name} was installed within ${waitMs} ms: is its local distributor running? (dske-cli status; by hand: dske-cli psrd issue / install)`,
          503,
        );
      }
    }
  }

  /**
   * Network delivery (`psrdDelivery: "network"`): GET a block as ourselves (enrollment secret of
   * the first bundle), confirm it in band (the hub uses it only after that), then add it.
   */
  private async fetchBlock(kind: PoolKind, size: number): Promise<void> {
    const pool = this.pool(kind);
    const secret = this.options.state.chain(this.name)?.enrollment_secret;
    if (!secret) throw new HubFailure(this.name, "network PSRD delivery needs the enrollment secret of the first bundle, which this client does not have");
    this.oob ??= new HubApi(this.url, { timeoutMs: this.options.timeoutMs, bearerToken: secret });
    const block = await this.oob.getPsrd({
      client_name: this.options.clientName,
      pool_owner: kind === "local" ? "client" : "hub",
      size,
    });
    try {
      await this.api.confirmPsrd({ client_name: this.options.clientName, block_uuids: [block.block_uuid] });
      await pool.addBlock(block.block_uuid, block.data, { keyPrefix: blockKeyPrefix(this.scheme ?? "gf128") });
    } finally {
      block.data.fill(0);
    }
  }

  /** Wait until `bytes` are available in the pool (fetching PSRD as needed). */
  private async ensure(kind: PoolKind, bytes: number): Promise<void> {
    this.noteDemand(kind, bytes);
    if (this.available(kind) >= bytes) {
      this.maybeReplenish(kind);
      return;
    }
    this.demand[kind] += bytes;
    try {
      for (let attempt = 0; attempt < 6; attempt++) {
        if (this.available(kind) >= bytes) return;
        if (!this.registered) throw this.notRegistered();
        try {
          await this.runFill(kind);
        } catch (err) {
          const f = this.failure(err, "PSRD replenishment failed");
          // Say why this hub cannot take part: its PSRD ran out and could not be replenished.
          throw f.status > 0 ? new HubFailure(this.name, `PSRD exhausted and replenishment failed: ${f.reason}`, f.status) : f;
        }
      }
      if (this.available(kind) < bytes) {
        throw new HubFailure(this.name, `PSRD exhausted (${kind === "local" ? "client" : "hub"}-owned pool)`);
      }
    } finally {
      this.demand[kind] -= bytes;
      this.maybeReplenish(kind);
    }
  }

  /** Allocate from the client-owned pool, refilling on exhaustion (and keeping room for the MAC). */
  private async allocateLocal(size: number, purpose: string): Promise<{ allocation: Allocation; data: Uint8Array }> {
    for (let attempt = 0; ; attempt++) {
      await this.ensure("local", size + this.messageCost);
      try {
        const pending = this.pool("local").allocate(size, purpose);
        // Same turn → same journal batch: the request's signing pad rides on this commit.
        this.signing?.prepare(this.messageCost, "prealloc sign request");
        return await pending;
      } catch (err) {
        if (!isExhausted(err) || attempt >= 4) throw this.failure(err, "PSRD allocation failed");
      }
    }
  }

  // ------------------------------------------------------------------ in band: scatter

  /** Post shares (one per key) to this hub; resolves when the hub acknowledged all of them. */
  async postShares(masterClient: string, items: readonly OutgoingShare[]): Promise<void> {
    if (!this.registered) throw this.notRegistered();
    if (this.coalescing) {
      await this.postCoalescer.submit({ masterClient, items });
      return;
    }
    await this.sendShares(masterClient, items);
  }

  private async sendShares(masterClient: string, items: readonly OutgoingShare[]): Promise<void> {
    if (!this.registered) throw this.notRegistered();
    if (items.some((i) => i.pad) && items.length > 1) {
      // Shares with their own pad (key_source psrd) go alone; the rest as usual.
      const own = items.filter((i) => i.pad);
      const rest = items.filter((i) => !i.pad);
      await Promise.all([mapLimit(own, 16, (item) => this.postOne(masterClient, item)), rest.length > 0 ? this.sendShares(masterClient, rest) : undefined]);
      return;
    }
    if (items.length > 1 && this.supportsBatch) {
      const chunks = chunkBy(items, MAX_BATCH_SHARES, MAX_BATCH_SHARE_BYTES, (i) => i.y.length);
      await Promise.all(chunks.map((c) => this.postBatch(masterClient, c)));
      return;
    }
    await mapLimit(items, 16, (item) => this.postOne(masterClient, item));
  }

  /** A one-time pad from the client-owned pool (key_source psrd: the pad is the share). */
  allocatePad(size: number, purpose: string): Promise<{ allocation: Allocation; data: Uint8Array }> {
    if (!this.registered) return Promise.reject(this.notRegistered());
    return this.allocateLocal(size, purpose);
  }

  private async postOne(masterClient: string, item: OutgoingShare): Promise<void> {
    const { allocation, data } = item.pad ?? (await this.allocateLocal(item.y.length, `key-share ${item.keyId}`));
    let encrypted: Uint8Array;
    try {
      encrypted = xor(item.y, data);
    } finally {
      data.fill(0);
    }
    await this.signedCall(this.messageCost, () =>
      this.api.postKeyShare({
        master_client_name: masterClient,
        master_sae_id: item.masterSae,
        slave_sae_id: item.slaveSae,
        ...(item.additionalSlaves.length > 0 ? { additional_slave_sae_ids: [...item.additionalSlaves] } : {}),
        user_key_id: item.keyId,
        share_index: item.x,
        encryption_key_allocation: allocationToWire(allocation),
        encrypted_share_value: Buffer.from(encrypted).toString("base64"),
        key_size: item.keySize,
      }),
    );
  }

  private async postBatch(masterClient: string, items: readonly OutgoingShare[]): Promise<void> {
    const total = items.reduce((s, i) => s + i.y.length, 0);
    const { allocation, data } = await this.allocateLocal(total, `key-shares x${items.length}`);
    const shares: BatchShareItem[] = [];
    try {
      let off = 0;
      for (const item of items) {
        const pad = data.subarray(off, off + item.y.length);
        off += item.y.length;
        const enc = xor(item.y, pad);
        shares.push({
          master_sae_id: item.masterSae,
          slave_sae_id: item.slaveSae,
          ...(item.additionalSlaves.length > 0 ? { additional_slave_sae_ids: [...item.additionalSlaves] } : {}),
          user_key_id: item.keyId,
          share_index: item.x,
          encrypted_share_value: Buffer.from(enc).toString("base64"),
          key_size: item.keySize,
        });
      }
    } finally {
      data.fill(0);
    }
    const res = await this.signedCall(this.messageCost, () =>
      this.api.postKeyShares({
        master_client_name: masterClient,
        encryption_key_allocation: allocationToWire(allocation),
        shares,
      }),
    );
    if (res.stored !== items.length) {
      throw new HubFailure(this.name, `hub stored ${res.stored} of ${items.length} shares`);
    }
  }

  // ------------------------------------------------------------------ in band: gather

  /**
   * Fetch and decrypt this hub's shares for the given keys. Keys the hub does not release (unknown,
   * expired, not for the caller) are absent from the result. Throws HubFailure when the hub fails.
   */
  async fetchShares(clientName: string, refs: readonly ShareRef[]): Promise<Map<string, { x: number; y: Uint8Array }>> {
    // The responder does not know the share size in advance: when the hub says its pool for us
    // is exhausted (503), top up the hub-owned pool with more and retry (a few times).
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.coalescing) return await this.fetchCoalescer.submit({ clientName, refs });
        return await this.fetchSharesOnce(clientName, refs);
      } catch (err) {
        if (!(err instanceof HubFailure) || err.status !== 503 || attempt >= 3) throw err;
        const more = Math.max(this.options.blockSize, refs.length * this.shareBytesEstimate) * 2 ** (attempt + 1);
        await this.ensure("peer", this.available("peer") + more);
      }
    }
  }

  private async fetchSharesOnce(clientName: string, refs: readonly ShareRef[]): Promise<Map<string, { x: number; y: Uint8Array }>> {
    if (!this.registered) throw this.notRegistered();
    const out = new Map<string, { x: number; y: Uint8Array }>();
    if ((refs.length > 1 || (this.supportsAck && this.pendingAcks.size > 0)) && this.supportsBatch) {
      const chunks = chunkBy(refs, MAX_BATCH_SHARES, MAX_BATCH_SHARE_BYTES, () => this.shareBytesEstimate);
      await Promise.all(chunks.map((c) => this.fetchBatch(clientName, c, out)));
    } else {
      await mapLimit(refs, 16, async (ref) => {
        const share = await this.fetchOne(clientName, ref);
        if (share) out.set(ref.keyId, share);
      });
    }
    return out;
  }

  private async fetchOne(clientName: string, ref: ShareRef): Promise<{ x: number; y: Uint8Array } | undefined> {
    const expected = this.shareBytesEstimate + this.messageCost;
    let res;
    // The response signature's PSRD commit is deferred so that it and the take of the share pad
    // below go into one journal batch; both are awaited before the share is used.
    let verified: Promise<void> = Promise.resolve();
    try {
      res = await this.signedCall(expected, () =>
        this.api.getKeyShare(
          {
            client_name: clientName,
            master_sae_id: ref.masterSae,
            slave_sae_id: ref.slaveSae,
            key_id: ref.keyId,
          },
          { onVerified: (c) => (verified = c) },
        ),
      );
    } catch (err) {
      if (err instanceof HubFailure && err.status === 404) return undefined;
      throw err;
    }
    const enc = Buffer.from(res.encrypted_share_value, "base64");
    const alloc = res.encryption_key_allocation;
    if (allocationSize(alloc) !== enc.length || enc.length === 0) {
      throw new HubFailure(this.name, "share allocation size does not match the share length");
    }
    this.noteReleased(ref.masterSae, ref.keyId);
    const pad = await this.takeAfter(verified, alloc, `key-share ${ref.keyId}`);
    try {
      this.shareBytesEstimate = enc.length;
      return { x: res.share_index, y: xor(enc, pad) };
    } finally {
      pad.fill(0);
      enc.fill(0);
    }
  }

  private async fetchBatch(
    clientName: string,
    refs: readonly ShareRef[],
    out: Map<string, { x: number; y: Uint8Array }>,
  ): Promise<void> {
    const expected = refs.length * this.shareBytesEstimate + this.messageCost;
    let verified: Promise<void> = Promise.resolve();
    // Ack extension: pending acknowledgements ride on this signed message (no extra PSRD).
    const acks = this.supportsAck ? this.takeAcks() : [];
    let res: FetchKeySharesResponse;
    try {
      res = await this.signedCall(expected, () =>
        this.api.getKeyShares(
          {
            client_name: clientName,
            keys: refs.map((r) => ({ master_sae_id: r.masterSae, slave_sae_id: r.slaveSae, key_id: r.keyId })),
            ...(acks.length > 0 ? { ack: acks } : {}),
          },
          { onVerified: (c) => (verified = c) },
        ),
      );
    } catch (err) {
      if (acks.length > 0) this.restoreAcks(acks);
      throw err;
    }
    const refByKey = new Map(refs.map((r) => [r.keyId, r]));
    for (const s of res.shares) {
      const r = refByKey.get(s.key_id);
      if (r) this.noteReleased(r.masterSae, r.keyId);
    }
    if (res.shares.length === 0) {
      await this.settleVerified(verified);
      return;
    }
    const wanted = new Set(refs.map((r) => r.keyId));
    const encs = res.shares.map((s) => Buffer.from(s.encrypted_share_value, "base64"));
    const total = encs.reduce((s, e) => s + e.length, 0);
    if (!res.encryption_key_allocation || allocationSize(res.encryption_key_allocation) !== total) {
      throw new HubFailure(this.name, "batch share allocation size does not match the shares");
    }
    const pads = await this.takeAfter(verified, res.encryption_key_allocation, `key-shares x${res.shares.length}`);
    try {
      let off = 0;
      res.shares.forEach((s, i) => {
        const enc = encs[i];
        const pad = pads.subarray(off, off + enc.length);
        off += enc.length;
        if (wanted.has(s.key_id) && !out.has(s.key_id) && enc.length > 0) {
          out.set(s.key_id, { x: s.share_index, y: xor(enc, pad) });
          this.shareBytesEstimate = enc.length;
        }
        enc.fill(0);
      });
    } finally {
      pads.fill(0);
    }
  }

  /** The response signature's (deferred) PSRD commit must be durable before its message is used. */
  private async settleVerified(verified: Promise<void>): Promise<void> {
    try {
      await verified;
    } catch (err) {
      throw this.failure(err, "could not commit the response signature's PSRD");
    }
  }

  /**
   * Take the pads named in a verified response; its signature commit (deferred) joins the same
   * journal batch, and both are durable before the pads are returned.
   */
  private async takeAfter(verified: Promise<void>, wire: Parameters<typeof allocationFromWire>[0], purpose: string): Promise<Uint8Array> {
    const taking = this.take(wire, purpose);
    taking.catch(() => undefined); // observed below; never an unhandled rejection
    try {
      await this.settleVerified(verified);
    } catch (err) {
      const pad = await taking.catch(() => undefined);
      pad?.fill(0);
      throw err;
    }
    return taking;
  }

  private async take(wire: Parameters<typeof allocationFromWire>[0], purpose: string): Promise<Uint8Array> {
    try {
      return await this.pool("peer").take(allocationFromWire(wire), purpose);
    } catch (err) {
      throw this.failure(err, "hub named PSRD we cannot take");
    }
  }

  // ------------------------------------------------------------------ plumbing

  /**
   * Make a signed call: make sure both pools can pay for it (request MAC from the client-owned
   * pool; response MAC + pads from the hub-owned pool), map errors to HubFailure, react to 401
   * (re-register) and 503 (refill the hub-owned pool).
   */
  private async signedCall<T>(peerBytes: number, call: () => Promise<T>): Promise<T> {
    await this.ensure("local", this.messageCost);
    await this.ensure("peer", peerBytes);
    this.peerInFlight += peerBytes;
    try {
      const res = await call();
      this.lastError = undefined;
      this.lastOkAt = Date.now();
      return res;
    } catch (err) {
      const failure = this.failure(err, "request failed");
      // 401: the hub does not know us (any more); status 0: down, timed out, or a bad response
      // signature. Either way: register again in the background (which also detects a hub that
      // lost its state); until then this hub is skipped instead of burning PSRD on it.
      if (failure.status === 401 || (failure.status === 0 && err instanceof HubApiError)) {
        this.requireReregistration(failure.reason);
      }
      if (failure.status === 503) {
        // Our view of the hub-owned pool may lag the hub's (lost responses): top it up.
        this.demand.peer += peerBytes + this.options.blockSize;
        this.runFill("peer")
          .catch(() => undefined)
          .finally(() => {
            this.demand.peer -= peerBytes + this.options.blockSize;
          });
      }
      throw failure;
    } finally {
      this.peerInFlight -= peerBytes;
      this.maybeReplenish("local");
      this.maybeReplenish("peer");
    }
  }

  private notRegistered(): HubFailure {
    return new HubFailure(this.name, this.lastError ?? "not registered");
  }

  private failure(err: unknown, what: string): HubFailure {
    if (err instanceof HubFailure) return err;
    let f: HubFailure;
    if (err instanceof HubApiError) {
      const reason =
        err.code === "network" && /ECONNREFUSED/.test(err.message)
          ? "connection refused"
          : err.status > 0
            ? `HTTP ${err.status} ${err.message}`
            : err.message;
      f = new HubFailure(this.name, reason, err.status);
    } else {
      f = new HubFailure(this.name, `${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (f.status !== 404) {
      this.lastError = f.reason;
      this.lastFailureAt = Date.now();
    }
    return f;
  }

  private noteFailure(err: unknown): void {
    if (err instanceof HubFailure) {
      this.lastError = err.reason;
    } else if (err instanceof HubApiError) {
      this.lastError =
        err.code === "network" && /ECONNREFUSED/.test(err.message) ? "connection refused" : err.status > 0 ? `HTTP ${err.status} ${err.message}` : err.message;
    } else {
      this.lastError = err instanceof Error ? err.message : String(err);
    }
    this.lastFailureAt = Date.now();
  }

  /** Which of these key IDs the hub holds a live share of: an unsigned query that costs no PSRD. */
  async sharesHeld(keyIds: readonly string[]): Promise<string[]> {
    const ids = [...new Set(keyIds)];
    const out: string[] = [];
    for (let i = 0; i < ids.length; i += MAX_BATCH_SHARES) out.push(...(await this.api.sharesHeld(ids.slice(i, i + MAX_BATCH_SHARES))));
    return out;
  }

  /**
   * Share metadata held by the hub for these key IDs (never values): a signed in-band query that
   * lists only shares of which this client hosts an intended slave SAE (the hub's management
   * status is for the operator).
   */
  async listShares(keyIds: readonly string[]): Promise<ShareMeta[]> {
    const ids = [...new Set(keyIds)];
    const out: ShareMeta[] = [];
    for (let i = 0; i < ids.length; i += MAX_BATCH_SHARES) {
      let verified: Promise<void> = Promise.resolve();
      const res = await this.signedCall(this.messageCost, () =>
        this.api.shareMeta({ client_name: this.options.clientName, key_ids: ids.slice(i, i + MAX_BATCH_SHARES) }, { onVerified: (c) => (verified = c) }),
      );
      await this.settleVerified(verified);
      out.push(...res.shares);
    }
    return out;
  }

  /** Record a wrong share detected by the responder. */
  noteBadShare(keyId: string): void {
    this.badShares++;
    this.lastBadShare = { key_id: keyId, at: new Date().toISOString() };
  }

  /** Management status of this hub (no PSRD bytes). */
  status(): Record<string, unknown> {
    const pool = (kind: PoolKind) => {
      const s = this.poolStats(kind);
      return s
        ? { blocks: s.blocks, size: s.size, used: s.used, available: s.available }
        : { blocks: 0, size: 0, used: 0, available: 0 };
    };
    return {
      hub_name: this.name,
      url: this.url,
      registered: this.registered,
      auth_scheme: this.scheme ?? null,
      extensions: [...this.extensions],
      pending_acks: this.pendingAcks.size,
      last_error: this.lastError ?? null,
      bad_shares: this.badShares,
      last_bad_share: this.lastBadShare ?? null,
      pools: { client_owned: pool("local"), hub_owned: pool("peer") },
      psrd: {
        delivery: this.options.psrdDelivery ?? "bundle",
        bundles_installed: this.options.state.chain(this.name)?.seq ?? 0,
        awaiting_first_bundle: this.awaitingFirstBundle,
        unconfirmed_blocks: this.options.state.chain(this.name)?.unconfirmed.length ?? 0,
        needs: this.needs.pending(),
      },
    };
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function chunkBy<T>(items: readonly T[], maxItems: number, maxBytes: number, bytes: (t: T) => number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let curBytes = 0;
  for (const it of items) {
    const b = bytes(it);
    if (cur.length > 0 && (cur.length >= maxItems || curBytes + b > maxBytes)) {
      out.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(it);
    curBytes += b;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Run fn over items with at most `limit` in flight; rejects with the first error after all settle. */
async function mapLimit<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        await fn(items[i]);
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError !== undefined) throw firstError;
}
