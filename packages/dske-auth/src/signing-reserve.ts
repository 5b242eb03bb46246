/**
 * SigningReserve: an owned pool with a small reserve of signing pads consumed ahead of time.
 *
 * Signing a message allocates a MAC pad, which is durably consumed (one journal commit) before
 * the tag may be used. When the caller already makes another allocation from the same pool for
 * the same message (e.g. the one-time pad of a share), `prepare(size)` allocates the signing pad
 * at the same moment, so both consumptions share one group commit; the signer's later
 * `allocate(size)` then takes the prepared pad (waiting for its commit if still in flight)
 * instead of paying a second, sequential commit.
 *
 * Security: a prepared pad is consumed (journaled, counted as used) like any allocation before
 * it is handed out, and it is handed out once (FIFO); after a crash the journal says the bytes
 * are used, so they are never reused. Pads prepared but never used (bounded by `maxPrepared`)
 * are zeroed by `discard()` and stay consumed: at most `maxPrepared` pads of PSRD lost per pool.
 * Every other Pool method is passed through unchanged.
 */
import type { AddBlockOptions, Allocation, BlockUsage, Pool, PoolOwner, PoolStats, Reservation } from "@dske/psrd";

type Allocated = { allocation: Allocation; data: Uint8Array };

export class SigningReserve implements Pool {
  private readonly prepared: { size: number; pad: Promise<Allocated | undefined> }[] = [];
  /** Pads prepared / used from the reserve (diagnostics, tests). */
  preparedCount = 0;
  usedFromReserve = 0;

  constructor(
    readonly inner: Pool,
    /** Most pads held at once (default 4). */
    readonly maxPrepared = 4,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  get owner(): PoolOwner {
    return this.inner.owner;
  }

  /** Pads waiting in the reserve. */
  get size(): number {
    return this.prepared.length;
  }

  /**
   * Consume a `size`-byte signing pad now (it joins the journal batch of allocations made in the
   * same turn of the event loop). No-op when the reserve is full. Never throws: a failed
   * allocation simply leaves nothing in the reserve (the signer then allocates as usual).
   */
  prepare(size: number, purpose = "prealloc sign"): void {
    if (this.prepared.length >= this.maxPrepared) return;
    let pad: Promise<Allocated | undefined>;
    try {
      pad = this.inner.allocate(size, purpose).catch(() => undefined);
    } catch {
      return;
    }
    this.preparedCount++;
    this.prepared.push({ size, pad });
  }

  /**
   * Keep signing pads of `size` ready ahead of need: when at most `low` are prepared, prepare
   * more up to `target` (bounded by maxPrepared) in this turn, so they share one journal commit
   * and the next signers need no commit of their own. Never throws.
   */
  replenish(size: number, low = 1, target = this.maxPrepared, purpose = "prealloc sign"): void {
    let have = 0;
    for (const p of this.prepared) if (p.size === size) have++;
    if (have > low) return;
    const room = this.maxPrepared - this.prepared.length;
    for (let i = 0; i < Math.min(room, target - have); i++) this.prepare(size, purpose);
  }

  /** A prepared pad of this size if any (FIFO), else a fresh allocation from the pool. */
  async allocate(size: number, purpose: string): Promise<Allocated> {
    const i = this.prepared.findIndex((p) => p.size === size);
    if (i >= 0) {
      const [entry] = this.prepared.splice(i, 1);
      const pad = await entry.pad;
      if (pad) {
        this.usedFromReserve++;
        return pad;
      }
    }
    return this.inner.allocate(size, purpose);
  }

  /** Zero and drop the prepared pads (they stay consumed). */
  async discard(): Promise<void> {
    const all = this.prepared.splice(0);
    for (const p of all) (await p.pad)?.data.fill(0);
  }

  addBlock(blockUuid: string, data: Uint8Array, options?: AddBlockOptions): Promise<void> {
    return this.inner.addBlock(blockUuid, data, options);
  }

  stats(): PoolStats {
    return this.inner.stats();
  }

  blockUsage(): BlockUsage[] {
    return this.inner.blockUsage();
  }

  reserve(allocation: Allocation, purpose: string): Promise<Reservation> {
    return this.inner.reserve(allocation, purpose);
  }

  take(allocation: Allocation, purpose: string): Promise<Uint8Array> {
    return this.inner.take(allocation, purpose);
  }

  blockKey(blockUuid: string): Promise<Uint8Array> {
    return this.inner.blockKey(blockUuid);
  }

  hasBlock(blockUuid: string): boolean {
    return this.inner.hasBlock(blockUuid);
  }
}
