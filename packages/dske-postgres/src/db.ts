/**
 * Database access: a node-postgres Pool, transactions with retry on deadlock / serialization
 * failure, named prepared statements, and the mapping of connection failures to
 * PsrdUnavailableError (never an unhandled 'error' event: an idle connection that the server
 * drops is discarded silently; the next call reconnects).
 */
import type pg from "pg";
import { RETRY_SQLSTATES, isSessionEndError, isStatementError, mapDbError, sqlState } from "./errors.js";

let pgModule: Promise<typeof pg> | undefined;

/**
 * node-postgres, loaded on first use: a process that imports @dske/postgres (or a hub or client
 * that could use it) but keeps its state in files never loads it, about 70 ms less at start.
 */
export function loadPg(): Promise<typeof pg> {
  pgModule ??= import("pg").then((m) => m.default);
  return pgModule;
}

/**
 * A node-postgres Pool that never ends the process with an unhandled 'error' event.
 * - An idle connection the server drops (restart, admin) emits on the pool: `onIdleError` is told.
 * - Every connection also carries a permanent no-op listener, from the moment it is connected. A
 *   promise-based `pool.connect()` hands the connection over in a later microtask, but the socket
 *   parser can deliver a FATAL (57P01 "terminating connection due to administrator command") in
 *   the same data chunk as the ReadyForQuery that completed the connection, before the caller has
 *   attached its own listener. Without this, that window crashed the process on a server restart.
 *   The failure is not lost: the connection is no longer queryable, so its queries fail (mapped to
 *   "unavailable") and the pool discards it on release.
 */
export async function createPgPool(config: pg.PoolConfig, onIdleError: (err: Error) => void = () => undefined): Promise<pg.Pool> {
  const pool = new (await loadPg()).Pool(config);
  pool.on("error", onIdleError);
  pool.on("connect", (client) => client.on("error", () => undefined));
  return pool;
}

/**
 * One statement on a connection of `pool`, which goes back to the pool when the statement fails
 * with an error of its own (isStatementError: a RAISE, a constraint, a statement timeout).
 * node-postgres' `Pool.query` releases the connection WITH the statement's error, which closes it:
 * every refused request (a take of a PSRD range already "consumed", as a replayed request meets;
 * a constraint) then cost a new server session, a fork and about 60 ms of the server's CPU
 * (test/restart.postgres.test.ts counts the sessions). A connection-level failure (no SQLSTATE, an
 * "unavailable" class, or an "error" event on the connection) still discards the connection.
 */
export async function pooledQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  pool: pg.Pool,
  config: pg.QueryConfig,
): Promise<pg.QueryResult<R>> {
  return withConnection(pool, async (client, broken) => {
    try {
      return await client.query<R>(config);
    } catch (e) {
      if (!isStatementError(e)) broken(e);
      throw e;
    }
  });
}

/**
 * `fn` on a connection checked out of `pool`, which goes back to the pool afterwards unless it
 * broke while out: it emitted "error" (the server dropped it: without a listener that event would
 * crash the process; with one, the running query fails instead) or `fn` called `broken(err)`
 * (a failure that leaves the session's state unknown, such as a ROLLBACK that failed), or fn
 * threw an error with which the server ended the session (SQLSTATE class 08, 57P or 53). A broken
 * connection is discarded (`release(err)`), never handed to the next caller. An error of
 * `pool.connect()` passes through as it is.
 */
export async function withConnection<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient, broken: (err: unknown) => void) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let brokenBy: Error | undefined;
  const broken = (e: unknown) => {
    brokenBy ??= e instanceof Error ? e : new Error(String(e));
  };
  client.on("error", broken);
  try {
    return await fn(client, broken);
  } catch (e) {
    // The server ended the session (a FATAL such as 57P01 reaches the running query, and the
    // socket may not be closed yet when the connection goes back).
    if (isSessionEndError(e)) broken(e);
    throw e;
  } finally {
    client.off("error", broken);
    client.release(brokenBy);
  }
}

/**
 * `fn` in a transaction on a connection of `pool` (withConnection): BEGIN, `fn`, then COMMIT, or
 * ROLLBACK when `commit(result)` says no. An error of `fn` rolls back and passes through; a
 * ROLLBACK that fails marks the connection broken (the session's state is unknown).
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  commit: (result: T) => boolean = () => true,
): Promise<T> {
  return withConnection(pool, async (client, broken) => {
    try {
      await client.query("BEGIN");
      const result = await fn(client);
      await client.query(commit(result) ? "COMMIT" : "ROLLBACK");
      return result;
    } catch (e) {
      await client.query("ROLLBACK").catch(broken);
      throw e;
    }
  });
}

/**
 * The pool of a node's small PostgreSQL state (the hub's journal, the client's state): `poolSize`
 * connections (default 4); connect and statement timeout `statementTimeoutMs` (default 5000), the
 * driver's query timeout 1 s later; sessions named `applicationName`.
 */
export function createStatePool(
  options: { url: string; poolSize?: number; statementTimeoutMs?: number; applicationName: string },
  onIdleError: (err: Error) => void,
): Promise<pg.Pool> {
  const timeout = options.statementTimeoutMs ?? 5000;
  return createPgPool(
    {
      connectionString: options.url,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: timeout,
      statement_timeout: timeout,
      query_timeout: timeout + 1000,
      application_name: options.applicationName,
    },
    onIdleError,
  );
}

export type Row = Record<string, unknown>;

/** The first row, or undefined for none. */
export function first<T>(rows: readonly T[]): T | undefined {
  return rows.length > 0 ? rows[0] : undefined;
}

/** Runs statements on one connection. `name`d statements are prepared once per connection. */
export interface Sql {
  query<R extends object = Row>(name: string, text: string, values?: unknown[]): Promise<R[]>;
}

export interface DbOptions {
  url: string;
  /** Connections per store (default 10). */
  maxConnections?: number;
  /** Give up connecting after this long (default 5000 ms): the call fails with PsrdUnavailableError. */
  connectTimeoutMs?: number;
  /** Shown in pg_stat_activity.application_name (the replica's name): which replica holds a session. */
  applicationName?: string;
  /** Prefix of the prepared statement names (the schema: statements differ per schema). */
  statementPrefix: string;
}

export class Db {
  readonly pool: pg.Pool;
  private readonly prefix: string;

  private constructor(pool: pg.Pool, prefix: string) {
    this.pool = pool;
    this.prefix = prefix;
  }

  /** An idle connection terminated by the server (restart, admin) is dropped silently. */
  static async create(options: DbOptions): Promise<Db> {
    const pool = await createPgPool({
      connectionString: options.url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
      ...(options.applicationName === undefined ? {} : { application_name: options.applicationName.slice(0, 63) }),
    });
    return new Db(pool, options.statementPrefix);
  }

  /** A statement's config: `name`d statements are prepared once per connection (prefixed by schema). */
  private config(name: string, text: string, values: unknown[]): pg.QueryConfig {
    return name === "" ? { text, values } : { name: `${this.prefix}:${name}`, text, values };
  }

  private sqlOf(client: pg.PoolClient): Sql {
    return {
      query: async <R extends object = Row>(name: string, text: string, values: unknown[] = []) => {
        const r = await client.query(this.config(name, text, values));
        return r.rows as R[];
      },
    };
  }

  /** One statement, its own transaction (autocommit); retried on deadlock / serialization failure. */
  async run<R extends object = Row>(name: string, text: string, values: unknown[] = []): Promise<R[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await pooledQuery(this.pool, this.config(name, text, values))).rows as R[];
      } catch (e) {
        const state = sqlState(e);
        if (state !== undefined && RETRY_SQLSTATES.has(state) && attempt < 5) continue;
        throw mapDbError(e);
      }
    }
  }

  /**
   * Run `fn` in a transaction (READ COMMITTED; the functions take the row locks they need).
   * Retried from the start on deadlock or serialization failure (up to 5 times). A PsrdError
   * thrown by `fn` rolls back and passes through.
   */
  async tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await withTransaction(this.pool, (client) => fn(this.sqlOf(client)));
      } catch (e) {
        // The connection is back in the pool (or discarded) before a retry checks out another.
        const state = sqlState(e);
        if (state !== undefined && RETRY_SQLSTATES.has(state) && attempt < 5) continue;
        throw mapDbError(e);
      }
    }
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}
