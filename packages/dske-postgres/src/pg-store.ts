/**
 * PgPsrdStore: a PsrdStore in PostgreSQL that the replicas of one node share (same `url` and
 * `schema`, each replica its own process and its own copy of the key file).
 *
 * The store's background tick (every `refreshMs`, default 1 s) refreshes the pool caches that back
 * the synchronous Pool methods (bound: a change made by another replica shows within `refreshMs`
 * plus one round trip), re-encrypts live rows to the current epoch (one replica at a time) and
 * erases the keys of epochs before the previous one (key-chain.ts). `tick()` runs one on demand.
 */
import { existsSync } from "node:fs";
import os from "node:os";
import {
  PsrdArgumentError,
  PsrdClosedError,
  PsrdCorruptError,
  PsrdOwnerError,
  type AuditRecord,
  type Pool,
  type PoolOwner,
  type PsrdStore,
} from "@dske/psrd";
import { allocateFunction } from "./allocate-function.js";
import { peerFunction } from "./peer-function.js";
import { ChunkIo } from "./chunk-io.js";
import { first, Db } from "./db.js";
import { PsrdKeyFileError } from "./errors.js";
import { FileAudit } from "./file-audit.js";
import { KeyChain, keyCheck } from "./key-chain.js";
import { PgPool } from "./pg-pool.js";
import type { PoolContext } from "./pool-context.js";
import { reencrypt } from "./reencrypt.js";
import { refreshPool } from "./refresh.js";
import { CHUNK_SIZE, SCHEMA_VERSION, checkSchemaName, createStatements } from "./schema.js";

export interface PgPsrdStoreOptions {
  /** PostgreSQL connection URL (postgresql://user:password@host:port/database). */
  url: string;
  /** Schema holding the store's tables (default "dske_psrd"); the same for every replica of a node. */
  schema?: string;
  /**
   * The replica's key file (JSON, mode 0600), OUTSIDE the database and outside its backups.
   * Created with the store by the first replica; copy it to the other replicas before they start.
   */
  keyFile: string;
  /** Epoch length in ms (default 600000 = 10 min). Consumed bytes are unreadable 2 epochs later. Fixed at creation. */
  epochMs?: number;
  /** Name of this replica in audit and reservation rows (default host:pid). */
  replica?: string;
  /** Cache refresh and maintenance period in ms (default 1000; 0 = only on tick()). */
  refreshMs?: number;
  /** A reservation not committed or released within this time expires (default 60000 ms). */
  reservationTtlMs?: number;
  /** Connections of this replica (default 10). */
  maxConnections?: number;
  /** Connect timeout in ms (default 5000); calls then fail with PsrdUnavailableError. */
  connectTimeoutMs?: number;
  /** Optional JSON-lines audit file of this replica (FileStore format). */
  auditLog?: string;
  /** Clock in ms (tests drive epochs with it). Default Date.now. */
  now?: () => number;
}

/** One row of the shared `audit` table. */
export interface PgAuditRecord extends AuditRecord {
  replica: string;
}

export interface PgStoreDiagnostics {
  epoch: number;
  /** Oldest epoch whose key this replica still holds. */
  keyBaseEpoch: number;
  /** Chunk rows not yet re-encrypted to the current epoch. */
  staleChunks: number;
}

export class PgPsrdStore implements PsrdStore {
  readonly schema: string;
  readonly epochMs: number;
  readonly replica: string;
  private readonly db: Db;
  private readonly keys: KeyChain;
  private readonly now: () => number;
  private readonly ctx: PoolContext;
  private readonly pools = new Map<string, PgPool>();
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  private constructor(db: Db, keys: KeyChain, schema: string, epochMs: number, options: PgPsrdStoreOptions) {
    this.db = db;
    this.keys = keys;
    this.schema = schema;
    this.epochMs = epochMs;
    this.now = options.now ?? Date.now;
    this.replica = options.replica ?? `${os.hostname()}:${process.pid}`;
    this.ctx = {
      db,
      schema,
      keys,
      chunks: new ChunkIo(schema, keys),
      replica: this.replica,
      reservationTtlMs: options.reservationTtlMs ?? 60_000,
      writeEpoch: () => Math.max(this.epoch(), keys.baseEpoch),
      fileAudit: options.auditLog === undefined ? undefined : new FileAudit(options.auditLog),
    };
  }

  /** Open (creating on first use) the store in `schema`. Throws PsrdUnavailableError when the database is down. */
  static async open(options: PgPsrdStoreOptions): Promise<PgPsrdStore> {
    const schema = checkSchemaName(options.schema ?? "dske_psrd");
    const now = options.now ?? Date.now;
    if (options.epochMs !== undefined && (!Number.isSafeInteger(options.epochMs) || options.epochMs < 1)) {
      throw new PsrdArgumentError("epochMs must be a positive integer");
    }
    const db = await Db.create({
      url: options.url,
      maxConnections: options.maxConnections,
      connectTimeoutMs: options.connectTimeoutMs,
      statementPrefix: schema,
      applicationName: `dske ${options.replica ?? `${os.hostname()}:${process.pid}`}`,
    });
    try {
      const { keys, epochMs } = await db.tx(async (sql) => {
        await sql.query("", `SELECT pg_advisory_xact_lock(0, hashtext($1))`, [schema]);
        const exists = first(await sql.query<{ t: string | null }>("", `SELECT to_regclass($1) AS t`, [`${schema}.meta`]));
        if (exists?.t === null || exists === undefined) {
          const epochMs = options.epochMs ?? 600_000;
          const epoch = Math.floor(now() / epochMs);
          const chain = existsSync(options.keyFile) ? KeyChain.load(options.keyFile) : KeyChain.create(options.keyFile, epoch);
          for (const stmt of createStatements(schema)) await sql.query("", stmt);
          const ck = chain.chainKey(Math.max(epoch, chain.baseEpoch));
          await sql.query(
            "",
            `INSERT INTO ${schema}.meta (id, version, chunk_size, epoch_ms, check_epoch, key_check) VALUES (1, $1, $2, $3, $4, $5)`,
            [SCHEMA_VERSION, CHUNK_SIZE, epochMs, Math.max(epoch, chain.baseEpoch), ck === undefined ? Buffer.alloc(0) : keyCheck(ck)],
          );
          await sql.query("", allocateFunction(schema));
          await sql.query("", peerFunction(schema));
          return { keys: chain, epochMs };
        }
        const meta = first(
          await sql.query<{ version: number; chunk_size: number; epoch_ms: string; check_epoch: string; key_check: Buffer }>(
            "",
            `SELECT version, chunk_size, epoch_ms, check_epoch, key_check FROM ${schema}.meta WHERE id = 1`,
          ),
        );
        if (meta === undefined || meta.version !== SCHEMA_VERSION || meta.chunk_size !== CHUNK_SIZE) {
          throw new PsrdCorruptError(`schema ${schema} holds no store of format ${SCHEMA_VERSION} (chunk size ${CHUNK_SIZE})`);
        }
        const epochMs = Number(meta.epoch_ms);
        if (options.epochMs !== undefined && options.epochMs !== epochMs) {
          throw new PsrdArgumentError(`epochMs ${options.epochMs} differs from the store's ${epochMs} (fixed when the store was created)`);
        }
        if (!existsSync(options.keyFile)) {
          throw new PsrdKeyFileError(
            `key file ${options.keyFile} is missing: the store in schema ${schema} exists; copy the key file of another replica of this node (mode 0600)`,
          );
        }
        await sql.query("", allocateFunction(schema));
        await sql.query("", peerFunction(schema));
        const chain = KeyChain.load(options.keyFile);
        const checkEpoch = Number(meta.check_epoch);
        const ck = chain.chainKey(checkEpoch);
        if (ck !== undefined && !keyCheck(ck).equals(meta.key_check)) {
          chain.destroy();
          throw new PsrdKeyFileError(`key file ${options.keyFile} does not belong to the store in schema ${schema}`);
        }
        return { keys: chain, epochMs };
      });
      const store = new PgPsrdStore(db, keys, schema, epochMs, options);
      // A replica that was down may hold older keys than the others: rescue rows only it can read.
      await store.tick();
      const every = options.refreshMs ?? 1000;
      if (every > 0) {
        store.timer = setInterval(() => void store.tick().catch(() => undefined), every);
        store.timer.unref();
      }
      return store;
    } catch (e) {
      await db.end().catch(() => undefined);
      throw e;
    }
  }

  /** The current epoch by this replica's clock. */
  epoch(): number {
    return Math.floor(this.now() / this.epochMs);
  }

  /**
   * One maintenance pass: re-encrypt (if this replica gets the lock), erase keys before the
   * previous epoch, refresh the caches. Concurrent calls share one pass. The key erasure happens
   * even when the database is down (the bound does not depend on it).
   */
  tick(): Promise<void> {
    this.ticking ??= this.runTick().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async runTick(): Promise<void> {
    if (this.closed) return;
    const epoch = this.epoch();
    let failure: Error | undefined;
    try {
      await reencrypt(this.db, this.schema, this.keys, epoch);
    } catch (e) {
      failure = asError(e);
    }
    this.keys.eraseBefore(epoch - 1);
    for (const p of this.pools.values()) {
      if (p.closed) continue;
      try {
        await refreshPool(this.db, this.schema, p);
      } catch (e) {
        failure ??= asError(e);
      }
    }
    if (failure !== undefined) throw failure;
  }

  private assertOpen(): void {
    if (this.closed) throw new PsrdClosedError("store");
  }

  async openPool(name: string, owner: PoolOwner): Promise<Pool> {
    this.assertOpen();
    // eslint-disable-next-line no-control-regex
    if (typeof name !== "string" || name.length === 0 || name.length > 200 || /[\u0000-\u001f\u007f]/.test(name)) {
      throw new PsrdArgumentError("pool name must be 1..200 characters without control characters");
    }
    if (!["local", "peer"].includes(owner)) throw new PsrdOwnerError(`owner must be "local" or "peer"`);
    const cached = this.pools.get(name);
    if (cached && !cached.closed) {
      if (cached.owner !== owner)
        throw new PsrdOwnerError(`pool "${name}" is owned by ${cached.owner === "local" ? "this node" : "the peer"}`);
      return cached;
    }
    const row = first(
      await this.db.tx((sql) =>
        sql.query<{ id: string; owner: PoolOwner }>(
          "open_pool",
          `WITH ins AS (INSERT INTO ${this.schema}.pools (name, owner) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id, owner)
         SELECT id, owner FROM ins UNION ALL SELECT id, owner FROM ${this.schema}.pools WHERE name = $1`,
          [name, owner],
        ),
      ),
    );
    if (row === undefined) throw new PsrdCorruptError(`pool "${name}" could not be opened`);
    if (row.owner !== owner) throw new PsrdOwnerError(`pool "${name}" is owned by ${row.owner === "local" ? "this node" : "the peer"}`);
    const pool = new PgPool(this.ctx, name, owner, row.id);
    await refreshPool(this.db, this.schema, pool);
    this.pools.set(name, pool);
    return pool;
  }

  async deletePool(name: string): Promise<void> {
    this.assertOpen();
    await this.db.run("delete_pool", `DELETE FROM ${this.schema}.pools WHERE name = $1`, [name]);
    this.pools.get(name)?.markClosed(`pool "${name}" (deleted)`);
    this.pools.delete(name);
  }

  async listPools(): Promise<string[]> {
    this.assertOpen();
    const rows = await this.db.run<{ name: string }>("list_pools", `SELECT name FROM ${this.schema}.pools ORDER BY name COLLATE "C"`);
    return rows.map((r) => r.name);
  }

  /** The shared audit table (every replica's consumptions), oldest first. */
  async readAudit(): Promise<PgAuditRecord[]> {
    const rows = await this.db.run<{
      time: Date;
      pool: string;
      owner: PoolOwner;
      op: "allocate" | "take";
      block_uuid: string;
      start: number;
      size: number;
      purpose: string;
      replica: string;
    }>("read_audit", `SELECT time, pool, owner, op, block_uuid, start, size, purpose, replica FROM ${this.schema}.audit ORDER BY id`);
    return rows.map((r) => ({ ...r, time: r.time.toISOString() }));
  }

  async diagnostics(): Promise<PgStoreDiagnostics> {
    const epoch = this.epoch();
    const r = first(
      await this.db.run<{ n: string }>("stale_chunks", `SELECT count(*) AS n FROM ${this.schema}.chunks WHERE epoch < $1`, [epoch]),
    );
    return { epoch, keyBaseEpoch: this.keys.baseEpoch, staleChunks: Number(r?.n ?? 0) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking?.catch(() => undefined);
    for (const p of this.pools.values()) p.markClosed("store");
    this.pools.clear();
    this.keys.destroy();
    await this.db.end();
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error("maintenance failed");
}
