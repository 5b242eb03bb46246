/**
 * PgClientState: the node state and the delivered-key ledger of a client (shared-state.ts) in
 * PostgreSQL, shared by every replica of the client that names the same database. The only file
 * of the client that talks to the database (besides @dske/postgres for the PSRD pools).
 *
 * - `dske_client_state`: one row per hub registration (`hub URL`) and per bundle chain
 *   (`chain NAME`), the chain key and enrollment secret sealed (state-sealing.ts). A chain row is
 *   replaced only by a record of the same or a later bundle seq: a replica with a stale view never
 *   steps a chain back.
 * - `dske_client_delivered`: one row per delivered mark (client, master SAE, key ID, slave SAE),
 *   primary key on all four. `claim` inserts the marks of a request in one transaction and rolls
 *   back when one was there already: two replicas delivering the same key ID to the same SAE at the
 *   same time are serialised by the primary key, and exactly one of them hands the key out.
 *   Marks older than the retention (24 h, as the file journal) are purged.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { createStatePool, pooledQuery, withTransaction } from "@dske/postgres";
import type { ChainRecord, HubRecord } from "../node-state.js";
import { ChainRecordSchema, HubRecordSchema } from "../node-state.js";
import type { DeliveryLedger, DeliveryMark, NodeStateBackend, NodeStateEntries } from "../shared-state.js";
import type { StateSealer } from "./state-sealing.js";

const RETENTION_SECS = 24 * 3600;
const PURGE_INTERVAL_MS = 600_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS dske_client_state (
  client text NOT NULL,
  name text NOT NULL,
  seq bigint NOT NULL DEFAULT 0,
  value jsonb NOT NULL,
  PRIMARY KEY (client, name)
);
CREATE TABLE IF NOT EXISTS dske_client_delivered (
  client text NOT NULL,
  master text NOT NULL,
  key_id text NOT NULL,
  sae text NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (client, master, key_id, sae)
);
CREATE INDEX IF NOT EXISTS dske_client_delivered_at ON dske_client_delivered (client, at);
`;

export interface PgClientStateOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  client: string;
  /** Name of this replica (application_name of its sessions, logs), e.g. carol#2. */
  replica?: string;
  sealer: StateSealer;
  poolSize?: number;
  /** Per-statement timeout in ms (default 5000). */
  statementTimeoutMs?: number;
  onError?: (message: string) => void;
}

export class PgClientState implements NodeStateBackend, DeliveryLedger {
  readonly replica: string;
  private purgeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly options: PgClientStateOptions,
  ) {
    this.replica = options.replica ?? randomUUID().slice(0, 8);
  }

  get description(): string {
    return `postgres, replica ${this.replica}`;
  }

  static async open(options: PgClientStateOptions): Promise<PgClientState> {
    const pool = await createStatePool(
      {
        url: options.url,
        poolSize: options.poolSize,
        statementTimeoutMs: options.statementTimeoutMs,
        applicationName: `dske-client ${options.replica ?? options.client}`,
      },
      // An idle connection that breaks (database restart) must not end the process.
      (err) => options.onError?.(`client ${options.client}: database connection lost: ${err.message}`),
    );
    const state = new PgClientState(pool, options);
    try {
      await state.transaction(async (c) => {
        await c.query("SELECT pg_advisory_xact_lock(hashtext('dske_client_state schema'))");
        await c.query(SCHEMA);
        return true;
      });
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    state.purgeTimer = setInterval(() => void state.purge().catch((e: unknown) => options.onError?.(message(e))), PURGE_INTERVAL_MS);
    state.purgeTimer.unref();
    return state;
  }

  // ------------------------------------------------------------------ node state

  async load(): Promise<NodeStateEntries> {
    const r = await this.query<{ name: string; value: unknown }>({
      name: "dske_client_state_load",
      text: "SELECT name, value FROM dske_client_state WHERE client = $1",
      values: [this.options.client],
    });
    const out: NodeStateEntries = { hubs: {}, chains: {} };
    for (const row of r.rows) {
      if (row.name.startsWith("hub ")) out.hubs[row.name.slice(4)] = HubRecordSchema.parse(row.value);
      else if (row.name.startsWith("chain ")) {
        const hub = row.name.slice(6);
        out.chains[hub] = this.openChain(hub, row.value);
      }
    }
    return out;
  }

  async setHub(url: string, record: HubRecord | undefined): Promise<void> {
    await this.setRow(`hub ${url}`, 0, record, false);
  }

  async setChain(hubName: string, record: ChainRecord | undefined): Promise<void> {
    await this.setRow(`chain ${hubName}`, record?.seq ?? 0, record ? this.sealChain(hubName, record) : undefined, true);
  }

  private async setRow(name: string, seq: number, value: unknown, monotonic: boolean): Promise<void> {
    if (value === undefined) {
      await this.query({
        name: "dske_client_state_delete",
        text: "DELETE FROM dske_client_state WHERE client = $1 AND name = $2",
        values: [this.options.client, name],
      });
      return;
    }
    await this.query({
      name: monotonic ? "dske_client_state_set_chain" : "dske_client_state_set",
      text:
        "INSERT INTO dske_client_state (client, name, seq, value) VALUES ($1, $2, $3, $4::jsonb) " +
        "ON CONFLICT (client, name) DO UPDATE SET seq = EXCLUDED.seq, value = EXCLUDED.value" +
        (monotonic ? " WHERE dske_client_state.seq <= EXCLUDED.seq" : ""),
      values: [this.options.client, name, seq, JSON.stringify(value)],
    });
  }

  private subject(hub: string, field: string): string {
    return JSON.stringify([this.options.client, "chain", hub, field]);
  }

  private sealChain(hub: string, r: ChainRecord): unknown {
    const { key, enrollment_secret, ...rest } = r;
    return {
      ...rest,
      key_sealed: this.options.sealer.seal(key, this.subject(hub, "key")),
      ...(enrollment_secret !== undefined
        ? { enrollment_secret_sealed: this.options.sealer.seal(enrollment_secret, this.subject(hub, "es")) }
        : {}),
    };
  }

  private openChain(hub: string, stored: unknown): ChainRecord {
    const s = stored as { key_sealed?: unknown; enrollment_secret_sealed?: unknown } & Record<string, unknown>;
    const { key_sealed, enrollment_secret_sealed, ...rest } = s;
    return ChainRecordSchema.parse({
      ...rest,
      key: typeof key_sealed === "string" ? this.options.sealer.open(key_sealed, this.subject(hub, "key")) : undefined,
      ...(typeof enrollment_secret_sealed === "string"
        ? { enrollment_secret: this.options.sealer.open(enrollment_secret_sealed, this.subject(hub, "es")) }
        : {}),
    });
  }

  // ------------------------------------------------------------------ delivery ledger

  async delivered(masterSae: string, keyIds: readonly string[], sae: string): Promise<Set<string>> {
    const r = await this.query<{ key_id: string }>({
      name: "dske_client_delivered_get",
      text: "SELECT key_id FROM dske_client_delivered WHERE client = $1 AND master = $2 AND sae = $3 AND key_id = ANY($4::text[])",
      values: [this.options.client, masterSae, sae, [...keyIds]],
    });
    return new Set(r.rows.map((x) => x.key_id));
  }

  async claim(marks: readonly DeliveryMark[]): Promise<DeliveryMark[]> {
    const unique = [...new Map(marks.map((m) => [markKey(m), m])).values()];
    if (unique.length === 0) return [];
    let taken: DeliveryMark[] = [];
    await this.transaction(async (c) => {
      const r = await c.query<{ master: string; key_id: string; sae: string }>({
        name: "dske_client_delivered_claim",
        text:
          "INSERT INTO dske_client_delivered (client, master, key_id, sae) " +
          "SELECT $1, m, k, s FROM unnest($2::text[], $3::text[], $4::text[]) AS x(m, k, s) " +
          "ON CONFLICT DO NOTHING RETURNING master, key_id, sae",
        values: [this.options.client, unique.map((m) => m.masterSae), unique.map((m) => m.keyId), unique.map((m) => m.sae)],
      });
      if (r.rows.length === unique.length) return true;
      const mine = new Set(r.rows.map((x) => markKey({ masterSae: x.master, keyId: x.key_id, sae: x.sae })));
      taken = unique.filter((m) => !mine.has(markKey(m)));
      return false; // roll back: all marks or none
    });
    return taken;
  }

  async purge(): Promise<void> {
    await this.query({
      name: "dske_client_delivered_purge",
      text: `DELETE FROM dske_client_delivered WHERE client = $1 AND at < now() - interval '${RETENTION_SECS} seconds'`,
      values: [this.options.client],
    });
  }

  /** Both interfaces close the same pool: the second call is a no-op. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    await this.pool.end();
    this.options.sealer.wipe();
  }

  private async query<R extends pg.QueryResultRow>(q: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    try {
      return await pooledQuery<R>(this.pool, q);
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** `fn` returns true to commit, false to roll back. */
  private async transaction(fn: (c: pg.PoolClient) => Promise<boolean>): Promise<void> {
    try {
      await withTransaction(this.pool, fn, (commit) => commit);
    } catch (err) {
      throw unavailable(err);
    }
  }
}

function markKey(m: DeliveryMark): string {
  return `${m.masterSae}\u0000${m.keyId}\u0000${m.sae}`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function unavailable(err: unknown): Error {
  return new Error(`the client's PostgreSQL state is unavailable: ${message(err)}`);
}
