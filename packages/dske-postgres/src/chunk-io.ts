/**
 * Reading and erasing ranges of stored blocks. Blocks are stored CHUNK_SIZE bytes a row
 * (`chunks`), each row encrypted under the key of the epoch it names (cipher.ts). Reading
 * decrypts the rows that cover the ranges; erasing overwrites the ranges' ciphertext bytes with
 * zeros in the live rows (the caller holds the row locks: SELECT ... FOR UPDATE).
 */
import { PsrdCorruptError } from "@dske/psrd";
import { decryptChunk } from "./cipher.js";
import type { Sql } from "./db.js";
import type { KeyChain } from "./key-chain.js";
import { CHUNK_SIZE } from "./schema.js";

/** A range of one block. */
export interface Range {
  readonly uuid: string;
  readonly start: number;
  readonly size: number;
}

interface ChunkRow {
  uuid: string;
  n: number;
  epoch: string;
  iv: Buffer;
  data: Buffer;
}

const key = (uuid: string, n: number): string => `${uuid}/${n}`;

/** The chunk numbers each range touches, deduplicated, in a stable order. */
function chunksOf(ranges: readonly Range[]): { uuids: string[]; ns: number[] } {
  const seen = new Set<string>();
  const uuids: string[] = [];
  const ns: number[] = [];
  for (const r of ranges) {
    for (let n = Math.floor(r.start / CHUNK_SIZE); n * CHUNK_SIZE < r.start + r.size; n++) {
      const k = key(r.uuid, n);
      if (seen.has(k)) continue;
      seen.add(k);
      uuids.push(r.uuid);
      ns.push(n);
    }
  }
  return { uuids, ns };
}

export class ChunkIo {
  constructor(
    private readonly s: string,
    private readonly keys: KeyChain,
  ) {}

  private async load(sql: Sql, poolId: string, ranges: readonly Range[], lock: boolean): Promise<Map<string, ChunkRow>> {
    const { uuids, ns } = chunksOf(ranges);
    const rows = await sql.query<ChunkRow>(
      lock ? "chunks_lock" : "chunks_read",
      `SELECT c.uuid, c.n, c.epoch, c.iv, c.data FROM ${this.s}.chunks c
         JOIN unnest($2::text[], $3::int[]) AS w(uuid, n) ON c.uuid = w.uuid AND c.n = w.n
        WHERE c.pool_id = $1 ORDER BY c.uuid, c.n${lock ? " FOR UPDATE OF c" : ""}`,
      [poolId, uuids, ns],
    );
    const out = new Map<string, ChunkRow>();
    for (const r of rows) out.set(key(r.uuid, r.n), r);
    if (out.size !== uuids.length) throw new PsrdCorruptError(`block data missing (${uuids.length - out.size} chunk rows)`);
    return out;
  }

  private plain(rows: Map<string, ChunkRow>, cache: Map<string, Buffer>, uuid: string, n: number): Buffer {
    const k = key(uuid, n);
    const hit = cache.get(k);
    if (hit) return hit;
    const row = rows.get(k);
    if (!row) throw new PsrdCorruptError(`block ${uuid}: chunk ${n} missing`);
    const dk = this.keys.dataKey(Number(row.epoch));
    if (dk === undefined) {
      throw new PsrdCorruptError(
        `block ${uuid}: chunk ${n} is encrypted under the erased key of epoch ${row.epoch} (re-encryption fell behind)`,
      );
    }
    const p = decryptChunk(dk, row.iv, row.data);
    cache.set(k, p);
    return p;
  }

  /** The bytes of the ranges, concatenated. `erase`: also zero them in the live rows (locked). */
  async read(sql: Sql, poolId: string, ranges: readonly Range[], erase: boolean): Promise<Uint8Array> {
    const rows = await this.load(sql, poolId, ranges, erase);
    const cache = new Map<string, Buffer>();
    const total = ranges.reduce((a, r) => a + r.size, 0);
    const out = new Uint8Array(total);
    let at = 0;
    try {
      for (const r of ranges) {
        for (let pos = r.start; pos < r.start + r.size;) {
          const n = Math.floor(pos / CHUNK_SIZE);
          const off = pos - n * CHUNK_SIZE;
          const len = Math.min(CHUNK_SIZE - off, r.start + r.size - pos);
          out.set(this.plain(rows, cache, r.uuid, n).subarray(off, off + len), at);
          if (erase) {
            const row = rows.get(key(r.uuid, n));
            if (row) row.data.fill(0, off, off + len);
          }
          at += len;
          pos += len;
        }
      }
    } finally {
      for (const p of cache.values()) p.fill(0);
    }
    if (erase) await this.writeBack(sql, poolId, rows);
    return out;
  }

  private async writeBack(sql: Sql, poolId: string, rows: Map<string, ChunkRow>): Promise<void> {
    const list = [...rows.values()];
    await sql.query(
      "chunks_write",
      `UPDATE ${this.s}.chunks c SET data = w.data
         FROM unnest($2::text[], $3::int[], $4::bytea[]) AS w(uuid, n, data)
        WHERE c.pool_id = $1 AND c.uuid = w.uuid AND c.n = w.n`,
      [poolId, list.map((r) => r.uuid), list.map((r) => r.n), list.map((r) => r.data)],
    );
  }
}
