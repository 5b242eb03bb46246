/**
 * Typed errors of @dske/psrd. Every error carries a stable `code` so that callers (e.g. an HTTP
 * router) can map it to a status without parsing messages. Messages never contain PSRD bytes.
 */

/** Base class of every error thrown by @dske/psrd. */
export class PsrdError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

export type PsrdAllocationErrorCode =
  /** The input is not an allocation at all (wrong JSON shape, bad header syntax). */
  | "malformed"
  /** A block UUID is not a canonical 8-4-4-4-12 hex UUID. */
  | "invalid_uuid"
  /** A start or size is not a plain non-negative decimal safe integer. */
  | "invalid_number"
  /** A fragment size is 0, or a requested size is not a positive integer. */
  | "invalid_size"
  /** The allocation has no fragments. */
  | "empty"
  /** More fragments than AllocationLimits.maxFragments. */
  | "too_many_fragments"
  /** More bytes than AllocationLimits.maxBytes. */
  | "too_many_bytes"
  /** Two fragments of the allocation name the same byte. */
  | "overlap"
  /** A fragment names a block the pool does not have. */
  | "unknown_block"
  /** A fragment reaches past the end of its block. */
  | "out_of_range"
  /** A fragment names bytes of a block's key prefix. */
  | "key_prefix"
  /** A fragment names bytes that were already consumed. */
  | "consumed"
  /** A fragment names bytes held by another pending reservation. */
  | "reserved";

/** An allocation is invalid, or cannot be reserved/taken from this pool. */
export class PsrdAllocationError extends PsrdError {
  declare readonly code: PsrdAllocationErrorCode;
  // eslint-disable-next-line @typescript-eslint/no-useless-constructor -- narrows the accepted code to PsrdAllocationErrorCode (the base takes every string)
  constructor(code: PsrdAllocationErrorCode, message: string) {
    super(code, message);
  }
}

/** The pool has fewer bytes available than requested. Nothing was consumed. */
export class PsrdExhaustedError extends PsrdError {
  declare readonly code: "exhausted";
  readonly requested: number;
  readonly available: number;
  constructor(pool: string, requested: number, available: number) {
    super("exhausted", `pool "${pool}" has ${available} bytes available, ${requested} requested`);
    this.requested = requested;
    this.available = available;
  }
}

/** An operation was called on a pool of the wrong owner (allocate on peer, reserve on local) or a pool was reopened with another owner. */
export class PsrdOwnerError extends PsrdError {
  declare readonly code: "wrong_owner";
  constructor(message: string) {
    super("wrong_owner", message);
  }
}

export type PsrdBlockErrorCode = "invalid_block" | "duplicate_block" | "unknown_block" | "no_key_prefix";

/** addBlock / blockKey failures: bad UUID, empty data, bad key prefix, duplicate, unknown block. */
export class PsrdBlockError extends PsrdError {
  declare readonly code: PsrdBlockErrorCode;
  // eslint-disable-next-line @typescript-eslint/no-useless-constructor -- narrows the accepted code to PsrdBlockErrorCode (the base takes every string)
  constructor(code: PsrdBlockErrorCode, message: string) {
    super(code, message);
  }
}

/** The store or pool was closed (or the pool deleted). */
export class PsrdClosedError extends PsrdError {
  declare readonly code: "closed";
  constructor(what: string) {
    super("closed", `${what} is closed`);
  }
}

/** A reservation was committed or released already. */
export class PsrdReservationStateError extends PsrdError {
  declare readonly code: "reservation_settled";
  constructor(message: string) {
    super("reservation_settled", message);
  }
}

/** On-disk state is unreadable (bad metadata, corrupt journal record in the middle). */
export class PsrdCorruptError extends PsrdError {
  declare readonly code: "corrupt";
  constructor(message: string) {
    super("corrupt", message);
  }
}

/** Invalid argument to a store/pool method (bad pool name, bad size, bad option). */
export class PsrdArgumentError extends PsrdError {
  declare readonly code: "invalid_argument";
  constructor(message: string) {
    super("invalid_argument", message);
  }
}

/** Another live process (or another FileStore in this process) has the store directory open. */
export class PsrdLockedError extends PsrdError {
  declare readonly code: "locked";
  constructor(message: string) {
    super("locked", message);
  }
}
