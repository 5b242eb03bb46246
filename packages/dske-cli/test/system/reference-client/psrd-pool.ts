/**
 * PSRD bookkeeping of the reference client emulator, after the developer guide's classes (Block,
 * Pool, Fragment, Allocation), independent of @dske/psrd:
 *
 * - a Block is a hub-chosen UUID and its bytes, with one "used" flag per byte; bytes handed out are
 *   copied into the fragment and zeroed in the block;
 * - a Pool is a list of blocks with an owner: `local` (the client allocates from it: the hub calls
 *   it `client`-owned) or `peer` (the hub allocates, the client takes what the hub's metadata
 *   names: `hub`-owned);
 * - an Allocation is a list of Fragments `{block_uuid, start, size}` (the JSON form on the wire,
 *   `uuid:start:size` joined by `,` in the DSKE-Signature header).
 */

export type PoolOwner = "local" | "peer";

export interface WireFragment {
  block_uuid: string;
  start: number;
  size: number;
}

export interface Allocation {
  readonly fragments: readonly WireFragment[];
  /** The PSRD bytes of the fragments, in order: the caller's to use once and zero. */
  readonly data: Uint8Array;
}

export class PsrdError extends Error {
  override readonly name = "PsrdError";
}

class Block {
  readonly used: Uint8Array;
  usedBytes = 0;

  constructor(
    readonly uuid: string,
    readonly data: Uint8Array,
  ) {
    this.used = new Uint8Array(data.length);
  }

  get unusedBytes(): number {
    return this.data.length - this.usedBytes;
  }

  /** Copy out and zero [start, start + size), marking it used. The caller checked it is unused. */
  take(start: number, size: number): Uint8Array {
    const out = Uint8Array.from(this.data.subarray(start, start + size));
    this.data.fill(0, start, start + size);
    this.used.fill(1, start, start + size);
    this.usedBytes += size;
    return out;
  }

  isFree(start: number, size: number): boolean {
    return this.used.subarray(start, start + size).every((u) => u === 0);
  }
}

export interface PoolBlockStatus {
  uuid: string;
  size: number;
  nr_used_bytes: number;
  nr_unused_bytes: number;
}

export class Pool {
  private readonly blocks: Block[] = [];

  constructor(readonly owner: PoolOwner) {}

  /** Bytes not yet used, over all blocks. */
  get unusedBytes(): number {
    return this.blocks.reduce((sum, b) => sum + b.unusedBytes, 0);
  }

  /** Add a block received from the hub (`GET psrd`); the pool keeps `data` and zeroes it when used. */
  addBlock(uuid: string, data: Uint8Array): void {
    const id = uuid.toLowerCase();
    if (this.blocks.some((b) => b.uuid === id)) throw new PsrdError(`block ${id} is already in the ${this.owner} pool`);
    this.blocks.push(new Block(id, data));
  }

  /** Allocate `size` bytes (local pool): the first unused runs, block by block, as fragments. */
  allocate(size: number): Allocation {
    if (this.owner !== "local") throw new PsrdError("only the local pool allocates");
    if (!Number.isInteger(size) || size < 1) throw new PsrdError(`cannot allocate ${size} bytes`);
    if (this.unusedBytes < size) throw new PsrdError(`the local pool has ${this.unusedBytes} unused bytes, ${size} needed`);
    const fragments: WireFragment[] = [];
    let missing = size;
    for (const block of this.blocks) {
      let i = 0;
      while (missing > 0 && i < block.data.length) {
        if (block.used[i] !== 0) {
          i++;
          continue;
        }
        let end = i;
        while (end < block.data.length && block.used[end] === 0 && end - i < missing) end++;
        fragments.push({ block_uuid: block.uuid, start: i, size: end - i });
        missing -= end - i;
        i = end;
      }
      if (missing === 0) break;
    }
    return this.takeFragments(fragments);
  }

  /**
   * Take the bytes a hub's metadata names (peer pool: the hub allocated them). Refused, with
   * nothing taken, if a block is unknown, a range is outside its block or a byte of it was used before.
   */
  take(fragments: readonly WireFragment[]): Allocation {
    if (fragments.length === 0) throw new PsrdError("an allocation needs at least one fragment");
    const seen = new Map<string, Set<number>>();
    const named = fragments.map((f) => ({ ...f, block_uuid: f.block_uuid.toLowerCase() }));
    for (const f of named) {
      const block = this.blocks.find((b) => b.uuid === f.block_uuid);
      if (!block) throw new PsrdError(`unknown block ${f.block_uuid} in the ${this.owner} pool`);
      if (!Number.isInteger(f.start) || !Number.isInteger(f.size) || f.start < 0 || f.size < 1 || f.start + f.size > block.data.length) {
        throw new PsrdError(`fragment ${f.block_uuid}:${f.start}:${f.size} is outside its block`);
      }
      const bytes = seen.get(f.block_uuid) ?? new Set<number>();
      for (let i = f.start; i < f.start + f.size; i++) {
        if (bytes.has(i)) throw new PsrdError("fragments overlap");
        bytes.add(i);
      }
      seen.set(f.block_uuid, bytes);
      if (!block.isFree(f.start, f.size)) throw new PsrdError(`fragment ${f.block_uuid}:${f.start}:${f.size} was used before`);
    }
    return this.takeFragments(named);
  }

  private takeFragments(fragments: readonly WireFragment[]): Allocation {
    const parts = fragments.map((f) => {
      const block = this.blocks.find((b) => b.uuid === f.block_uuid);
      if (!block) throw new PsrdError(`unknown block ${f.block_uuid}`);
      return block.take(f.start, f.size);
    });
    const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      data.set(p, at);
      at += p.length;
      p.fill(0);
    }
    return { fragments: fragments.map((f) => ({ ...f })), data };
  }

  /** Forget blocks whose every byte is used (the reference deletes fully consumed blocks). */
  deleteFullyConsumedBlocks(): void {
    for (let i = this.blocks.length - 1; i >= 0; i--) if (this.blocks[i].unusedBytes === 0) this.blocks.splice(i, 1);
  }

  /** The user guide's status JSON of a pool, without the PSRD bytes. */
  status(): { blocks: PoolBlockStatus[]; owner: PoolOwner } {
    return {
      blocks: this.blocks.map((b) => ({ uuid: b.uuid, size: b.data.length, nr_used_bytes: b.usedBytes, nr_unused_bytes: b.unusedBytes })),
      owner: this.owner,
    };
  }
}

/** `uuid:start:size` joined by `,` (the allocation part of the DSKE-Signature header). */
export function allocationString(fragments: readonly WireFragment[]): string {
  return fragments.map((f) => `${f.block_uuid}:${f.start}:${f.size}`).join(",");
}

/** The inverse of allocationString; throws PsrdError on anything else. */
export function parseAllocationString(text: string): WireFragment[] {
  return text.split(",").map((part) => {
    const m = /^([0-9a-fA-F-]{36}):(\d+):(\d+)$/.exec(part);
    if (!m) throw new PsrdError(`not a fragment: ${JSON.stringify(part.slice(0, 80))}`);
    return { block_uuid: m[1].toLowerCase(), start: Number(m[2]), size: Number(m[3]) };
  });
}

/** a XOR pad (same length): the one-time pad of a share. */
export function xorPad(value: Uint8Array, pad: Uint8Array): Uint8Array {
  if (value.length !== pad.length) throw new PsrdError(`pad of ${pad.length} bytes for a value of ${value.length}`);
  return value.map((v, i) => v ^ pad[i]);
}
