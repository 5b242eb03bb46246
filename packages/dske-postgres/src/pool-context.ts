/** What a PgPool gets from its store: the database, the schema, the keys, the replica's identity. */
import type { ChunkIo } from "./chunk-io.js";
import type { Db } from "./db.js";
import type { FileAudit } from "./file-audit.js";
import type { KeyChain } from "./key-chain.js";

export interface PoolContext {
  readonly db: Db;
  /** Quoted-safe schema name (validated). */
  readonly schema: string;
  readonly keys: KeyChain;
  readonly chunks: ChunkIo;
  /** Name of this replica in reservations and audit rows. */
  readonly replica: string;
  readonly reservationTtlMs: number;
  /** The epoch new rows are encrypted under (the current one). */
  writeEpoch(): number;
  /** Optional JSON-lines audit file of this replica (same format as FileStore's). */
  readonly fileAudit: FileAudit | undefined;
}
