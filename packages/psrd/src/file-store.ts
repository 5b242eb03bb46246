/**
 * FileStore: the durable on-disk PsrdStore (default for services).
 *
 * Layout of a store directory:
 *   LOCK                         pid of the process that has the store open
 *   pools/<encoded name>/meta.json    {version, name, owner, blocks: [{uuid, size, keyPrefix, offset}]}
 *   pools/<encoded name>/data.bin     the blocks' bytes, concatenated at their offsets
 *   pools/<encoded name>/journal.bin  consumption records (see journal.ts)
 *
 * Opening a pool reads meta.json and the journal only, never data.bin; bytes are read with
 * positioned reads when allocated, reserved or asked for as a block key.
 */
import { countFsync } from "./io-stats.js";
import { readFileSync } from "node:fs";
import { mkdir, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AuditLog } from "./audit.js";
import { PsrdClosedError, PsrdCorruptError, PsrdLockedError, PsrdOwnerError } from "./errors.js";
import { IntervalSet } from "./interval-set.js";
import {
  FLAG_ZEROED,
  Journal,
  RECORD_SIZE,
  fsyncDir,
  removeIfExists,
  replayJournal,
  writeJournalAtomically,
  type JournalRecord,
} from "./journal.js";
import { itemAt } from "./coerce.js";
import { checkPoolName, checkPoolOwner, decodePoolName, encodePoolName } from "./pool-name.js";
import { PsrdPool } from "./pool.js";
import { FilePoolBackend, MetaSchema, exists, zeroFileRanges, type Meta } from "./file-pool.js";
import type { Pool, PoolOwner, PsrdStore } from "./types.js";

/** Default FileStoreOptions.leaseBytes: a few dozen signing pads or key-share pads per journal write. */
export const DEFAULT_LEASE_BYTES = 1024;

export interface FileStoreOptions {
  /** Append one JSON line per consumed fragment to this file. */
  auditLog?: string;
  /** Compact a pool's journal once it holds more than this many records (default 65536). */
  compactAfterRecords?: number;
  /**
   * Consumed bytes are overwritten with zeros in the data file once their consumption is durable;
   * the data file is then fdatasync'd at most this many ms later (default 1000), so consumed PSRD
   * is off the disk within that bound (journal.ts).
   */
  zeroSyncMs?: number;
  /**
   * Owned pools consume runs of this many bytes ahead with one durable journal write and hand
   * allocations out of them in memory (lease.ts): most allocations then need no fsync. A crash
   * burns what is left of a run; a clean close gives it back. Default DEFAULT_LEASE_BYTES; 0 = off.
   */
  leaseBytes?: number;
}

/** Per-pool diagnostics (tests, benchmark). */
export interface FilePoolDiagnostics {
  /** Journal batches written (each = one write + one fdatasync) since the pool was opened. */
  journalBatches: number;
  /** fdatasyncs of the data file that made zeroed (consumed) ranges durable (see zeroSyncMs). */
  zeroSyncs: number;
  /** Consumed/reserved intervals kept in memory. */
  intervals: number;
}

interface OpenPool {
  pool: PsrdPool;
  backend: FilePoolBackend;
}

export class FileStore implements PsrdStore {
  readonly dir: string;
  private readonly poolsDir: string;
  private readonly audit: AuditLog | undefined;
  private readonly compactAfter: number;
  private readonly zeroSyncMs: number | undefined;
  private readonly leaseBytes: number;
  private readonly pools = new Map<string, Promise<OpenPool>>();
  /** Deletions in progress, by pool name (openPool of that name waits for them). */
  private readonly deleting = new Map<string, Promise<void>>();
  private closed = false;

  private constructor(dir: string, options: FileStoreOptions) {
    this.dir = dir;
    this.poolsDir = join(dir, "pools");
    this.audit = options.auditLog !== undefined ? new AuditLog(options.auditLog) : undefined;
    this.compactAfter = options.compactAfterRecords ?? 65536;
    this.zeroSyncMs = options.zeroSyncMs;
    this.leaseBytes = options.leaseBytes ?? DEFAULT_LEASE_BYTES;
  }

  /** Open (creating if needed) a store directory. Takes the directory's lock. */
  static async open(dir: string, options: FileStoreOptions = {}): Promise<FileStore> {
    await mkdir(join(dir, "pools"), { recursive: true });
    await fsyncDir(dir);
    await acquireLock(join(dir, "LOCK"));
    return new FileStore(dir, options);
  }

  private assertOpen(): void {
    if (this.closed) throw new PsrdClosedError("store");
  }

  async openPool(name: string, owner: PoolOwner): Promise<Pool> {
    this.assertOpen();
    checkPoolName(name);
    checkPoolOwner(owner);
    let entry = this.pools.get(name);
    if (!entry) {
      // A deletion of this pool in progress finishes first (then the pool opens empty).
      const deleting = this.deleting.get(name);
      entry = deleting ? deleting.then(() => this.loadPool(name, owner)) : this.loadPool(name, owner);
      this.pools.set(name, entry);
      entry.catch(() => this.pools.delete(name));
    }
    const { pool } = await entry;
    if (pool.owner !== owner) throw new PsrdOwnerError(`pool "${name}" is owned by ${pool.owner}, not ${owner}`);
    return pool;
  }

  /** Journal and memory diagnostics of an open pool. */
  async diagnostics(name: string): Promise<FilePoolDiagnostics> {
    const entry = this.pools.get(name);
    if (!entry) throw new PsrdClosedError(`pool "${name}"`);
    const { pool, backend } = await entry;
    return { journalBatches: backend.journal.batches, zeroSyncs: backend.journal.zeroSyncs, intervals: pool.intervalCount() };
  }

  private async loadPool(name: string, owner: PoolOwner): Promise<OpenPool> {
    const dir = join(this.poolsDir, encodePoolName(name));
    const metaPath = join(dir, "meta.json");
    const dataPath = join(dir, "data.bin");
    const journalPath = join(dir, "journal.bin");
    // A pool never created in this store (a first start creates 125): no leftovers to remove,
    // nothing to read or replay.
    if (!(await exists(dir))) return this.createPool(name, owner, dir, dataPath, journalPath);
    await removeIfExists(metaPath + ".tmp");
    await removeIfExists(journalPath + ".tmp");

    let meta: Meta;
    let metaOnDisk = true;
    if (!(await exists(metaPath))) {
      // New pool (or a creation that crashed before meta.json existed: nothing was consumed). No
      // sync here: an empty pool has nothing to keep, so its files become durable with its first
      // block (FilePoolBackend.persistBlock writes meta.json and syncs this directory and the
      // pools directory). A data file left by a crash before that is wiped below (fileSize > end).
      await mkdir(dir, { recursive: true });
      await (await open(dataPath, "a")).close();
      await writeFile(journalPath, new Uint8Array(0));
      meta = { version: 1, name, owner, blocks: [] };
      metaOnDisk = false;
    } else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(await readFile(metaPath, "utf8")) as unknown;
      } catch {
        throw new PsrdCorruptError(`pool "${name}": meta.json is not valid JSON`);
      }
      const r = MetaSchema.safeParse(parsed);
      if (!r.success) throw new PsrdCorruptError(`pool "${name}": meta.json is invalid: ${r.error.message}`);
      meta = r.data;
      if (meta.owner !== owner) throw new PsrdOwnerError(`pool "${name}" is owned by ${meta.owner}, not ${owner}`);
    }

    const data = await open(dataPath, "r+");
    try {
      const last = meta.blocks.at(-1);
      const end = last ? last.offset + last.size : 0;
      const { size: fileSize } = await data.stat();
      if (fileSize < end) throw new PsrdCorruptError(`pool "${name}": data.bin is shorter than its blocks`);
      if (fileSize > end) {
        // A block whose metadata never became durable (crash inside addBlock): wipe it.
        await zeroFileRanges(data, [[end, fileSize]]);
        await data.truncate(end);
        countFsync(dir);
        await data.datasync();
      }

      const backend = new FilePoolBackend(dir, meta, data, metaOnDisk ? undefined : this.poolsDir);
      const pool = new PsrdPool({ name, owner, backend, audit: this.audit, leaseBytes: this.leaseBytes });
      const all: IntervalSet[] = [];
      const unzeroed: IntervalSet[] = [];
      for (let i = 0; i < meta.blocks.length; i++) {
        const b = meta.blocks[i];
        pool.loadBlock({ uuid: b.uuid, index: i, size: b.size, keyPrefix: b.keyPrefix });
        all.push(new IntervalSet());
        unzeroed.push(new IntervalSet());
      }
      const replay = await replayJournal(journalPath, (rec) => {
        const b = itemAt(meta.blocks, rec.block);
        if (!b || rec.size <= 0 || rec.start + rec.size > b.size) {
          throw new PsrdCorruptError(`pool "${name}": journal record names bytes outside the pool`);
        }
        all[rec.block].add(rec.start, rec.start + rec.size);
        if ((rec.flags & FLAG_ZEROED) === 0) unzeroed[rec.block].add(rec.start, rec.start + rec.size);
        pool.loadConsumed(rec.block, rec.start, rec.size);
      });
      pool.loadDone();

      // Owned pools use a high-water mark: bytes below it that have no record (a torn batch)
      // are burned too. Zero them, and every range whose zeroing was not yet known durable.
      const toZero: [number, number][] = [];
      for (let i = 0; i < meta.blocks.length; i++) {
        const b = meta.blocks[i];
        if (owner === "local" && all[i].count > 0) {
          let pos = b.keyPrefix;
          const holes: [number, number][] = [];
          for (const [s, e] of all[i].intervals()) {
            if (s > pos) holes.push([pos, s]);
            pos = Math.max(pos, e);
          }
          for (const [s, e] of holes) {
            all[i].add(s, e);
            unzeroed[i].add(s, e);
          }
        }
        for (const [s, e] of unzeroed[i].intervals()) toZero.push([b.offset + s, b.offset + e]);
      }
      let records = replay.records;
      let journalEnd = replay.end;
      if (toZero.length > 0) {
        await zeroFileRanges(data, toZero);
        countFsync(dir);
        await data.datasync();
      }
      if (replay.torn || toZero.length > 0 || records > this.compactAfter) {
        records = await writeJournalAtomically(journalPath, dir, snapshotRecords(all));
        journalEnd = records * RECORD_SIZE;
      }
      backend.journal = await this.openJournal(backend, dir, journalPath, all, records, journalEnd);
      return { pool, backend };
    } catch (e) {
      await data.close().catch(() => undefined);
      throw e;
    }
  }

  /**
   * A new, empty pool in a directory that did not exist: the same files as loadPool's path for a
   * pool without meta.json (an empty data file, an empty journal), in about a third of the file
   * operations. Nothing is synced: an empty pool has nothing to keep, so its files become durable
   * with its first block (FilePoolBackend.persistBlock). A crash in between leaves a directory
   * without meta.json, which loadPool's other path opens as a new pool.
   */
  private async createPool(name: string, owner: PoolOwner, dir: string, dataPath: string, journalPath: string): Promise<OpenPool> {
    await mkdir(dir, { recursive: true });
    const data = await open(dataPath, "w+");
    try {
      const meta: Meta = { version: 1, name, owner, blocks: [] };
      const backend = new FilePoolBackend(dir, meta, data, this.poolsDir);
      const pool = new PsrdPool({ name, owner, backend, audit: this.audit, leaseBytes: this.leaseBytes });
      pool.loadDone();
      backend.journal = await this.openJournal(backend, dir, journalPath, [], 0, 0);
      return { pool, backend };
    } catch (e) {
      await data.close().catch(() => undefined);
      throw e;
    }
  }

  /** The journal of a pool being opened (in `dir`): `records` whole records up to byte `end`, `written` per block. */
  private openJournal(
    backend: FilePoolBackend,
    dir: string,
    path: string,
    written: IntervalSet[],
    records: number,
    end: number,
  ): Promise<Journal> {
    return Journal.open({
      path,
      dir,
      hooks: backend,
      written,
      records,
      end,
      compactAfter: this.compactAfter,
      zeroSyncMs: this.zeroSyncMs,
    });
  }

  async deletePool(name: string): Promise<void> {
    this.assertOpen();
    checkPoolName(name);
    // Taken now: an openPool from here on waits for this deletion and opens the pool anew.
    const entry = this.pools.get(name);
    this.pools.delete(name);
    const previous = this.deleting.get(name) ?? Promise.resolve();
    const run = previous.then(() => this.deletePoolNow(name, entry));
    const settled = run.catch(() => undefined);
    this.deleting.set(name, settled);
    void settled.then(() => {
      if (this.deleting.get(name) === settled) this.deleting.delete(name);
    });
    return run;
  }

  private async deletePoolNow(name: string, entry: Promise<OpenPool> | undefined): Promise<void> {
    if (entry) {
      const opened = await entry.catch(() => undefined);
      if (opened) {
        opened.pool.markClosed(`pool "${name}" (deleted)`);
        for (const rest of await opened.pool.drainLease()) rest.data.fill(0); // the pool goes: nothing to give back
        await opened.backend.close();
      }
    }
    const dir = join(this.poolsDir, encodePoolName(name));
    if (!(await exists(dir))) return;
    const dataPath = join(dir, "data.bin");
    if (await exists(dataPath)) {
      const fh = await open(dataPath, "r+");
      try {
        const { size } = await fh.stat();
        await zeroFileRanges(fh, [[0, size]]);
        countFsync(dataPath);
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }
    await rm(dir, { recursive: true, force: true });
    await fsyncDir(this.poolsDir);
  }

  /** Pools on disk (with meta.json) and pools open in this store (a new pool reaches the disk with its first block). */
  async listPools(): Promise<string[]> {
    this.assertOpen();
    const names = new Set(this.pools.keys());
    for (const entry of await readdir(this.poolsDir)) {
      const name = decodePoolName(entry);
      if (name !== undefined && (await exists(join(this.poolsDir, entry, "meta.json")))) names.add(name);
    }
    return [...names].sort();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const entries = [...this.pools.values()];
    this.pools.clear();
    for (const entry of entries) {
      const opened = await entry.catch(() => undefined);
      if (opened) {
        opened.pool.markClosed("store");
        // The lease's bytes not handed out go back to the pool (file-pool.ts): nothing is lost on a clean close.
        await opened.backend.close(await opened.pool.drainLease());
      }
    }
    await this.audit?.close();
    await rm(join(this.dir, "LOCK"), { force: true });
  }
}

function* snapshotRecords(sets: readonly IntervalSet[]): IterableIterator<JournalRecord> {
  for (let b = 0; b < sets.length; b++) {
    for (const [s, e] of sets[b].intervals()) yield { block: b, start: s, size: e - s, flags: FLAG_ZEROED };
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  return !isZombie(pid);
}

/**
 * A killed process its parent has not reaped yet (state Z in /proc/PID/stat; Linux) is dead: it
 * holds no lock. Its pid answers signals until reaped, which a container's init may take seconds
 * to do, so a node killed with -9 could otherwise not restart for that long.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "PID (COMM) STATE ...": COMM may hold spaces and parentheses, the state follows the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return false;
  }
}

/** Take the store lock: a LOCK file holding our pid; a lock of a dead process is taken over. */
async function acquireLock(path: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, "wx");
      try {
        await fh.writeFile(String(process.pid));
        countFsync(path);
        await fh.sync();
      } finally {
        await fh.close();
      }
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const pid = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
    if (Number.isSafeInteger(pid) && pid > 0 && processAlive(pid)) {
      throw new PsrdLockedError(`store ${path} is in use by process ${pid}${pid === process.pid ? " (this process)" : ""}`);
    }
    await rm(path, { force: true });
  }
  throw new PsrdLockedError(`could not take the store lock ${path}`);
}
