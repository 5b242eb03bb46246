/**
 * PgStateBackend: the hub state records (state-backend.ts) in one PostgreSQL table that every
 * replica of a hub shares. The only file of the hub that talks to the database.
 *
 * - One row per record (`rec`, jsonb, secrets sealed by record-sealing.ts), with the replica that
 *   wrote it and its subject (a share, a registration, a chain, a staged block). Appends of one
 *   hub are serialised by a transaction-scoped advisory lock, so sequence numbers are committed
 *   in order and a replica reads the others' records with `seq > cursor` without missing one.
 * - Compaction by subject: a record that replaces its subject's state (registration,
 *   unregistration, chain step, share deletion, staged block confirmed) deletes the subject's
 *   earlier rows in the same transaction; terminal records (unregistration, deletion,
 *   confirmation) stay as tombstones for TOMBSTONE_TTL so that lagging replicas see them, then go.
 * - Errors (database down, timeouts) are HubError `unavailable` (503): the replica recovers by
 *   itself once the database answers again (the driver's pool reconnects).
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { createStatePool, pooledQuery, withTransaction } from "@dske/postgres";
import { errorMessage, HubError } from "../errors.js";
import type { SharedStateBackend } from "../state-backend.js";
import type { RecordSealer } from "./record-sealing.js";

/** How long tombstones (deletions, unregistrations, confirmations) stay for lagging replicas. */
export const TOMBSTONE_TTL_SECS = 600;
const PURGE_INTERVAL_MS = 60_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS dske_hub_journal (
  seq bigserial PRIMARY KEY,
  hub text NOT NULL,
  replica text NOT NULL,
  subject text NOT NULL,
  tombstone boolean NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(),
  rec jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS dske_hub_journal_subject ON dske_hub_journal (hub, subject);
CREATE INDEX IF NOT EXISTS dske_hub_journal_tombstones ON dske_hub_journal (hub, written_at) WHERE tombstone;
`;

interface Row {
  subject: string;
  replaces: boolean;
  tombstone: boolean;
  rec: unknown;
}

export interface PgStateBackendOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  hub: string;
  sealer: RecordSealer;
  /** Connections in the pool (default 4). */
  poolSize?: number;
  /** Per-statement timeout in ms (default 5000): a request fails with 503 instead of hanging while the database is away. */
  statementTimeoutMs?: number;
  onError?: (message: string) => void;
}

export class PgStateBackend implements SharedStateBackend {
  readonly shared = true as const;
  readonly size = 0;
  readonly replica = randomUUID();
  private cursor = "0";
  private readonly pending = new Set<Promise<void>>();
  private purgeTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly options: PgStateBackendOptions,
  ) {}

  get description(): string {
    return `postgres, replica ${this.replica.slice(0, 8)}`;
  }

  /** Connect and create the table if needed (failure → HubError `unavailable`). */
  static async open(options: PgStateBackendOptions): Promise<PgStateBackend> {
    const pool = await createStatePool(
      {
        url: options.url,
        poolSize: options.poolSize,
        statementTimeoutMs: options.statementTimeoutMs,
        applicationName: `dske-hub ${options.hub}`,
      },
      // An idle connection that breaks (database restart) must not end the process.
      (err) => options.onError?.(`hub ${options.hub}: database connection lost: ${err.message}`),
    );
    const backend = new PgStateBackend(pool, options);
    try {
      await backend.transaction(async (c) => {
        await c.query("SELECT pg_advisory_xact_lock(hashtext('dske_hub_journal schema'))");
        await c.query(SCHEMA);
      });
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    backend.purgeTimer = setInterval(
      () => void backend.purge().catch((e: unknown) => options.onError?.(errorMessage(e))),
      PURGE_INTERVAL_MS,
    );
    backend.purgeTimer.unref();
    return backend;
  }

  async load(): Promise<unknown[]> {
    await this.purge();
    const r = await this.query<{ seq: string; rec: unknown }>({
      name: "dske_hub_load",
      text: "SELECT seq::text AS seq, rec FROM dske_hub_journal WHERE hub = $1 ORDER BY seq",
      values: [this.options.hub],
    });
    if (r.rows.length > 0) this.cursor = r.rows[r.rows.length - 1].seq;
    return this.openAll(r.rows.map((x) => x.rec));
  }

  async sync(): Promise<unknown[]> {
    const r = await this.query<{ seq: string; replica: string; rec: unknown }>({
      name: "dske_hub_sync",
      text: "SELECT seq::text AS seq, replica, rec FROM dske_hub_journal WHERE hub = $1 AND seq > $2::bigint ORDER BY seq",
      values: [this.options.hub, this.cursor],
    });
    if (r.rows.length === 0) return [];
    this.cursor = r.rows[r.rows.length - 1].seq;
    return this.openAll(r.rows.filter((x) => x.replica !== this.replica).map((x) => x.rec));
  }

  append(records: readonly unknown[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const rows = toRows(records, this.options.sealer);
    const p = this.transaction(async (c) => {
      await c.query({
        name: "dske_hub_lock",
        text: "SELECT pg_advisory_xact_lock(hashtext($1))",
        values: [`dske_hub_journal ${this.options.hub}`],
      });
      const replaced = rows.filter((x) => x.replaces).map((x) => x.subject);
      if (replaced.length > 0) {
        await c.query({
          name: "dske_hub_replace",
          text: "DELETE FROM dske_hub_journal WHERE hub = $1 AND subject = ANY($2::text[])",
          values: [this.options.hub, replaced],
        });
      }
      await c.query({
        name: "dske_hub_append",
        text:
          "INSERT INTO dske_hub_journal (hub, replica, subject, tombstone, rec) " +
          "SELECT $1, $2, s, t, r FROM unnest($3::text[], $4::boolean[], $5::jsonb[]) AS x(s, t, r)",
        values: [
          this.options.hub,
          this.replica,
          rows.map((x) => x.subject),
          rows.map((x) => x.tombstone),
          rows.map((x) => JSON.stringify(x.rec)),
        ],
      });
    });
    this.pending.add(p);
    void p.then(
      () => this.pending.delete(p),
      () => this.pending.delete(p),
    );
    return p;
  }

  /** Nothing to rewrite: the table compacts itself by subject (see above). */
  async rewrite(): Promise<void> {}

  /** Drop tombstones older than TOMBSTONE_TTL_SECS. */
  async purge(): Promise<void> {
    await this.query({
      name: "dske_hub_purge",
      text: `DELETE FROM dske_hub_journal WHERE hub = $1 AND tombstone AND written_at < now() - interval '${TOMBSTONE_TTL_SECS} seconds'`,
      values: [this.options.hub],
    });
  }

  async close(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    await Promise.allSettled([...this.pending]);
    await this.pool.end();
  }

  private openAll(stored: readonly unknown[]): unknown[] {
    const out: unknown[] = [];
    for (const s of stored) {
      const r = this.options.sealer.open(s);
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  private async query<R extends pg.QueryResultRow>(q: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    try {
      return await pooledQuery<R>(this.pool, q);
    } catch (err) {
      throw unavailable(err);
    }
  }

  private async transaction(fn: (c: pg.PoolClient) => Promise<void>): Promise<void> {
    try {
      await withTransaction(this.pool, fn);
    } catch (err) {
      throw unavailable(err);
    }
  }
}

function unavailable(err: unknown): HubError {
  if (err instanceof HubError) return err;
  return new HubError("unavailable", `the hub's PostgreSQL state is unavailable: ${errorMessage(err)}`);
}

/**
 * Records → rows: subject and kind per record, secret fields sealed, and the rows that a later
 * record of the same batch replaces left out.
 */
function toRows(records: readonly unknown[], sealer: RecordSealer): Row[] {
  const rows: Row[] = [];
  const replacedLater = new Set<string>();
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i] as Record<string, unknown>;
    const { subject, replaces, tombstone } = classify(r);
    if (replacedLater.has(subject)) continue;
    if (replaces) replacedLater.add(subject);
    rows.push({ subject, replaces, tombstone, rec: sealer.seal(r) });
  }
  return rows.reverse();
}

function classify(r: Record<string, unknown>): { subject: string; replaces: boolean; tombstone: boolean } {
  const s = (x: unknown) => (typeof x === "string" || typeof x === "number" ? String(x) : "");
  switch (r.t) {
    case "reg":
      return { subject: `reg ${s(r.c)}`, replaces: true, tombstone: false };
    case "unreg":
      return { subject: `reg ${s(r.c)}`, replaces: true, tombstone: true };
    case "chain":
      return { subject: `chain ${s(r.c)}`, replaces: true, tombstone: false };
    case "stg":
      return { subject: `stg ${s(r.b)}`, replaces: false, tombstone: false };
    case "act":
      return { subject: `stg ${s(r.b)}`, replaces: true, tombstone: true };
    case "del":
      return { subject: `share ${s(r.m)} ${s(r.k)}`, replaces: true, tombstone: true };
    default:
      return { subject: `share ${s(r.m)} ${s(r.k)}`, replaces: false, tombstone: false };
  }
}
