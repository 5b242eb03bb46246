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
import { first } from "./db.js";
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

/** A row of psrd_peer (peer-function.ts): one chunk piece of a fragment, with its (old) ciphertext. */
interface PeerRow {
  o_uuid: string;
  o_off: number;
  o_len: number;
  o_epoch: string;
  o_iv: Buffer;
  o_data: Buffer;
  o_bused: number | null;
  o_blocks: number;
  o_psize: string;
  o_pused: string;
}

type PeerErrorCode = "unknown_block" | "out_of_range" | "key_prefix" | "consumed" | "reserved";
const PEER_ERRORS: Partial<Record<string, PeerErrorCode>> = {
  PX010: "unknown_block",
  PX011: "out_of_range",
  PX012: "key_prefix",
  PX013: "consumed",
  PX014: "reserved",
};

function peerMessage(code: PeerErrorCode, pool: string): string {
  switch (code) {
    case "unknown_block":
      return `pool "${pool}" has no block named by the allocation`;
    case "out_of_range":
      return "a fragment reaches past the end of its block";
    case "key_prefix":
      return "a fragment names key prefix bytes of its block";
    case "consumed":
      return "the allocation names bytes that were already consumed";
    case "reserved":
      return "the allocation names bytes held by another pending reservation";
  }
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
    const { data } = await this.peerCall("reserve", alloc.fragments, purpose, token);
    return new PgReservation(this, alloc, data, token, purpose);
  }

  async take(allocation: Allocation, purpose: string): Promise<Uint8Array> {
    const alloc = await this.beforePeerOp(allocation);
    const { data } = await this.peerCall("take", alloc.fragments, purpose, null);
    await this.ctx.fileAudit?.append(this.name, this.owner, "take", alloc.fragments, purpose);
    return data;
  }

  /** Commit of a reservation (reservation.ts): its rows become consumed ranges, if still there. */
  async commitReservation(token: string, fragments: readonly Fragment[], purpose: string): Promise<boolean> {
    this.assertOpen();
    try {
      const { data } = await this.peerCall("commit", fragments, purpose, token);
      data.fill(0);
    } catch (e) {
      if (sqlState(e) === "PX015") return false; // expired and taken over: nothing consumed
      throw e;
    }
    await this.ctx.fileAudit?.append(this.name, this.owner, "take", fragments, purpose);
    return true;
  }

  /** One call of psrd_peer (peer-function.ts): the bytes (decrypted) and the cache updated. */
  private async peerCall(
    mode: "reserve" | "take" | "commit",
    fragments: readonly Fragment[],
    purpose: string,
    token: string | null,
  ): Promise<{ data: Uint8Array }> {
    let rows: PeerRow[];
    try {
      rows = await this.ctx.db.run<PeerRow>("peer", `SELECT * FROM ${this.ctx.schema}.psrd_peer($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [
        this.id,
        ...fragmentArrays(fragments),
        purpose,
        this.ctx.replica,
        mode,
        token,
        this.ctx.reservationTtlMs,
      ]);
    } catch (e) {
      const state = sqlState(e);
      if (state === "PX002") this.poolRow(undefined);
      const code = state === undefined ? undefined : PEER_ERRORS[state];
      if (code !== undefined) throw new PsrdAllocationError(code, peerMessage(code, this.name));
      throw e;
    }
    const total = fragments.reduce((a, f) => a + f.size, 0);
    const data = new Uint8Array(total);
    let at = 0;
    for (const r of rows) {
      const dk = this.ctx.keys.dataKey(Number(r.o_epoch));
      if (dk === undefined) throw new PsrdCorruptError(`block ${r.o_uuid} is encrypted under the erased key of epoch ${r.o_epoch}`);
      const plain = decryptChunk(dk, r.o_iv, r.o_data);
      data.set(plain.subarray(r.o_off, r.o_off + r.o_len), at);
      plain.fill(0);
      at += r.o_len;
      if (r.o_bused !== null) this.cache.setUsed(r.o_uuid, r.o_bused);
    }
    if (at !== total) throw new PsrdCorruptError(`pool "${this.name}": read ${at} of ${total} bytes`);
    const last = rows.at(-1);
    if (last) this.cache.setPool({ blocks: last.o_blocks, size: last.o_psize, used: last.o_pused });
    return { data };
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
    // Structural checks only, as PsrdPool does (pool.ts): limits are the caller's business (applied
    // when parsing wire input); a bundle block confirmed by the hub may exceed the wire's 1 MiB.
    const alloc = checkAllocation(allocation, { maxFragments: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER });
    // Releases of this process come first (a caller that released and retries sees them gone).
    if (this.releases.size > 0) await Promise.all([...this.releases]);
    return alloc;
  }
}

function fragmentArrays(fragments: readonly Fragment[]): [string[], number[], number[]] {
  return [fragments.map((f) => f.blockUuid), fragments.map((f) => f.start), fragments.map((f) => f.size)];
}
