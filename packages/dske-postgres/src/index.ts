/** @dske/postgres: a PostgreSQL-backed PsrdStore shared by the replicas of one node. */
export { PgPsrdStore, type PgPsrdStoreOptions, type PgAuditRecord, type PgStoreDiagnostics } from "./pg-store.js";
export { PsrdUnavailableError, PsrdKeyFileError } from "./errors.js";
export { KeyChain, ratchet } from "./key-chain.js";
export { encryptChunk, decryptChunk } from "./cipher.js";
export { CHUNK_SIZE } from "./schema.js";
export { loadPg, createPgPool, createStatePool, pooledQuery, withConnection, withTransaction } from "./db.js";
