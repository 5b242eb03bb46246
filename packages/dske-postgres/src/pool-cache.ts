/**
 * The in-process view of a pool that backs the synchronous Pool methods (stats, blockUsage,
 * hasBlock). Updated from the rows each own operation returns, and by the store's refresh tick
 * for the operations of other replicas (PgPsrdStore: `refreshMs`).
 */
import type { BlockUsage, PoolOwner, PoolStats } from "@dske/psrd";

/** A pools row as returned by the statements (bigint columns arrive as strings). */
export interface PoolRow {
  blocks: number;
  size: string | number;
  used: string | number;
}

export interface CachedBlock {
  uuid: string;
  idx: number;
  size: number;
  keyPrefix: number;
  used: number;
}

export class PoolCache {
  private pool: { blocks: number; size: number; used: number } = { blocks: 0, size: 0, used: 0 };
  private readonly byIdx: (CachedBlock | undefined)[] = [];
  private readonly byUuid = new Map<string, CachedBlock>();

  constructor(
    private readonly name: string,
    private readonly owner: PoolOwner,
  ) {}

  /**
   * Rows of concurrent operations arrive in whatever order their calls resolve, not in commit
   * order. A pool's counters only grow (a deleted pool is another pool), so the newest state is
   * the maximum of what was seen.
   */
  setPool(row: PoolRow): void {
    const p = this.pool;
    this.pool = {
      blocks: Math.max(p.blocks, row.blocks),
      size: Math.max(p.size, Number(row.size)),
      used: Math.max(p.used, Number(row.used)),
    };
  }

  setBlock(b: CachedBlock): void {
    const old = this.byUuid.get(b.uuid);
    if (old && old.idx !== b.idx) this.byIdx[old.idx] = undefined;
    this.byIdx[b.idx] = b;
    this.byUuid.set(b.uuid, b);
  }

  setUsed(uuid: string, used: number): void {
    const b = this.byUuid.get(uuid);
    if (b) b.used = Math.max(b.used, used);
  }

  has(uuid: string): boolean {
    return this.byUuid.has(uuid);
  }

  /** Number of leading block indexes known without a gap (the refresh reads from there on). */
  contiguous(): number {
    let i = 0;
    while (i < this.byIdx.length && this.byIdx[i] !== undefined) i++;
    return i;
  }

  stats(): PoolStats {
    const { blocks, size, used } = this.pool;
    return { name: this.name, owner: this.owner, blocks, size, used, available: size - used };
  }

  blockUsage(): BlockUsage[] {
    const out: BlockUsage[] = [];
    for (const b of this.byIdx) if (b) out.push({ blockUuid: b.uuid, size: b.size, used: b.used, unused: b.size - b.used });
    return out;
  }
}
