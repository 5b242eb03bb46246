export type * from "./types";
export * from "./errors.js";
export { UUID_RE, isBlockUuid, normalizeBlockUuid, type BlockMeta } from "./block.js";
export { DEFAULT_MAX_BYTES, DEFAULT_MAX_FRAGMENTS, allocationSize, checkAllocation, fragmentEnd, makeFragment } from "./fragment.js";
export {
  AllocationJsonSchema,
  FragmentJsonSchema,
  allocationFromJson,
  allocationFromParsedJson,
  allocationToJson,
  formatAllocation,
  parseAllocation,
  type AllocationJson,
  type FragmentJson,
} from "./allocation.js";
export { xor, xorPad } from "./pad.js";
export { AuditRecordSchema, readAuditLog, type AuditRecord } from "./audit.js";
export { IntervalSet } from "./interval-set.js";
export { MemoryStore, type MemoryStoreOptions } from "./memory-store.js";
export { FileStore, type FileStoreOptions, type FilePoolDiagnostics } from "./file-store.js";
export { PsrdPool, type BlockRange, type PoolBackend } from "./pool.js";
export { StateJournal, StateJournalError, writeJsonAtomic, readJson } from "./state-journal.js";
export { FSYNC_CHANNEL, FsyncCounter, countFsync, type FsyncMessage } from "./io-stats.js";
