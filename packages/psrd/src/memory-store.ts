/**
 * MemoryStore: the PsrdStore for tests. Blocks live in memory; consumed bytes are zeroed in
 * place. Nothing survives the process.
 */
import { AuditLog } from "./audit.js";
import type { BlockMeta } from "./block.js";
import { PsrdClosedError, PsrdOwnerError } from "./errors.js";
import { PsrdPool, type BlockRange, type PoolBackend } from "./pool.js";
import { checkPoolName } from "./pool-name.js";
import type { Pool, PoolOwner, PsrdStore } from "./types.js";

export interface MemoryStoreOptions {
  /** Append one JSON line per consumed fragment to this file. */
  auditLog?: string;
}

class MemoryBackend implements PoolBackend {
  readonly data: Uint8Array[] = [];

  async persistBlock(block: BlockMeta, data: Uint8Array): Promise<void> {
    this.data[block.index] = Uint8Array.from(data);
  }

  async read(ranges: readonly BlockRange[], target: Uint8Array): Promise<void> {
    let off = 0;
    for (const r of ranges) {
      target.set(this.data[r.block.index].subarray(r.start, r.start + r.size), off);
      off += r.size;
    }
  }

  async consume(ranges: readonly BlockRange[]): Promise<void> {
    for (const r of ranges) this.data[r.block.index].fill(0, r.start, r.start + r.size);
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

  async openPool(name: string, owner: PoolOwner): Promise<Pool> {
    this.assertOpen();
    checkPoolName(name);
    if (owner !== "local" && owner !== "peer") throw new PsrdOwnerError(`owner must be "local" or "peer"`);
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
  }

  async deletePool(name: string): Promise<void> {
    this.assertOpen();
    const existing = this.pools.get(name);
    if (!existing) return;
    existing.pool.markClosed(`pool "${name}" (deleted)`);
    existing.backend.wipe();
    this.pools.delete(name);
  }

  async listPools(): Promise<string[]> {
    this.assertOpen();
    return [...this.pools.keys()].sort();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const { pool } of this.pools.values()) pool.markClosed("store");
    await this.audit?.close();
  }
}
