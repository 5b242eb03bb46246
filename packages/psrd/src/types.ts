/**
 * The contract of @dske/psrd. Other packages (auth, hub, client) code against these types only.
 *
 * Vocabulary (spec developer guide): a Block is a run of PSRD bytes with a UUID; a Pool is a
 * sequence of blocks with an owner; a Fragment is a contiguous range of one block; an
 * Allocation is a list of fragments.
 *
 * Ownership: every node keeps two pools per peer. It allocates from the pool it owns
 * (`owner: "local"`) for messages it sends, and takes the named bytes from the pool the peer
 * owns (`owner: "peer"`) for messages it receives.
 */

export type PoolOwner = "local" | "peer";

/** A contiguous range of one block (metadata only; never the bytes). */
export interface Fragment {
  readonly blockUuid: string;
  readonly start: number;
  readonly size: number;
}

/** An allocation: the fragments, in order; its bytes are the concatenation of the fragments. */
export interface Allocation {
  readonly fragments: readonly Fragment[];
}

/** Limits applied when parsing allocations that come from the wire. */
export interface AllocationLimits {
  /** Maximum number of fragments (default 64). */
  maxFragments?: number;
  /** Maximum total bytes (default 1 MiB). */
  maxBytes?: number;
}

/** Pool accounting. All numbers are bytes except `blocks`. */
export interface PoolStats {
  readonly name: string;
  readonly owner: PoolOwner;
  readonly blocks: number;
  /** Total bytes of all blocks ever added and not yet retired (including key prefixes). */
  readonly size: number;
  /** Bytes consumed (allocated or taken), including retired blocks' bytes. */
  readonly used: number;
  /** Bytes still available for allocation or taking. */
  readonly available: number;
}

/**
 * Accounting of one block (metadata only; never the bytes). `used` counts the key prefix and the
 * consumed bytes, as PoolStats does, so `used + unused = size`.
 */
export interface BlockUsage {
  readonly blockUuid: string;
  readonly size: number;
  readonly used: number;
  readonly unused: number;
}

export interface AddBlockOptions {
  /**
   * Number of leading bytes of the block reserved as the block's MAC key (readable through
   * `blockKey`, never allocated nor taken). Default 0. The gf128 authentication scheme uses 16.
   */
  keyPrefix?: number;
}

/** A checked, not yet consumed, take of named bytes from a peer-owned pool. */
export interface Reservation {
  /** The bytes named by the allocation (a copy). Valid until commit/release. */
  readonly data: Uint8Array;
  readonly allocation: Allocation;
  /**
   * Durably mark the bytes consumed (fsync'd before the promise resolves) and zero them in the
   * store. After commit the same bytes can never be reserved or taken again, also after a crash.
   */
  commit(): Promise<void>;
  /** Give the bytes back untouched (e.g. the MAC did not verify). Zeroes `data`. */
  release(): void;
}

export interface Pool {
  readonly name: string;
  readonly owner: PoolOwner;

  /** Add a block (e.g. received out of band). Durable before the promise resolves. */
  addBlock(blockUuid: string, data: Uint8Array, options?: AddBlockOptions): Promise<void>;

  /** Accounting, without reading block data. */
  stats(): PoolStats;

  /** Per-block accounting in order of addition (metadata only, never the bytes; status views). */
  blockUsage(): BlockUsage[];

  /**
   * Owned pools only: allocate `size` bytes (a bump allocator across blocks; may span blocks).
   * The consumption is on stable storage before the promise resolves; the bytes are zeroed in the
   * store. The returned `data` is the caller's to zero after use. Throws PsrdExhaustedError when
   * the pool has fewer than `size` bytes available; nothing is consumed in that case.
   * `purpose` is recorded in the audit log.
   */
  allocate(size: number, purpose: string): Promise<{ allocation: Allocation; data: Uint8Array }>;

  /**
   * Peer-owned pools only: check that every named byte exists, is not in a key prefix, is not
   * consumed and is not reserved by another pending reservation; read it; hold it reserved.
   * Throws PsrdAllocationError otherwise. Nothing is consumed until `commit()`.
   */
  reserve(allocation: Allocation, purpose: string): Promise<Reservation>;

  /** reserve + commit in one step; returns the bytes. */
  take(allocation: Allocation, purpose: string): Promise<Uint8Array>;

  /** The key prefix of a block (see AddBlockOptions.keyPrefix); a copy. Throws if none. */
  blockKey(blockUuid: string): Promise<Uint8Array>;

  /**
   * Does the pool hold this block (durably added; UUID case-insensitive)? False for a block whose
   * addBlock has not resolved yet, and for a string that is not a known UUID. Lets an installer
   * make a re-run idempotent (skip blocks it already added). Throws PsrdClosedError once closed.
   */
  hasBlock(blockUuid: string): boolean;
}

export interface PsrdStore {
  /** Open (creating if needed) the pool with this name. The same name always gives the same pool. */
  openPool(name: string, owner: PoolOwner): Promise<Pool>;
  /** Delete a pool: its data is zeroed and removed (e.g. on unregistration). No-op if absent. */
  deletePool(name: string): Promise<void>;
  /** Names of existing pools. */
  listPools(): Promise<string[]>;
  /** Flush and close; further calls fail. */
  close(): Promise<void>;
  /** Where the store keeps its files (stores on disk only). */
  readonly dir?: string;
}
