/**
 * One pool of a PgPsrdStore. Every operation is one PostgreSQL transaction that takes row locks,
 * so that replicas (processes) sharing the database never hand out a byte twice:
 *  - allocate (owned pools): the pool row is locked (SELECT ... FOR UPDATE), the bump allocator
 *    advances the blocks' high-water marks, the bytes are read and erased, audit rows written;
 *  - reserve / take / commit (peer pools): the named blocks' rows are locked (FOR UPDATE, in UUID
 *    order), consumed ranges and live reservations are checked; a reservation is a row with an
 *    expiry (reservations.ts), commit turns it into consumed ranges.
 * COMMIT returns after the WAL is flushed (synchronous_commit on): durable before it resolves.
 *
 * stats(), blockUsage() and hasBlock() are synchronous: they read a cache refreshed by each of
 * this pool's own operations and by the store's refresh tick (see PgPsrdStore).
 */
import { randomUUID } from "node:crypto";
import {
  PsrdAllocationError,
  PsrdBlockError,
  PsrdClosedError,
  PsrdCorruptError,
  PsrdExhaustedError,
  PsrdOwnerError,
  checkAllocation,
  isBlockUuid,
  normalizeBlockUuid,
  type AddBlockOptions,
  type Allocation,
  type BlockUsage,
  type Fragment,
  type Pool,
  type PoolOwner,
  type PoolStats,
  type Reservation,
} from "@dske/psrd";
import type { PoolContext } from "./pool-context.js";
import { PoolCache, type PoolRow } from "./pool-cache.js";
import { PgReservation } from "./reservation.js";
import type { Range } from "./chunk-io.js";
import { first, type Sql } from "./db.js";
import { decryptChunk, encryptChunk } from "./cipher.js";
import { CHUNK_SIZE } from "./schema.js";
import { sqlState } from "./errors.js";

/** A row of psrd_allocate (allocate-function.ts): one chunk piece, with its old ciphertext. */
interface AllocRow {
  o_uuid: string;
  o_start: number;
  o_size: number;
  o_off: number;
  o_len: number;
  o_epoch: string;
  o_iv: Buffer;
  o_data: Buffer;
  o_blocks: number;
  o_psize: string;
  o_pused: string;
}

interface LockedBlock {
  uuid: string;
  size: number;
  key_prefix: number;
}

export class PgPool implements Pool {
  readonly name: string;
  readonly owner: PoolOwner;
  /** The pools row id: a deleted and recreated pool is another pool. */
  readonly id: string;
  readonly cache: PoolCache;
  private readonly ctx: PoolContext;
  private closedReason: string | undefined;
  private readonly releases = new Set<Promise<void>>();

  constructor(ctx: PoolContext, name: string, owner: PoolOwner, id: string) {
    this.ctx = ctx;
    this.name = name;
    this.owner = owner;
    this.id = id;
    this.cache = new PoolCache(name, owner);
  }

  markClosed(reason: string): void {
    this.closedReason ??= reason;
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  assertOpen(): void {
    if (this.closedReason !== undefined) throw new PsrdClosedError(this.closedReason);
  }

  private poolRow<T extends PoolRow>(row: T | undefined): T {
    if (row === undefined) {
      this.markClosed(`pool "${this.name}" (deleted)`);
      throw new PsrdClosedError(`pool "${this.name}" (deleted)`);
    }
    return row;
  }

  // ---- blocks ----------------------------------------------------------------------------

  async addBlock(blockUuid: string, data: Uint8Array, options?: AddBlockOptions): Promise<void> {
    this.assertOpen();
    if (!(data instanceof Uint8Array)) throw new PsrdBlockError("invalid_block", "block data must be a Uint8Array");
    const keyPrefix = options?.keyPrefix ?? 0;
    if (typeof blockUuid !== "string" || !isBlockUuid(blockUuid))
      throw new PsrdBlockError("invalid_block", "block UUID is not a canonical UUID");
    const uuid = normalizeBlockUuid(blockUuid);
    if (data.length === 0) throw new PsrdBlockError("invalid_block", `block ${uuid} has no data`);
    if (!Number.isSafeInteger(keyPrefix) || keyPrefix < 0 || keyPrefix > data.length) {
      throw new PsrdBlockError("invalid_block", `key prefix ${keyPrefix} of block ${uuid} is not an integer in [0, ${data.length}]`);
    }
    const s = this.ctx.schema;
    const epoch = this.ctx.writeEpoch();
    const dk = this.ctx.keys.dataKey(epoch);
    if (dk === undefined) throw new Error(`no key for epoch ${epoch}`);
    const copy = Buffer.from(data);
    try {
      const row = await this.ctx.db.tx(async (sql) => {
        const p = first(
          await sql.query<PoolRow & { idx: number }>(
            "add_pool",
            `UPDATE ${s}.pools SET blocks = blocks + 1, size = size + $2, used = used + $3, next_index = next_index + 1
            WHERE id = $1 RETURNING next_index - 1 AS idx, blocks, size, used`,
            [this.id, copy.length, keyPrefix],
          ),
        );
        const pr = this.poolRow(p);
        try {
          await sql.query(
            "add_block",
            `INSERT INTO ${s}.blocks (pool_id, uuid, idx, size, key_prefix, hwm, used) VALUES ($1, $2, $3, $4, $5, $5, $5)`,
            [this.id, uuid, pr.idx, copy.length, keyPrefix],
          );
        } catch (e) {
          if (sqlState(e) === "23505") throw new PsrdBlockError("duplicate_block", `pool "${this.name}" already has block ${uuid}`);
          throw e;
        }
        const BATCH = 512;
        const chunks = Math.ceil(copy.length / CHUNK_SIZE);
        for (let first = 0; first < chunks; first += BATCH) {
          const ns: number[] = [];
          const ivs: Buffer[] = [];
          const cts: Buffer[] = [];
          for (let n = first; n < Math.min(chunks, first + BATCH); n++) {
            const plain = copy.subarray(n * CHUNK_SIZE, Math.min(copy.length, (n + 1) * CHUNK_SIZE));
            const { iv, data: ct } = encryptChunk(dk, plain);
            ns.push(n);
            ivs.push(iv);
            cts.push(ct);
          }
          await sql.query(
            "add_chunks",
            `INSERT INTO ${s}.chunks (pool_id, uuid, n, epoch, iv, data)
             SELECT $1, $2, w.n, $3, w.iv, w.data FROM unnest($4::int[], $5::bytea[], $6::bytea[]) AS w(n, iv, data)`,
            [this.id, uuid, epoch, ns, ivs, cts],
          );
        }
        return pr;
      });
      this.cache.setPool(row);
      this.cache.setBlock({ uuid, idx: row.idx, size: copy.length, keyPrefix, used: keyPrefix });
    } finally {
      copy.fill(0);
    }
  }

  async blockKey(blockUuid: string): Promise<Uint8Array> {
    this.assertOpen();
    const uuid = typeof blockUuid === "string" && isBlockUuid(blockUuid) ? normalizeBlockUuid(blockUuid) : undefined;
    const rows =
      uuid === undefined
        ? []
        : await this.ctx.db.run<{ key_prefix: number }>(
            "block_key",
            `SELECT key_prefix FROM ${this.ctx.schema}.blocks WHERE pool_id = $1 AND uuid = $2`,
            [this.id, uuid],
          );
    const b = rows[0] as { key_prefix: number } | undefined;
    if (uuid === undefined || b === undefined)
      throw new PsrdBlockError("unknown_block", `pool "${this.name}" has no block ${blockUuid.slice(0, 40)}`);
    if (b.key_prefix === 0) throw new PsrdBlockError("no_key_prefix", `block ${uuid} has no key prefix`);
    return this.ctx.db.tx((sql) => this.ctx.chunks.read(sql, this.id, [{ uuid, start: 0, size: b.key_prefix }], false));
  }

  stats(): PoolStats {
    return this.cache.stats();
  }

  blockUsage(): BlockUsage[] {
    return this.cache.blockUsage();
  }

  hasBlock(blockUuid: string): boolean {
    this.assertOpen();
    return typeof blockUuid === "string" && isBlockUuid(blockUuid) && this.cache.has(normalizeBlockUuid(blockUuid));
  }

  // ---- owned pools -------------------------------------------------------------------------

  async allocate(size: number, purpose: string): Promise<{ allocation: Allocation; data: Uint8Array }> {
    this.assertOpen();
    if (this.owner !== "local") throw new PsrdOwnerError(`allocate on pool "${this.name}" owned by the peer`);
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size <= 0) {
      throw new PsrdAllocationError("invalid_size", `size must be a positive integer, got ${String(size)}`);
    }
    let rows: AllocRow[];
    try {
      rows = await this.ctx.db.run<AllocRow>("allocate", `SELECT * FROM ${this.ctx.schema}.psrd_allocate($1, $2, $3, $4)`, [
        this.id,
        size,
        purpose,
        this.ctx.replica,
      ]);
    } catch (e) {
      const state = sqlState(e);
      if (state === "PX002") this.poolRow(undefined);
      if (state === "PX001") {
        const available = Number(/exhausted:(\d+)/.exec((e as { message: string }).message)?.[1] ?? 0);
        throw new PsrdExhaustedError(this.name, size, available);
      }
      throw e;
    }
    const fragments: Fragment[] = [];
    const data = new Uint8Array(size);
    let at = 0;
    for (const r of rows) {
      const last = fragments.at(-1);
      if (last?.blockUuid !== r.o_uuid || last.start !== r.o_start)
        fragments.push({ blockUuid: r.o_uuid, start: r.o_start, size: r.o_size });
      const dk = this.ctx.keys.dataKey(Number(r.o_epoch));
      if (dk === undefined) throw new PsrdCorruptError(`block ${r.o_uuid} is encrypted under the erased key of epoch ${r.o_epoch}`);
      const plain = decryptChunk(dk, r.o_iv, r.o_data);
      data.set(plain.subarray(r.o_off, r.o_off + r.o_len), at);
      plain.fill(0);
      at += r.o_len;
    }
    if (at !== size) throw new PsrdCorruptError(`pool "${this.name}": allocation returned ${at} of ${size} bytes`);
    const lastRow = rows[rows.length - 1];
    this.cache.setPool({ blocks: lastRow.o_blocks, size: lastRow.o_psize, used: lastRow.o_pused });
    for (const f of fragments) this.cache.setUsed(f.blockUuid, f.start + f.size);
    await this.ctx.fileAudit?.append(this.name, this.owner, "allocate", fragments, purpose);
    return { allocation: { fragments }, data };
  }

  // ---- peer pools --------------------------------------------------------------------------

  async reserve(allocation: Allocation, purpose: string): Promise<Reservation> {
    const alloc = await this.beforePeerOp(allocation);
    const token = randomUUID();
    const data = await this.ctx.db.tx(async (sql) => {
      await this.lockAndCheck(sql, alloc.fragments);
      const f = alloc.fragments;
      await sql.query(
        "reserve_insert",
        `INSERT INTO ${this.ctx.schema}.reservations (token, pool_id, uuid, start, size, replica, expires_at)
         SELECT $1, $2, w.uuid, w.start, w.size, $3, clock_timestamp() + make_interval(secs => $4)
           FROM unnest($5::text[], $6::int[], $7::int[]) AS w(uuid, start, size)`,
        [token, this.id, this.ctx.replica, this.ctx.reservationTtlMs / 1000, ...fragmentArrays(f)],
      );
      return this.ctx.chunks.read(sql, this.id, toRanges(f), false);
    });
    return new PgReservation(this, alloc, data, token, purpose);
  }

  async take(allocation: Allocation, purpose: string): Promise<Uint8Array> {
    const alloc = await this.beforePeerOp(allocation);
    const { data, after } = await this.ctx.db.tx(async (sql) => {
      await this.lockAndCheck(sql, alloc.fragments);
      const d = await this.ctx.chunks.read(sql, this.id, toRanges(alloc.fragments), true);
      return { data: d, after: await this.consume(sql, alloc.fragments, purpose) };
    });
    this.consumed(after);
    await this.ctx.fileAudit?.append(this.name, this.owner, "take", alloc.fragments, purpose);
    return data;
  }

  /** Commit of a reservation (reservation.ts): its rows become consumed ranges, if still there. */
  async commitReservation(token: string, fragments: readonly Fragment[], purpose: string): Promise<boolean> {
    this.assertOpen();
    const s = this.ctx.schema;
    const result = await this.ctx.db.tx(async (sql) => {
      await this.lockBlocks(sql, fragments);
      const gone = await sql.query("commit_claim", `DELETE FROM ${s}.reservations WHERE token = $1 RETURNING uuid`, [token]);
      if (gone.length !== fragments.length) return undefined; // expired and taken over: nothing consumed
      await this.ctx.chunks.erase(sql, this.id, toRanges(fragments));
      return this.consume(sql, fragments, purpose);
    });
    if (result === undefined) return false;
    this.consumed(result);
    await this.ctx.fileAudit?.append(this.name, this.owner, "take", fragments, purpose);
    return true;
  }

  /** Release of a reservation: delete its rows (in the background; expiry covers a failure). */
  releaseReservation(token: string): void {
    const p = this.ctx.db
      .run("release", `DELETE FROM ${this.ctx.schema}.reservations WHERE token = $1`, [token])
      .then(() => undefined)
      .catch(() => undefined)
      .finally(() => this.releases.delete(p));
    this.releases.add(p);
  }

  private async beforePeerOp(allocation: Allocation): Promise<Allocation> {
    this.assertOpen();
    if (this.owner !== "peer") throw new PsrdOwnerError(`reserve/take on pool "${this.name}" owned by this node`);
    const alloc = checkAllocation(allocation);
    // Releases of this process come first (a caller that released and retries sees them gone).
    if (this.releases.size > 0) await Promise.all([...this.releases]);
    return alloc;
  }

  private async lockBlocks(sql: Sql, fragments: readonly Fragment[]): Promise<LockedBlock[]> {
    const s = this.ctx.schema;
    const p = first(await sql.query("peer_pool", `SELECT id FROM ${s}.pools WHERE id = $1 FOR KEY SHARE`, [this.id]));
    if (p === undefined) this.poolRow(undefined);
    const uuids = [...new Set(fragments.map((f) => f.blockUuid))].sort();
    return sql.query<LockedBlock>(
      "peer_lock",
      `SELECT uuid, size, key_prefix FROM ${s}.blocks WHERE pool_id = $1 AND uuid = ANY($2::text[]) ORDER BY uuid FOR UPDATE`,
      [this.id, uuids],
    );
  }

  /** Lock the blocks and check every fragment: exists, in range, not key prefix, not consumed, not reserved. */
  private async lockAndCheck(sql: Sql, fragments: readonly Fragment[]): Promise<void> {
    const s = this.ctx.schema;
    const blocks = new Map((await this.lockBlocks(sql, fragments)).map((b) => [b.uuid, b]));
    for (const f of fragments) {
      const b = blocks.get(f.blockUuid);
      if (b === undefined) throw new PsrdAllocationError("unknown_block", `pool "${this.name}" has no block ${f.blockUuid}`);
      if (f.start + f.size > b.size)
        throw new PsrdAllocationError("out_of_range", `fragment reaches past the end of block ${f.blockUuid} (${b.size} bytes)`);
      if (f.start < b.key_prefix) throw new PsrdAllocationError("key_prefix", `fragment names key prefix bytes of block ${f.blockUuid}`);
    }
    const arrays = fragmentArrays(fragments);
    const overlap = (table: string) =>
      `SELECT t.uuid, t.start FROM ${s}.${table} t JOIN unnest($2::text[], $3::int[], $4::int[]) AS w(uuid, start, size)
          ON t.uuid = w.uuid AND t.start < w.start + w.size AND t.start + t.size > w.start
       WHERE t.pool_id = $1 LIMIT 1`;
    if ((await sql.query("peer_consumed", overlap("consumed"), [this.id, ...arrays])).length > 0) {
      throw new PsrdAllocationError("consumed", "the allocation names bytes that were already consumed");
    }
    // Reservations past their expiry (a crashed replica's) are removed under the same block locks.
    await sql.query(
      "peer_expire",
      `DELETE FROM ${s}.reservations WHERE pool_id = $1 AND uuid = ANY($2::text[]) AND expires_at < clock_timestamp()`,
      [this.id, arrays[0]],
    );
    if ((await sql.query("peer_reserved", overlap("reservations"), [this.id, ...arrays])).length > 0) {
      throw new PsrdAllocationError("reserved", "the allocation names bytes held by another pending reservation");
    }
  }

  /** Record a peer-pool consumption (caller holds the block locks and erased the bytes). */
  private async consume(
    sql: Sql,
    fragments: readonly Fragment[],
    purpose: string,
  ): Promise<{ pool: PoolRow; blocks: { uuid: string; used: number }[] }> {
    const s = this.ctx.schema;
    const arrays = fragmentArrays(fragments);
    await sql.query(
      "consume_insert",
      `INSERT INTO ${s}.consumed (pool_id, uuid, start, size) SELECT $1, * FROM unnest($2::text[], $3::int[], $4::int[])`,
      [this.id, ...arrays],
    );
    const blocks = await sql.query<{ uuid: string; used: number }>(
      "consume_used",
      `UPDATE ${s}.blocks b SET used = b.used + w.n
         FROM (SELECT uuid, sum(size)::int AS n FROM unnest($2::text[], $3::int[]) AS t(uuid, size) GROUP BY uuid) AS w
        WHERE b.pool_id = $1 AND b.uuid = w.uuid RETURNING b.uuid, b.used`,
      [this.id, arrays[0], arrays[2]],
    );
    await this.audit(sql, "take", fragments, purpose);
    const total = fragments.reduce((a, f) => a + f.size, 0);
    const after = first(
      await sql.query<PoolRow>("consume_pool", `UPDATE ${s}.pools SET used = used + $2 WHERE id = $1 RETURNING blocks, size, used`, [
        this.id,
        total,
      ]),
    );
    return { pool: this.poolRow(after), blocks };
  }

  private consumed(r: { pool: PoolRow; blocks: { uuid: string; used: number }[] }): void {
    this.cache.setPool(r.pool);
    for (const b of r.blocks) this.cache.setUsed(b.uuid, b.used);
  }

  private async audit(sql: Sql, op: "allocate" | "take", fragments: readonly Fragment[], purpose: string): Promise<void> {
    await sql.query(
      "audit_insert",
      `INSERT INTO ${this.ctx.schema}.audit (pool, owner, op, block_uuid, start, size, purpose, replica)
       SELECT $1, $2, $3, w.uuid, w.start, w.size, $4, $5 FROM unnest($6::text[], $7::int[], $8::int[]) WITH ORDINALITY AS w(uuid, start, size, i) ORDER BY w.i`,
      [this.name, this.owner, op, purpose, this.ctx.replica, ...fragmentArrays(fragments)],
    );
  }
}

function toRanges(fragments: readonly Fragment[]): Range[] {
  return fragments.map((f) => ({ uuid: f.blockUuid, start: f.start, size: f.size }));
}

function fragmentArrays(fragments: readonly Fragment[]): [string[], number[], number[]] {
  return [fragments.map((f) => f.blockUuid), fragments.map((f) => f.start), fragments.map((f) => f.size)];
}
