/**
 * AllocationLease: a run of an owned pool's bytes consumed ahead of need with one durable journal
 * write, then handed out in memory, so that most allocations need no fsync of their own.
 *
 * Why this keeps "once, ever": the whole run is recorded as consumed (journal record written and
 * fdatasync'd) before a single byte of it is handed out, exactly like an allocation of that size;
 * the bytes are read into memory before the consumption is recorded, because a durable record has
 * the store zero them on disk. An allocation is then carved from the front of the run in memory
 * (synchronously, so concurrent callers get disjoint bytes) and its bytes are zeroed in the lease
 * as they are copied out. A crash burns what is left of the run (the journal says consumed, the
 * bytes on disk are zero), never reuses it. A clean close hands the rest back (pool.ts,
 * file-pool.ts: written back to the data file and left out of the compacted journal).
 *
 * Memory: at most about two runs of PSRD bytes per owned pool (the current one and the next one,
 * taken ahead when less than half is left).
 */
import { toError } from "./coerce.js";
import type { BlockRange } from "./pool.js";

/** One block's part of a run: its bytes (zeroed as they are handed out). */
export interface LeaseSegment {
  readonly range: BlockRange;
  readonly data: Uint8Array;
  /** Bytes of the segment handed out (from its start). */
  used: number;
  /** Resolves once the bytes are read and their consumption is durable; rejects if either failed. */
  readonly ready: Promise<void>;
}

/** Pieces of segments making up one allocation: copy them out once their segments are ready. */
export interface LeaseCut {
  readonly segment: LeaseSegment;
  readonly offset: number;
  readonly size: number;
}

export class AllocationLease {
  private segments: LeaseSegment[] = [];
  /** Bytes of the run(s) not handed out yet. */
  remaining = 0;

  add(segment: LeaseSegment): void {
    this.segments.push(segment);
    this.remaining += segment.range.size;
  }

  /** Bytes of this block in the lease not handed out yet (per-block accounting). */
  unusedIn(block: BlockRange["block"]): number {
    let n = 0;
    for (const s of this.segments) if (s.range.block === block) n += s.range.size - s.used;
    return n;
  }

  /** Carve `size` bytes from the front (the caller checked `remaining >= size`). */
  cut(size: number): LeaseCut[] {
    const cuts: LeaseCut[] = [];
    let need = size;
    while (need > 0) {
      const s = this.segments[0];
      const n = Math.min(need, s.range.size - s.used);
      cuts.push({ segment: s, offset: s.used, size: n });
      s.used += n;
      need -= n;
      if (s.used >= s.range.size) this.segments.shift();
    }
    this.remaining -= size;
    return cuts;
  }

  /** The block ranges of these cuts (the allocation's fragments). */
  static ranges(cuts: readonly LeaseCut[]): BlockRange[] {
    const out: BlockRange[] = [];
    for (const c of cuts) {
      const start = c.segment.range.start + c.offset;
      const last = out.at(-1);
      if (last && last.block === c.segment.range.block && last.start + last.size === start) {
        out[out.length - 1] = { block: last.block, start: last.start, size: last.size + c.size };
      } else {
        out.push({ block: c.segment.range.block, start, size: c.size });
      }
    }
    return out;
  }

  /** Wait for the cuts' segments, copy their bytes into `target` and zero them in the lease. */
  static async copyOut(cuts: readonly LeaseCut[], target: Uint8Array): Promise<void> {
    let failed: Error | undefined;
    try {
      for (const c of cuts) await c.segment.ready;
    } catch (e) {
      failed = toError(e);
    }
    let off = 0;
    for (const c of cuts) {
      if (failed === undefined) target.set(c.segment.data.subarray(c.offset, c.offset + c.size), off);
      c.segment.data.fill(0, c.offset, c.offset + c.size);
      off += c.size;
    }
    if (failed !== undefined) throw failed;
  }

  /**
   * Take what is left (clean close): ranges with their bytes, the segments whose run became
   * durable only. The lease is empty afterwards.
   */
  async drain(): Promise<{ range: BlockRange; data: Uint8Array }[]> {
    const all = this.segments;
    this.segments = [];
    this.remaining = 0;
    const out: { range: BlockRange; data: Uint8Array }[] = [];
    for (const s of all) {
      const ok = await s.ready.then(
        () => true,
        () => false,
      );
      const rest = s.data.subarray(s.used);
      if (!ok || rest.length === 0) {
        s.data.fill(0);
        continue;
      }
      out.push({ range: { block: s.range.block, start: s.range.start + s.used, size: rest.length }, data: rest });
    }
    return out;
  }
}
