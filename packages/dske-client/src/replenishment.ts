/**
 * Replenishment: the two PSRD pools a client holds with one hub, and keeping them filled.
 *
 * - The client-owned pool (owner `local`: we allocate from it to sign requests and encrypt shares
 *   we send) and the hub-owned pool (owner `peer`: we take from it to verify responses and decrypt
 *   shares we receive), in the client's PsrdStore. Blocks carry `keyPrefix: blockKeyPrefix(scheme)`.
 * - When a pool's available bytes drop below the start threshold (or the look-ahead at the recent
 *   consumption rate), it is refilled to the stop threshold (or twice the look-ahead), in the
 *   background, single-flight per pool. A demand larger than the pool (e.g. a batch of 1000 keys)
 *   asks for one block big enough.
 * - Bundle delivery (default): the need is stated (psrd-needs.ts) and the hub's local distributor
 *   installs a bundle (bundle-installer.ts). Network delivery: GET psrd with the enrollment secret.
 *   A reference hub: its unauthenticated GET psrd, whatever the delivery option (reference-hub.ts).
 */
import { SigningReserve, blockKeyPrefix, type AuthSchemeName, type PeerAuth } from "@dske/auth";
import { HubApi, HubApiError, allocationFromWire } from "@dske/protocol";
import type { Allocation, BlockUsage, Pool, PoolStats, PsrdExhaustedError, PsrdStore, Reservation } from "@dske/psrd";
import { HubFailure, type HubLink } from "./hub-link.js";
import type { Logger } from "./logger.js";
import type { NodeState } from "./node-state.js";
import type { HubNeeds } from "./psrd-needs.js";
import { fetchReferenceBlock } from "./reference-hub.js";

export type PoolKind = "local" | "peer";

/** How PSRD reaches the client and when pools are refilled. */
export interface PsrdOptions {
  /** Start refilling a pool when its available bytes drop below this (default 500). */
  startThreshold?: number;
  /** Refill up to this (default 2000). */
  stopThreshold?: number;
  /** PSRD block size in bytes (default 1000). */
  blockSize?: number;
  /**
   * How PSRD arrives (default "bundle"): bundles installed by the local distributor (the client
   * states its needs, see psrd-needs.ts), or "network": GET psrd with the enrollment secret of the
   * first bundle, each block confirmed in band before use.
   */
  delivery?: "bundle" | "network";
  /** A pool short of PSRD waits at most this long for a bundle before the request fails (default 10,000 ms). */
  waitMs?: number;
  /** Usable bytes per pool asked for in the first bundle from a hub (default 65,536). */
  initialBytes?: number;
  /** Background replenishment check interval (ms), default 1000. */
  tickMs?: number;
}

export const PSRD_DEFAULTS = {
  startThreshold: 500,
  stopThreshold: 2000,
  blockSize: 1000,
  delivery: "bundle",
  waitMs: 10_000,
  initialBytes: 65_536,
  tickMs: 1000,
} as const satisfies Required<PsrdOptions>;

export type ResolvedPsrdOptions = { [K in keyof PsrdOptions]-?: NonNullable<PsrdOptions[K]> };

/** The options with their defaults; throws RangeError when the thresholds do not make sense. */
export function resolvePsrdOptions(o: PsrdOptions = {}): ResolvedPsrdOptions {
  const r: ResolvedPsrdOptions = {
    startThreshold: o.startThreshold ?? PSRD_DEFAULTS.startThreshold,
    stopThreshold: o.stopThreshold ?? PSRD_DEFAULTS.stopThreshold,
    blockSize: o.blockSize ?? PSRD_DEFAULTS.blockSize,
    delivery: o.delivery ?? PSRD_DEFAULTS.delivery,
    waitMs: o.waitMs ?? PSRD_DEFAULTS.waitMs,
    initialBytes: o.initialBytes ?? PSRD_DEFAULTS.initialBytes,
    tickMs: o.tickMs ?? PSRD_DEFAULTS.tickMs,
  };
  if (!(r.startThreshold >= 0 && r.stopThreshold >= r.startThreshold && r.blockSize >= 1)) {
    throw new RangeError("PSRD thresholds must satisfy 0 <= start <= stop, block size >= 1");
  }
  return r;
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

/** The @dske/psrd error code of a pool with too few bytes available. */
const EXHAUSTED: PsrdExhaustedError["code"] = "exhausted";

function isExhausted(err: unknown): boolean {
  return err instanceof Error && (err as { code?: unknown }).code === EXHAUSTED;
}

export interface ReplenishmentDeps {
  link: HubLink;
  clientName: string;
  store: PsrdStore;
  state: NodeState;
  logger: Logger;
  psrd: ResolvedPsrdOptions;
  needs: HubNeeds;
  /** Per-request timeout of the out-of-band PSRD calls (the link's). */
  timeoutMs: number | undefined;
  /** The hub no longer knows us (a refill answered 401/404 or failed at the network level). */
  reregister: (reason: string) => void;
}

export class Replenishment {
  /** The signer's view of our pools (once attached at registration). */
  private auth: PeerAuth | undefined;
  /** The client-owned pool as the request signer sees it (signing pads prepared with share pads). */
  private signing: SigningReserve | undefined;
  /** Out-of-band calls with our enrollment secret (network delivery only). */
  private oob: HubApi | undefined;
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
  peerInFlight = 0;

  constructor(private readonly d: ReplenishmentDeps) {}

  /** The PSRD the request signer and response verifier use (undefined until attached). */
  get peerAuth(): PeerAuth | undefined {
    return this.auth;
  }

  /** Open our two pools with this hub and the signer over them (once; again if the scheme changed). */
  async attach(scheme: AuthSchemeName): Promise<void> {
    const { link } = this.d;
    if (this.auth && link.scheme === scheme) return;
    const local = await this.d.store.openPool(this.poolName("local"), "local");
    const peer = await this.d.store.openPool(this.poolName("peer"), "peer");
    link.scheme = scheme;
    await this.signing?.discard();
    this.signing = new SigningReserve(local);
    this.auth = { scheme, localPool: this.signing, peerPool: peer };
  }

  /** Forget the signer (unregistered or reset); the pools stay until deletePools. */
  async detach(): Promise<void> {
    this.auth = undefined;
    await this.signing?.discard();
    this.signing = undefined;
  }

  /** Our two pools with this hub (the bundle installer adds blocks to them). */
  async pools(): Promise<{ local: Pool; peer: Pool }> {
    return {
      local: await this.d.store.openPool(this.poolName("local"), "local"),
      peer: await this.d.store.openPool(this.poolName("peer"), "peer"),
    };
  }

  async deletePools(): Promise<void> {
    await this.d.store.deletePool(this.poolName("local"));
    await this.d.store.deletePool(this.poolName("peer"));
  }

  private poolName(kind: PoolKind): string {
    return `hub-${this.d.link.name}-${kind === "local" ? "client-owned" : "hub-owned"}`;
  }

  private pool(kind: PoolKind): Pool {
    if (!this.auth || !this.signing) throw this.d.link.notRegistered();
    return kind === "local" ? this.signing.inner : this.auth.peerPool;
  }

  poolStats(kind: PoolKind): PoolStats | undefined {
    if (!this.auth) return undefined;
    return this.pool(kind).stats();
  }

  /** Per-block accounting of a pool (status; metadata only), undefined until attached. */
  blockUsage(kind: PoolKind): BlockUsage[] | undefined {
    if (!this.auth) return undefined;
    return this.pool(kind).blockUsage();
  }

  available(kind: PoolKind): number {
    const a = this.pool(kind).stats().available;
    return kind === "peer" ? a - this.peerInFlight : a;
  }

  /** Start a background refill up to the stop threshold if below the start threshold. */
  maybeReplenish(kind: PoolKind): void {
    const { link, psrd } = this.d;
    if (!link.registered || link.stopped || this.refill[kind]) return;
    if (this.available(kind) >= Math.max(psrd.startThreshold, this.recentDemand(kind), this.aheadBytes(kind))) return;
    void this.runFill(kind); // runFill logs failures
  }

  /** Both pools. */
  maybeReplenishBoth(): void {
    this.maybeReplenish("local");
    this.maybeReplenish("peer");
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
    if (bytes <= this.d.psrd.startThreshold) return;
    const r = this.recent[kind];
    if (bytes >= r.bytes || Date.now() - r.at >= RECENT_DEMAND_MS) this.recent[kind] = { bytes, at: Date.now() };
    else r.at = Date.now();
  }

  private runFill(kind: PoolKind): Promise<void> {
    const existing = this.refill[kind];
    if (existing) return existing;
    const { link } = this.d;
    const p = this.fill(kind)
      .catch((err: unknown) => {
        link.noteFailure(err);
        if (err instanceof HubApiError && (err.status === 404 || link.shouldReregister(err, err.status))) {
          this.d.reregister(`PSRD request answered ${err.status}: ${err.message}`);
        }
        this.d.logger.warn("PSRD replenishment failed", {
          hub: link.name,
          owner: kind === "local" ? "client" : "hub",
          err: link.lastError,
        });
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
    const { link, psrd } = this.d;
    for (let guard = 0; guard < 10_000 && link.registered && !link.stopped; guard++) {
      // Batches: after a large request, keep room for three more of its size above the stop
      // threshold (refilled once less than one is left), so the next batches do not wait for
      // PSRD and one block serves several of them (fewer PSRD round trips and block commits).
      const recent = this.recentDemand(kind);
      const ahead = 2 * this.aheadBytes(kind);
      const target = Math.max(
        psrd.stopThreshold,
        this.demand[kind] + link.messageCost * 4,
        recent > 0 ? 3 * recent + psrd.stopThreshold : 0,
        ahead,
      );
      const deficit = target - this.available(kind);
      if (deficit <= 0) return;
      const prefix = blockKeyPrefix(link.scheme ?? "gf128");
      // Threshold refills use blocks of blockSize; a large (recent) demand gets one block big enough.
      let size = psrd.blockSize;
      if ((this.demand[kind] > 0 || recent > 0 || ahead > psrd.stopThreshold) && deficit + prefix > psrd.blockSize) {
        size = Math.min(MAX_DEMAND_BLOCK, Math.ceil((deficit + prefix) / psrd.blockSize) * psrd.blockSize);
      }
      if (link.reference) {
        await fetchReferenceBlock(link, this.d.clientName, kind, this.pool(kind), size); // reference-hub.ts
        continue;
      }
      if (psrd.delivery === "network") {
        await this.fetchBlock(kind, size);
        continue;
      }
      // Out of band: state the need; the local distributor has the hub issue a bundle and installs it.
      this.d.needs.request(kind, Math.max(size - prefix, MIN_BUNDLE_BYTES));
      if (!(await this.d.needs.waitForInstall(psrd.waitMs, link.abort.signal)) && this.available(kind) < target) {
        throw new HubFailure(
          link.name,
          `no PSRD bundle from hub ${link.name} was installed within ${psrd.waitMs} ms: is its local distributor running? (dske-cli status; by hand: dske-cli psrd issue / install)`,
          503,
        );
      }
    }
  }

  /**
   * Network delivery (`delivery: "network"`): GET a block as ourselves (enrollment secret of
   * the first bundle), confirm it in band (the hub uses it only after that), then add it.
   */
  private async fetchBlock(kind: PoolKind, size: number): Promise<void> {
    const { link } = this.d;
    const pool = this.pool(kind);
    const secret = this.d.state.chain(link.name)?.enrollment_secret;
    if (!secret)
      throw new HubFailure(
        link.name,
        "network PSRD delivery needs the enrollment secret of the first bundle, which this client does not have",
      );
    this.oob ??= new HubApi(link.url, { replicaUrls: link.urls.slice(1), timeoutMs: this.d.timeoutMs, bearerToken: secret, tls: link.tls });
    const block = await this.oob.getPsrd({ client_name: this.d.clientName, pool_owner: kind === "local" ? "client" : "hub", size });
    try {
      await link.api.confirmPsrd({ client_name: this.d.clientName, block_uuids: [block.block_uuid] });
      await pool.addBlock(block.block_uuid, block.data, { keyPrefix: blockKeyPrefix(link.scheme ?? "gf128") });
    } finally {
      block.data.fill(0);
    }
  }

  /** Wait until `bytes` are available in the pool (fetching PSRD as needed). */
  async ensure(kind: PoolKind, bytes: number): Promise<void> {
    const { link } = this.d;
    this.noteDemand(kind, bytes);
    if (this.available(kind) >= bytes) {
      this.maybeReplenish(kind);
      return;
    }
    this.demand[kind] += bytes;
    try {
      for (let attempt = 0; attempt < 6; attempt++) {
        if (this.available(kind) >= bytes) return;
        if (!link.registered) throw link.notRegistered();
        try {
          await this.runFill(kind);
        } catch (err) {
          const f = link.failure(err, "PSRD replenishment failed");
          // Say why this hub cannot take part: its PSRD ran out and could not be replenished.
          throw f.status > 0 ? new HubFailure(link.name, `PSRD exhausted and replenishment failed: ${f.reason}`, f.status) : f;
        }
      }
      if (this.available(kind) < bytes) {
        throw new HubFailure(link.name, `PSRD exhausted (${kind === "local" ? "client" : "hub"}-owned pool)`);
      }
    } finally {
      this.demand[kind] -= bytes;
      this.maybeReplenish(kind);
    }
  }

  /** Refill the hub-owned pool beyond `bytes` in the background (the hub said 503: our view lags its). */
  topUpPeer(bytes: number): void {
    this.demand.peer += bytes;
    this.runFill("peer")
      .catch(() => undefined)
      .finally(() => {
        this.demand.peer -= bytes;
      });
  }

  /** Allocate from the client-owned pool, refilling on exhaustion (and keeping room for the MAC). */
  async allocateLocal(size: number, purpose: string): Promise<{ allocation: Allocation; data: Uint8Array }> {
    const { link } = this.d;
    for (let attempt = 0; ; attempt++) {
      await this.ensure("local", size + link.messageCost);
      try {
        const pending = this.pool("local").allocate(size, purpose);
        // Same turn → same journal batch: the request's signing pad rides on this commit.
        this.signing?.prepare(link.messageCost, "prealloc sign request");
        return await pending;
      } catch (err) {
        if (!isExhausted(err) || attempt >= 4) throw link.failure(err, "PSRD allocation failed");
      }
    }
  }

  /**
   * Take the pads a hub named in a verified response from the hub-owned pool: checked and held at
   * once (never twice), their consumption journaled without waiting for its fdatasync (README,
   * "Durability"): a response cannot be replayed (its signature binds our request's tag, made with
   * PSRD used once), and the hub never names these bytes again, so they are used once even if a
   * crash loses the record; the journal write follows in the same turn and its sync at once.
   */
  async takeFromResponse(wire: Parameters<typeof allocationFromWire>[0], purpose: string): Promise<Uint8Array> {
    let reservation: Reservation;
    try {
      reservation = await this.pool("peer").reserve(allocationFromWire(wire), purpose);
    } catch (err) {
      throw this.d.link.failure(err, "hub named PSRD we cannot take");
    }
    this.background(reservation.commit(), "commit of a response's pads");
    return reservation.data;
  }

  /** A response signature's or pads' consumption commit nobody waits for: failures are logged. */
  background(commit: Promise<void>, what: string): void {
    commit.catch((err: unknown) => {
      this.d.logger.warn("background PSRD commit failed", {
        hub: this.d.link.name,
        reason: what,
        err: err instanceof Error ? err.message : String(err),
      });
    });
  }

  /** Take the pads a hub named (wire allocation) from the hub-owned pool. */
  async take(wire: Parameters<typeof allocationFromWire>[0], purpose: string): Promise<Uint8Array> {
    try {
      return await this.pool("peer").take(allocationFromWire(wire), purpose);
    } catch (err) {
      throw this.d.link.failure(err, "hub named PSRD we cannot take");
    }
  }

  /** Stop: wait for refills in flight, drop the signer's prepared pads, close the out-of-band client. */
  async stop(): Promise<void> {
    await Promise.allSettled([this.refill.local, this.refill.peer].filter((p) => p !== undefined));
    await this.signing?.discard();
    this.oob?.close();
  }
}
