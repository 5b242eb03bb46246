/**
 * Shared pool logic used by every store: the bump allocator of owned pools, the reserve /
 * commit / release of peer-owned pools, consumed-range tracking and accounting. Stores supply a
 * PoolBackend that makes blocks and consumptions durable and reads bytes.
 *
 * In-memory state is a superset of durable state: a consumption is marked in memory (so no
 * concurrent caller can get the same bytes) before it is handed to the backend, and the bytes
 * leave this module only after the backend made the consumption durable.
 */
import type { AuditLog } from "./audit.js";
import { checkNewBlock, normalizeBlockUuid, type BlockMeta } from "./block.js";
import { itemAt, toText } from "./coerce.js";
import {
  PsrdAllocationError,
  PsrdBlockError,
  PsrdClosedError,
  PsrdExhaustedError,
  PsrdOwnerError,
  PsrdReservationStateError,
} from "./errors.js";
import { checkAllocation, fragmentEnd } from "./fragment.js";
import { IntervalSet } from "./interval-set.js";
import { AllocationLease } from "./lease.js";
import type { AddBlockOptions, Allocation, BlockUsage, Fragment, Pool, PoolOwner, PoolStats, Reservation } from "./types.js";

/** A range of one block (what the backend reads, journals and zeroes). */
export interface BlockRange {
  readonly block: BlockMeta;
  readonly start: number;
  readonly size: number;
}

/** What a store provides to a pool. */
export interface PoolBackend {
  /** Store a new block durably (data, then metadata). `data` is the caller's; copy what you keep. */
  persistBlock(block: BlockMeta, data: Uint8Array): Promise<void>;
  /** Read each range into `target` at the running offset (ranges in order, concatenated). */
  read(ranges: readonly BlockRange[], target: Uint8Array): Promise<void>;
  /** Make the consumption of these ranges durable (group commit), then zero them in the store. */
  consume(ranges: readonly BlockRange[]): Promise<void>;
}

/** Per-block state. Owned pools use the high-water mark; peer pools the interval sets. */
class BlockState implements BlockMeta {
  readonly uuid: string;
  readonly index: number;
  readonly size: number;
  readonly keyPrefix: number;
  /** Owned pools: next byte to allocate. */
  hwm: number;
  /** Peer pools: consumed ranges (merged). */
  readonly consumed: IntervalSet | undefined;
  /** Peer pools: ranges held by pending reservations. */
  readonly reserved: IntervalSet | undefined;

  constructor(meta: BlockMeta, owner: PoolOwner) {
    this.uuid = meta.uuid;
    this.index = meta.index;
    this.size = meta.size;
    this.keyPrefix = meta.keyPrefix;
    this.hwm = meta.keyPrefix;
    if (owner === "peer") {
      this.consumed = new IntervalSet();
      this.reserved = new IntervalSet();
    }
  }

  /** The interval sets of a peer pool's block (a bug to ask for them on an owned pool's block). */
  peer(): { consumed: IntervalSet; reserved: IntervalSet } {
    if (this.consumed === undefined || this.reserved === undefined) throw new Error(`block ${this.uuid} is not in a peer pool`);
    return { consumed: this.consumed, reserved: this.reserved };
  }
}

/** A range of a block of this module's pools. */
interface StateRange extends BlockRange {
  readonly block: BlockState;
}

export interface PoolOptions {
  name: string;
  owner: PoolOwner;
  backend: PoolBackend;
  audit?: AuditLog | undefined;
  /**
   * Owned pools: consume runs of this many bytes ahead with one durable journal write and hand
   * allocations out of them in memory (lease.ts). 0 (default): every allocation is its own write.
   */
  leaseBytes?: number;
}

export class PsrdPool implements Pool {
  readonly name: string;
  readonly owner: PoolOwner;
  private readonly backend: PoolBackend;
  private readonly audit: AuditLog | undefined;
  private readonly blocks: BlockState[] = [];
  private readonly byUuid = new Map<string, BlockState>();
  /** UUIDs of blocks being added (not yet durable). */
  private readonly adding = new Set<string>();
  private addChain: Promise<unknown> = Promise.resolve();
  private cursor = 0;
  private totalSize = 0;
  private usedBytes = 0;
  private closedReason: string | undefined;
  private readonly leaseBytes: number;
  private readonly lease = new AllocationLease();

  constructor(options: PoolOptions) {
    this.name = options.name;
    this.owner = options.owner;
    this.backend = options.backend;
    this.audit = options.audit;
    this.leaseBytes = options.owner === "local" ? Math.max(0, Math.floor(options.leaseBytes ?? 0)) : 0;
  }

  // ---- used by stores while loading -------------------------------------------------------

  /** Register an existing block (store load). */
  loadBlock(meta: BlockMeta): void {
    const b = new BlockState(meta, this.owner);
    if (b.index !== this.blocks.length) throw new Error(`block index ${b.index} out of order`);
    this.blocks.push(b);
    this.byUuid.set(b.uuid, b);
    this.totalSize += b.size;
    this.usedBytes += b.keyPrefix;
  }

  /** Mark a range consumed while replaying durable state (store load). Idempotent. */
  loadConsumed(blockIndex: number, start: number, size: number): void {
    const b = itemAt(this.blocks, blockIndex);
    if (!b) throw new Error(`journal names unknown block index ${blockIndex}`);
    const s = Math.max(start, b.keyPrefix);
    const e = Math.min(start + size, b.size);
    if (e <= s) return;
    if (b.consumed) {
      const before = b.consumed.total;
      b.consumed.add(s, e);
      this.usedBytes += b.consumed.total - before;
    } else if (e > b.hwm) {
      this.usedBytes += e - b.hwm;
      b.hwm = e;
    }
  }

  /** Finish loading: position the allocation cursor. */
  loadDone(): void {
    this.cursor = 0;
    while (this.cursor < this.blocks.length && this.blocks[this.cursor].hwm >= this.blocks[this.cursor].size) this.cursor++;
  }

  /** Block metadata (for stores). */
  blockMetas(): readonly BlockMeta[] {
    return this.blocks;
  }

  /** Consumed ranges as known in memory (owned: [keyPrefix, hwm); peer: the merged set). */
  *consumedRanges(): IterableIterator<BlockRange> {
    for (const b of this.blocks) {
      if (b.consumed) {
        for (const [s, e] of b.consumed.intervals()) yield { block: b, start: s, size: e - s };
      } else if (b.hwm > b.keyPrefix) {
        yield { block: b, start: b.keyPrefix, size: b.hwm - b.keyPrefix };
      }
    }
  }

  /** Are all bytes of the fragment consumed (or in-flight to be)? Inspection for tests/operators. */
  isConsumed(fragment: Fragment): boolean {
    const b = this.byUuid.get(normalizeBlockUuid(fragment.blockUuid));
    if (!b) return false;
    const end = fragment.start + fragment.size;
    if (b.consumed) return b.consumed.covers(fragment.start, end);
    return fragment.start >= b.keyPrefix && end <= b.hwm;
  }

  /** Number of intervals kept in memory (memory model checks). */
  intervalCount(): number {
    let n = 0;
    for (const b of this.blocks) n += b.consumed && b.reserved ? b.consumed.count + b.reserved.count : 1;
    return n;
  }

  /** Make every further call fail (store closed or pool deleted). */
  markClosed(reason: string): void {
    this.closedReason = reason;
  }

  private assertOpen(): void {
    if (this.closedReason !== undefined) throw new PsrdClosedError(this.closedReason);
  }

  // ---- Pool API ---------------------------------------------------------------------------

  async addBlock(blockUuid: string, data: Uint8Array, options?: AddBlockOptions): Promise<void> {
    this.assertOpen();
    if (!(data instanceof Uint8Array)) throw new PsrdBlockError("invalid_block", "block data must be a Uint8Array");
    const uuid = checkNewBlock(blockUuid, data.length, options?.keyPrefix ?? 0);
    if (this.byUuid.has(uuid) || this.adding.has(uuid)) {
      throw new PsrdBlockError("duplicate_block", `pool "${this.name}" already has block ${uuid}`);
    }
    this.adding.add(uuid);
    const run = this.addChain.then(async () => {
      this.assertOpen();
      const meta: BlockMeta = { uuid, index: this.blocks.length, size: data.length, keyPrefix: options?.keyPrefix ?? 0 };
      await this.backend.persistBlock(meta, data);
      this.loadBlock(meta);
      while (this.cursor < this.blocks.length && this.blocks[this.cursor].hwm >= this.blocks[this.cursor].size) this.cursor++;
    });
    this.addChain = run.catch(() => undefined);
    try {
      await run;
    } finally {
      this.adding.delete(uuid);
    }
  }

  stats(): PoolStats {
    return {
      name: this.name,
      owner: this.owner,
      blocks: this.blocks.length,
      size: this.totalSize,
      used: this.usedBytes - this.lease.remaining,
      available: this.totalSize - this.usedBytes + this.lease.remaining,
    };
  }

  blockUsage(): BlockUsage[] {
    return this.blocks.map((b) => {
      // Owned: everything below the high-water mark; peer: the key prefix plus the consumed ranges.
      const used = b.consumed ? b.keyPrefix + b.consumed.total : b.hwm - (this.lease.remaining > 0 ? this.lease.unusedIn(b) : 0);
      return { blockUuid: b.uuid, size: b.size, used, unused: b.size - used };
    });
  }

  async allocate(size: number, purpose: string): Promise<{ allocation: Allocation; data: Uint8Array }> {
    this.assertOpen();
    if (this.owner !== "local") {
      throw new PsrdOwnerError(`allocate is for owned pools; pool "${this.name}" is owned by the peer`);
    }
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new PsrdAllocationError("invalid_size", `allocation size must be a positive integer, got ${String(size)}`);
    }
    const available = this.totalSize - this.usedBytes + this.lease.remaining;
    if (size > available) throw new PsrdExhaustedError(this.name, size, available);
    if (this.leaseBytes > 0) return this.allocateLeased(size, purpose);

    const ranges = this.bump(size);
    const data = new Uint8Array(size);
    try {
      await this.backend.read(ranges, data);
      await this.backend.consume(ranges);
      await this.auditAllocation(ranges, purpose);
    } catch (e) {
      data.fill(0);
      throw e;
    }
    return { allocation: { fragments: toFragments(ranges) }, data };
  }

  /** Bump the high-water marks by `size` bytes (synchronous: concurrent callers get disjoint ranges). O(fragments). */
  private bump(size: number): BlockRange[] {
    const ranges: BlockRange[] = [];
    let need = size;
    while (need > 0) {
      const b = this.blocks[this.cursor];
      const free = b.size - b.hwm;
      if (free > 0) {
        const n = Math.min(free, need);
        ranges.push({ block: b, start: b.hwm, size: n });
        b.hwm += n;
        need -= n;
      }
      if (b.hwm >= b.size) this.cursor++;
    }
    this.usedBytes += size;
    return ranges;
  }

  private async auditAllocation(ranges: readonly BlockRange[], purpose: string): Promise<void> {
    await this.audit?.append({
      pool: this.name,
      owner: this.owner,
      op: "allocate",
      purpose: toText(purpose), // JavaScript callers may pass a non-string
      fragments: toFragments(ranges),
    });
  }

  /**
   * Allocate from the lease (lease.ts): top it up first if it holds less than `size` (the new run
   * is made durable before the allocation resolves), carve synchronously, and take the next run
   * ahead when less than half of one is left, so the next allocations find durable bytes waiting.
   */
  private async allocateLeased(size: number, purpose: string): Promise<{ allocation: Allocation; data: Uint8Array }> {
    if (this.lease.remaining < size) {
      const room = this.totalSize - this.usedBytes; // >= size - remaining (checked by allocate)
      this.extendLease(Math.min(room, Math.max(this.leaseBytes, size - this.lease.remaining)));
    }
    const cuts = this.lease.cut(size);
    if (this.lease.remaining < this.leaseBytes / 2) {
      const room = this.totalSize - this.usedBytes;
      if (room > 0) this.extendLease(Math.min(room, this.leaseBytes));
    }
    const ranges = AllocationLease.ranges(cuts);
    const data = new Uint8Array(size);
    try {
      await AllocationLease.copyOut(cuts, data);
      await this.auditAllocation(ranges, purpose);
    } catch (e) {
      data.fill(0);
      throw e;
    }
    return { allocation: { fragments: toFragments(ranges) }, data };
  }

  /** Consume the next `size` bytes into the lease: read them, then record them durably (one journal batch). */
  private extendLease(size: number): void {
    const ranges = this.bump(size);
    for (const range of ranges) {
      const data = new Uint8Array(range.size);
      const ready = this.backend.read([range], data).then(() => this.backend.consume([range]));
      ready.catch(() => undefined); // observed by the allocations carved from it
      this.lease.add({ range, data, used: 0, ready });
    }
  }

  /**
   * The lease's bytes not handed out, taken out of the pool (a store closing cleanly gives them
   * back: file-pool.ts). Further allocations fail (the pool is closed first).
   */
  drainLease(): Promise<{ range: BlockRange; data: Uint8Array }[]> {
    return this.lease.drain();
  }

  async reserve(allocation: Allocation, purpose: string): Promise<Reservation> {
    this.assertOpen();
    if (this.owner !== "peer") {
      throw new PsrdOwnerError(`reserve/take are for peer-owned pools; pool "${this.name}" is owned locally`);
    }
    // Structural checks: fields, no overlap inside the allocation. Limits are the caller's
    // business (applied when parsing wire input), so use no effective limit here.
    const checked = checkAllocation(allocation, { maxFragments: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER });
    const ranges: StateRange[] = [];
    let total = 0;
    for (let i = 0; i < checked.fragments.length; i++) {
      const f = checked.fragments[i];
      const b = this.byUuid.get(normalizeBlockUuid(f.blockUuid));
      if (!b) throw new PsrdAllocationError("unknown_block", `fragment ${i}: pool "${this.name}" has no block ${f.blockUuid}`);
      const end = fragmentEnd(f);
      if (end > b.size) {
        throw new PsrdAllocationError(
          "out_of_range",
          `fragment ${i}: bytes ${f.start}..${end} are outside block ${b.uuid} of ${b.size} bytes`,
        );
      }
      if (f.start < b.keyPrefix) {
        throw new PsrdAllocationError("key_prefix", `fragment ${i}: bytes before ${b.keyPrefix} of block ${b.uuid} are its key prefix`);
      }
      const { consumed, reserved } = b.peer();
      if (consumed.overlaps(f.start, end)) {
        throw new PsrdAllocationError("consumed", `fragment ${i}: bytes ${f.start}..${end} of block ${b.uuid} were already consumed`);
      }
      if (reserved.overlaps(f.start, end)) {
        throw new PsrdAllocationError(
          "reserved",
          `fragment ${i}: bytes ${f.start}..${end} of block ${b.uuid} are held by another pending reservation`,
        );
      }
      ranges.push({ block: b, start: f.start, size: f.size });
      total += f.size;
    }
    // Hold synchronously (no await since the checks), so a concurrent reserve sees the hold.
    for (const r of ranges) r.block.peer().reserved.add(r.start, r.start + r.size);

    const data = new Uint8Array(total);
    try {
      await this.backend.read(ranges, data);
    } catch (e) {
      data.fill(0);
      for (const r of ranges) r.block.peer().reserved.remove(r.start, r.start + r.size);
      throw e;
    }
    return this.makeReservation(checked, ranges, data, toText(purpose)); // JavaScript callers may pass a non-string
  }

  private makeReservation(allocation: Allocation, ranges: readonly StateRange[], data: Uint8Array, purpose: string): Reservation {
    let state: "pending" | "committing" | "committed" | "released" = "pending";
    const unhold = (): void => {
      for (const r of ranges) r.block.peer().reserved.remove(r.start, r.start + r.size);
    };
    return {
      data,
      allocation,
      commit: async (): Promise<void> => {
        if (state !== "pending") throw new PsrdReservationStateError(`reservation is already ${state}`);
        this.assertOpen();
        state = "committing";
        // Move held → consumed in memory first (conservative: if the journal write fails the
        // bytes stay burned), then make it durable.
        unhold();
        for (const r of ranges) r.block.peer().consumed.add(r.start, r.start + r.size);
        this.usedBytes += data.length;
        try {
          await this.backend.consume(ranges);
          await this.audit?.append({ pool: this.name, owner: this.owner, op: "take", purpose, fragments: toFragments(ranges) });
          state = "committed";
        } catch (e) {
          state = "committed";
          data.fill(0);
          throw e;
        }
      },
      release: (): void => {
        if (state !== "pending") return;
        state = "released";
        unhold();
        data.fill(0);
      },
    };
  }

  async take(allocation: Allocation, purpose: string): Promise<Uint8Array> {
    const r = await this.reserve(allocation, purpose);
    try {
      await r.commit();
    } catch (e) {
      r.release();
      throw e;
    }
    return r.data;
  }

  hasBlock(blockUuid: string): boolean {
    this.assertOpen();
    return typeof blockUuid === "string" && this.byUuid.has(normalizeBlockUuid(blockUuid));
  }

  async blockKey(blockUuid: string): Promise<Uint8Array> {
    this.assertOpen();
    const b = typeof blockUuid === "string" ? this.byUuid.get(normalizeBlockUuid(blockUuid)) : undefined;
    if (!b) throw new PsrdBlockError("unknown_block", `pool "${this.name}" has no block ${toText(blockUuid)}`);
    if (b.keyPrefix === 0) throw new PsrdBlockError("no_key_prefix", `block ${b.uuid} has no key prefix`);
    const out = new Uint8Array(b.keyPrefix);
    await this.backend.read([{ block: b, start: 0, size: b.keyPrefix }], out);
    return out;
  }
}

function toFragments(ranges: readonly BlockRange[]): Fragment[] {
  return ranges.map((r) => ({ blockUuid: r.block.uuid, start: r.start, size: r.size }));
}
