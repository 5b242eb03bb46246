/**
 * The consumption journal of one on-disk pool: an append-only file of fixed-size, checksummed
 * records (block index, start, size, flags). Appends from concurrent operations are group-
 * committed: queued, written as one batch, made durable with one fdatasync, then all resolved.
 * After the fsync the consumed ranges are zeroed in the data file (lazily: the record already
 * forbids reuse; on reopen, ranges of records without the `zeroed` flag are zeroed again), and
 * the data file is fdatasync'd at most `zeroSyncMs` later (one sync for all zeroing meanwhile),
 * so consumed PSRD (pads of shares, keys in the psrd key source) is off the disk within that bound,
 * not only whenever the kernel writes the page cache back.
 *
 * When the journal grows it is compacted: pending zero writes are flushed and the data file
 * synced, then the merged consumed ranges are written as `zeroed` records to a new file that
 * atomically replaces the journal (write, fsync, rename, fsync directory).
 */
import { countFsync } from "./io-stats.js";
import { writeSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { toError } from "./coerce.js";
import { PsrdClosedError } from "./errors.js";
import { IntervalSet } from "./interval-set.js";
import { FLAG_ZEROED, RECORD_SIZE, encodeRecord, writeJournalAtomically, type JournalRecord } from "./journal-file.js";

export {
  FLAG_ZEROED,
  RECORD_SIZE,
  decodeRecord,
  encodeRecord,
  fsyncDir,
  removeIfExists,
  replayJournal,
  writeFully,
  writeJournalAtomically,
  type JournalRecord,
  type ReplayResult,
} from "./journal-file.js";

export interface JournalHooks {
  /** Zero these ranges in the data file (after their records are durable). */
  zero(records: readonly JournalRecord[]): Promise<void>;
  /** fdatasync the data file (before a compaction marks ranges zeroed). */
  syncData(): Promise<void>;
}

export interface JournalOptions {
  path: string;
  dir: string;
  hooks: JournalHooks;
  /** Per block: ranges already durable in the journal (replayed). Taken over by the journal. */
  written: IntervalSet[];
  /** Records currently in the journal file. */
  records: number;
  /** Byte offset where appending continues (after the last valid record). */
  end: number;
  /** Compact when the journal has more than this many records (and 4× the live intervals). */
  compactAfter: number;
  /** fdatasync the data file at most this many ms after consumed ranges were zeroed (default 1000). */
  zeroSyncMs?: number;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * The journal file is extended in steps of written zeros, so that most batches overwrite
 * already-allocated blocks and their fdatasync need not also commit a size change. A step is the
 * file's current size, at least PREALLOCATE_MIN and at most PREALLOCATE_MAX bytes: a new pool (a
 * node has one per peer, and a topology starts dozens) writes 16 KiB, not 256 KiB, a busy one
 * doubles up to steps of 256 KiB.
 */
const PREALLOCATE_MIN = 16 * 1024;
const PREALLOCATE_MAX = 256 * 1024;

/** Batches whose fdatasync may be in flight at once (see Journal). */
const MAX_IN_FLIGHT = 2;

/**
 * The group-committing journal writer of one pool.
 *
 * Appends queue up; a batch is everything queued when the writer gets to it: one write, one
 * fdatasync. Up to MAX_IN_FLIGHT batches may be between write and fsync-completion at once
 * (pipelining: the next cohort does not wait for the previous fsync to finish before being
 * written); batches are acknowledged strictly in order, so when batch k resolves, every batch
 * before it is durable too. The last batches before a crash may be torn; none of them was
 * acknowledged (see replayJournal).
 */
export class Journal {
  private readonly path: string;
  private readonly dir: string;
  private readonly hooks: JournalHooks;
  private readonly written: IntervalSet[];
  private readonly compactAfter: number;
  private fh: FileHandle | undefined;
  /** Append position. */
  private size: number;
  /** File size (the tail beyond `size` is preallocated zeros). */
  private allocated: number;
  private records: number;
  private queue: JournalRecord[] = [];
  private waiters: Waiter[] = [];
  private inFlight = 0;
  private compacting = false;
  private pumpScheduled = false;
  /** Records appended since the journal was last rewritten (all records older than that are flagged zeroed). */
  private appended = 0;
  /** Settles when the most recently written batch has been acknowledged (in order). */
  private tail: Promise<void> = Promise.resolve();
  private zeroing: Promise<void> = Promise.resolve();
  /** The first failure (fail closed: nothing more is written). */
  private failure: Error | undefined;
  private closed = false;
  /** Batches made durable (each = one write + one fdatasync); shows group commit at work. */
  batches = 0;
  /** fdatasyncs of the data file that made zeroed ranges durable (see zeroSyncMs). */
  zeroSyncs = 0;
  private readonly zeroSyncMs: number;
  private zeroSyncTimer: NodeJS.Timeout | undefined;

  private constructor(options: JournalOptions, fh: FileHandle, fileSize: number) {
    this.path = options.path;
    this.dir = options.dir;
    this.hooks = options.hooks;
    this.written = options.written;
    this.records = options.records;
    this.compactAfter = options.compactAfter;
    this.zeroSyncMs = options.zeroSyncMs ?? 1000;
    this.fh = fh;
    this.size = options.end;
    this.allocated = Math.max(fileSize, options.end);
  }

  static async open(options: JournalOptions): Promise<Journal> {
    const fh = await open(options.path, "r+").catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return open(options.path, "w+");
      throw e;
    });
    const { size } = await fh.stat();
    return new Journal(options, fh, size);
  }

  /** A new block was added (index = previous count). */
  addBlock(): void {
    this.written.push(new IntervalSet());
  }

  /** Durably record these consumptions. Resolves after the batch holding them is fsync'd. */
  append(records: readonly JournalRecord[]): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new PsrdClosedError("journal"));
    for (const r of records) this.queue.push(r);
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    // Write on the next turn of the event loop, so that every append made in this turn (e.g.
    // all callers just woken by the previous batch) joins the same batch.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
    return p;
  }

  /** Keep the first failure. (A thrown undefined is no failure, as `failure === undefined` means none.) */
  private recordFailure(e: unknown): void {
    if (e !== undefined) this.failure ??= toError(e);
  }

  /** Open the file handle; it is closed only while compaction swaps the file, and after close. */
  private file(): FileHandle {
    if (this.fh === undefined) throw new PsrdClosedError("journal file");
    return this.fh;
  }

  private fail(e: unknown): void {
    this.recordFailure(e);
    for (const w of this.waiters) w.reject(this.failure);
    this.waiters = [];
    this.queue = [];
  }

  /** Write queued records as batches while fewer than MAX_IN_FLIGHT are awaiting their fsync. */
  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < MAX_IN_FLIGHT && !this.compacting && this.failure === undefined) {
      const batch = this.queue;
      const waiters = this.waiters;
      this.queue = [];
      this.waiters = [];
      // The writes happen now (synchronously); a throw rejects `synced` as a failed fdatasync would.
      const synced = new Promise<void>((resolve) => {
        const buf = Buffer.allocUnsafe(batch.length * RECORD_SIZE);
        for (let i = 0; i < batch.length; i++) encodeRecord(batch[i], buf, i * RECORD_SIZE);
        // The write goes to the page cache (synchronous, microseconds); the fdatasync is the
        // slow step and stays asynchronous so the event loop keeps serving while it runs.
        const fd = this.file().fd;
        if (this.size + buf.length > this.allocated) {
          const step = Math.min(PREALLOCATE_MAX, Math.max(PREALLOCATE_MIN, this.allocated));
          const target = this.size + buf.length + step;
          const zero = Buffer.alloc(Math.min(step, target - this.allocated));
          while (this.allocated < target) {
            const n = Math.min(zero.length, target - this.allocated);
            this.allocated += writeSync(fd, zero, 0, n, this.allocated);
          }
        }
        for (let done = 0; done < buf.length;) done += writeSync(fd, buf, done, buf.length - done, this.size + done);
        this.size += buf.length;
        this.records += batch.length;
        this.appended += batch.length;
        countFsync(this.path);
        resolve(this.file().datasync());
      });
      this.inFlight++;
      const previous = this.tail;
      this.tail = this.settle(batch, waiters, synced, previous);
    }
  }

  private async settle(batch: JournalRecord[], waiters: Waiter[], synced: Promise<void>, previous: Promise<void>): Promise<void> {
    let error: unknown;
    try {
      await synced;
    } catch (e) {
      error = e;
    }
    await previous; // acknowledge in order (never rejects)
    this.inFlight--;
    if (error !== undefined || this.failure !== undefined) {
      // The file may now hold a partial batch: fail closed, nothing more is written.
      this.fail(error ?? this.failure);
      for (const w of waiters) w.reject(this.failure);
      return;
    }
    this.batches++;
    for (const r of batch) this.written[r.block].add(r.start, r.start + r.size);
    for (const w of waiters) w.resolve();
    // Zero lazily, overlapping with later batches; zeroing batches run one after another.
    this.zeroing = this.zeroing
      .then(() => this.hooks.zero(batch))
      .catch((e: unknown) => {
        this.recordFailure(e);
      });
    this.scheduleZeroSync();
    // Compaction: stop writing new batches; the batch that settles last (nothing in flight
    // after it) rewrites the journal, then writing resumes.
    if (!this.compacting && this.records > this.compactAfter && this.records > 4 * this.liveIntervals()) {
      this.compacting = true;
    }
    if (this.compacting && this.inFlight === 0) {
      try {
        await this.compact();
      } catch (e) {
        this.fail(e);
      } finally {
        this.compacting = false;
      }
    }
    this.pump();
  }

  /** One fdatasync of the data file for all ranges zeroed in the next zeroSyncMs (see the header). */
  private scheduleZeroSync(): void {
    if (this.zeroSyncTimer !== undefined || this.closed) return;
    this.zeroSyncTimer = setTimeout(() => {
      this.zeroSyncTimer = undefined;
      if (this.closed || this.failure !== undefined) return;
      this.zeroing = this.zeroing
        .then(() => this.hooks.syncData())
        .then(() => {
          this.zeroSyncs++;
        })
        .catch((e: unknown) => {
          this.recordFailure(e);
        });
    }, this.zeroSyncMs);
    this.zeroSyncTimer.unref();
  }

  private liveIntervals(): number {
    let n = 0;
    for (const s of this.written) n += s.count;
    return n;
  }

  /** Replace the journal by the merged ranges, all marked zeroed (their zeroing is flushed first). */
  private async compact(): Promise<void> {
    await this.zeroing;
    if (this.failure !== undefined) throw this.failure;
    await this.hooks.syncData();
    const written = this.written;
    function* snapshot(): IterableIterator<JournalRecord> {
      for (let b = 0; b < written.length; b++) {
        for (const [s, e] of written[b].intervals()) yield { block: b, start: s, size: e - s, flags: FLAG_ZEROED };
      }
    }
    await this.file().close();
    this.fh = undefined;
    this.records = await writeJournalAtomically(this.path, this.dir, snapshot());
    this.fh = await open(this.path, "r+");
    this.size = this.records * RECORD_SIZE;
    this.allocated = this.size;
    this.appended = 0;
  }

  /**
   * Wait until every queued record is durable and zeroed, then close. A clean close compacts the
   * journal (all ranges flagged zeroed), so the next open has nothing to re-zero.
   */
  async close(giveBack?: (written: IntervalSet[]) => void): Promise<void> {
    while (this.queue.length > 0 || this.inFlight > 0 || this.compacting || this.pumpScheduled) {
      await this.tail;
      await new Promise<void>((r) => setImmediate(r));
    }
    this.closed = true;
    if (this.zeroSyncTimer !== undefined) clearTimeout(this.zeroSyncTimer);
    this.zeroSyncTimer = undefined;
    await this.zeroing;
    if (this.failure === undefined) {
      // Ranges given back (an allocation lease's rest): their bytes are written back and their
      // records dropped from the snapshot; compact() fdatasyncs the data file before the new journal.
      giveBack?.(this.written);
      if (this.appended > 0 || giveBack) await this.compact();
      else await this.hooks.syncData();
    }
    await this.fh?.close();
    this.fh = undefined;
  }
}
