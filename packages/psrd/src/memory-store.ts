/**
 * MemoryStore: the PsrdStore for tests. Blocks live in memory; consumed bytes are zeroed in
 * place. Nothing survives the process.
 */
import { AuditLog } from "./audit.js";
import type { BlockMeta } from "./block.js";
import { PsrdClosedError, PsrdOwnerError } from "./errors.js";
import { PsrdPool, type BlockRange, type PoolBackend } from "./pool.js";
import { checkPoolName, checkPoolOwner } from "./pool-name.js";
import type { Pool, PoolOwner, PsrdStore } from "./types.js";

export interface MemoryStoreOptions {
  /** Append one JSON line per consumed fragment to this file. */
  auditLog?: string;
}

/** Run `body` now, as the body of an async function: its result resolves, its throw rejects. */
function runNow<T>(body: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(body());
  });
}

class MemoryBackend implements PoolBackend {
  readonly data: Uint8Array[] = [];

  persistBlock(block: BlockMeta, data: Uint8Array): Promise<void> {
    return runNow(() => {
      this.data[block.index] = Uint8Array.from(data);
    });
  }

  read(ranges: readonly BlockRange[], target: Uint8Array): Promise<void> {
    return runNow(() => {
      let off = 0;
      for (const r of ranges) {
        target.set(this.data[r.block.index].subarray(r.start, r.start + r.size), off);
        off += r.size;
      }
    });
  }

  consume(ranges: readonly BlockRange[]): Promise<void> {
    return runNow(() => {
      for (const r of ranges) this.data[r.block.index].fill(0, r.start, r.start + r.size);
    });
  }

  wipe(): void {
    for (const d of this.data) d.fill(0);
    this.data.length = 0;
  }
}

export class MemoryStore implements PsrdStore {
  private readonly pools = new Map<string, { pool: PsrdPool; backend: MemoryBackend }>();
  private readonly audit: AuditLog | undefined;
  private closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.audit = options.auditLog !== undefined ? new AuditLog(options.auditLog) : undefined;
  }

  private assertOpen(): void {
    if (this.closed) throw new PsrdClosedError("store");
  }

  openPool(name: string, owner: PoolOwner): Promise<Pool> {
    return runNow(() => {
      this.assertOpen();
      checkPoolName(name);
      checkPoolOwner(owner);
      const existing = this.pools.get(name);
      if (existing) {
        if (existing.pool.owner !== owner) {
          throw new PsrdOwnerError(`pool "${name}" is owned by ${existing.pool.owner}, not ${owner}`);
        }
        return existing.pool;
      }
      const backend = new MemoryBackend();
      const pool = new PsrdPool({ name, owner, backend, audit: this.audit });
      this.pools.set(name, { pool, backend });
      return pool;
    });
  }

  deletePool(name: string): Promise<void> {
    return runNow(() => {
      this.assertOpen();
      const existing = this.pools.get(name);
      if (!existing) return;
      existing.pool.markClosed(`pool "${name}" (deleted)`);
      existing.backend.wipe();
      this.pools.delete(name);
    });
  }

  listPools(): Promise<string[]> {
    return runNow(() => {
      this.assertOpen();
      return [...this.pools.keys()].sort();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const { pool } of this.pools.values()) pool.markClosed("store");
    await this.audit?.close();
  }
}
