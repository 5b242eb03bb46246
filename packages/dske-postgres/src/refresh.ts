/**
 * Refresh of a pool's cache from the database: the pools row (stats), the blocks added since the
 * last refresh (hasBlock), and the per-block `used` of every block (blockUsage). A pool deleted by
 * another replica is marked closed.
 */
import { first, type Db } from "./db.js";
import type { PgPool } from "./pg-pool.js";
import type { PoolRow } from "./pool-cache.js";

export async function refreshPool(db: Db, schema: string, pool: PgPool): Promise<void> {
  const row = first(
    await db.run<PoolRow & { id: string }>("refresh_pool", `SELECT blocks, size, used FROM ${schema}.pools WHERE id = $1`, [pool.id]),
  );
  if (row === undefined) {
    pool.markClosed(`pool "${pool.name}" (deleted)`);
    return;
  }
  pool.cache.setPool(row);
  const from = pool.cache.contiguous();
  const blocks = await db.run<{ uuid: string; idx: number; size: number; key_prefix: number; used: number }>(
    "refresh_blocks",
    `SELECT uuid, idx, size, key_prefix, used FROM ${schema}.blocks WHERE pool_id = $1 AND idx >= $2 ORDER BY idx`,
    [pool.id, from],
  );
  for (const b of blocks) pool.cache.setBlock({ uuid: b.uuid, idx: b.idx, size: b.size, keyPrefix: b.key_prefix, used: b.used });
  if (from > 0) {
    const used = await db.run<{ uuid: string; used: number }>(
      "refresh_used",
      `SELECT uuid, used FROM ${schema}.blocks WHERE pool_id = $1 AND idx < $2 AND used > key_prefix`,
      [pool.id, from],
    );
    for (const b of used) pool.cache.setUsed(b.uuid, b.used);
  }
}
