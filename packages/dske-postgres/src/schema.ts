/**
 * The tables of one store, in their own PostgreSQL schema (every replica of a node uses the same
 * schema name; different nodes use different schemas or databases).
 *
 *  meta          one row: format version, chunk size, epoch length, key check (epoch, value)
 *  pools         id, name, owner, accounting (blocks, size, used), next block index
 *  blocks        per block: index, size, key prefix, hwm (owned pools: next byte), used
 *  chunks        the block bytes, CHUNK_SIZE bytes a row, AES-256-CTR under an epoch key
 *  consumed      peer pools: consumed ranges
 *  reservations  peer pools: pending reservations (token, range, replica, expiry)
 *  audit         one row per consumed fragment (pool, block, start, size, purpose, replica, time)
 */
import { PsrdArgumentError } from "@dske/psrd";

export const SCHEMA_VERSION = 1;
/** Bytes per stored chunk row (small enough to stay inline in the heap page, no TOAST). */
export const CHUNK_SIZE = 1024;

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_RE.test(schema)) {
    throw new PsrdArgumentError(`schema ${JSON.stringify(schema)} must match ${SCHEMA_RE.source} (a PostgreSQL identifier in lower case)`);
  }
  return schema;
}

/** DDL creating the store's tables in `s` (already validated). */
export function createStatements(s: string): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE ${s}.meta (
       id int PRIMARY KEY CHECK (id = 1),
       version int NOT NULL,
       chunk_size int NOT NULL,
       epoch_ms bigint NOT NULL,
       check_epoch bigint NOT NULL,
       key_check bytea NOT NULL,
       created_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
    `CREATE TABLE ${s}.pools (
       id bigserial PRIMARY KEY,
       name text NOT NULL UNIQUE,
       owner text NOT NULL CHECK (owner IN ('local', 'peer')),
       blocks int NOT NULL DEFAULT 0,
       size bigint NOT NULL DEFAULT 0,
       used bigint NOT NULL DEFAULT 0,
       next_index int NOT NULL DEFAULT 0)`,
    `CREATE TABLE ${s}.blocks (
       pool_id bigint NOT NULL REFERENCES ${s}.pools (id) ON DELETE CASCADE,
       uuid text NOT NULL,
       idx int NOT NULL,
       size int NOT NULL,
       key_prefix int NOT NULL,
       hwm int NOT NULL,
       used int NOT NULL,
       PRIMARY KEY (pool_id, uuid))`,
    `CREATE INDEX blocks_free ON ${s}.blocks (pool_id, idx) WHERE hwm < size`,
    `CREATE INDEX blocks_order ON ${s}.blocks (pool_id, idx)`,
    `CREATE TABLE ${s}.chunks (
       pool_id bigint NOT NULL,
       uuid text NOT NULL,
       n int NOT NULL,
       epoch bigint NOT NULL,
       iv bytea NOT NULL,
       data bytea NOT NULL,
       PRIMARY KEY (pool_id, uuid, n),
       FOREIGN KEY (pool_id, uuid) REFERENCES ${s}.blocks (pool_id, uuid) ON DELETE CASCADE)`,
    `CREATE INDEX chunks_epoch ON ${s}.chunks (epoch)`,
    `CREATE TABLE ${s}.consumed (
       pool_id bigint NOT NULL,
       uuid text NOT NULL,
       start int NOT NULL,
       size int NOT NULL,
       FOREIGN KEY (pool_id, uuid) REFERENCES ${s}.blocks (pool_id, uuid) ON DELETE CASCADE)`,
    `CREATE INDEX consumed_range ON ${s}.consumed (pool_id, uuid, start)`,
    `CREATE TABLE ${s}.reservations (
       token uuid NOT NULL,
       pool_id bigint NOT NULL,
       uuid text NOT NULL,
       start int NOT NULL,
       size int NOT NULL,
       replica text NOT NULL,
       expires_at timestamptz NOT NULL,
       FOREIGN KEY (pool_id, uuid) REFERENCES ${s}.blocks (pool_id, uuid) ON DELETE CASCADE)`,
    `CREATE INDEX reservations_range ON ${s}.reservations (pool_id, uuid, start)`,
    `CREATE INDEX reservations_token ON ${s}.reservations (token)`,
    `CREATE TABLE ${s}.audit (
       id bigserial PRIMARY KEY,
       time timestamptz NOT NULL DEFAULT clock_timestamp(),
       pool text NOT NULL,
       owner text NOT NULL,
       op text NOT NULL,
       block_uuid text NOT NULL,
       start int NOT NULL,
       size int NOT NULL,
       purpose text NOT NULL,
       replica text NOT NULL)`,
  ];
}
