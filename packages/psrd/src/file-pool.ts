/**
 * One pool of a FileStore on disk: its metadata file (meta.json, validated with zod), its data
 * file (blocks at their offsets, positioned reads and writes, zeroing of consumed ranges) and its
 * consumption journal, behind the PoolBackend interface PsrdPool runs on. FileStore (file-store.ts)
 * opens, recovers and deletes pools; this file is what one open pool does.
 */
import { readSync, writeSync } from "node:fs";
import { open, rename, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { BlockMeta } from "./block.js";
import { PsrdCorruptError } from "./errors.js";
import { countFsync } from "./io-stats.js";
import { Journal, fsyncDir, writeFully, type JournalRecord } from "./journal.js";
import type { BlockRange, PoolBackend } from "./pool.js";

export const MetaSchema = z.object({
  version: z.literal(1),
  name: z.string(),
  owner: z.enum(["local", "peer"]),
  blocks: z.array(
    z.object({
      uuid: z.string(),
      size: z.number().int().positive(),
      keyPrefix: z.number().int().min(0),
      offset: z.number().int().min(0),
    }),
  ),
});
export type Meta = z.infer<typeof MetaSchema>;

const ZERO_CHUNK = 1024 * 1024;
/**
 * Reads and zero-writes up to this size are done with synchronous positioned syscalls: they hit
 * the page cache and take microseconds, far less than a trip through libuv's 4-thread pool, where
 * they would also queue in front of the journal's fdatasync. Larger ones stay asynchronous.
 */
const SYNC_IO_LIMIT = 256 * 1024;
let zeroBuffer: Buffer | undefined;
function zeros(): Buffer {
  zeroBuffer ??= Buffer.alloc(ZERO_CHUNK);
  return zeroBuffer;
}

/** Overwrite [offset, offset+length) ranges of a file with zeros (coalescing adjacent ranges). */
export async function zeroFileRanges(fh: FileHandle, ranges: [number, number][]): Promise<void> {
  ranges.sort((a, b) => a[0] - b[0]);
  let k = 0;
  while (k < ranges.length) {
    const s = ranges[k][0];
    let e = ranges[k][1];
    k++;
    while (k < ranges.length && ranges[k][0] <= e) {
      e = Math.max(e, ranges[k][1]);
      k++;
    }
    for (let pos = s; pos < e; pos += ZERO_CHUNK) {
      const n = Math.min(ZERO_CHUNK, e - pos);
      if (n <= SYNC_IO_LIMIT) {
        for (let done = 0; done < n;) done += writeSync(fh.fd, zeros(), done, n - done, pos + done);
      } else {
        await writeFully(fh, zeros(), n, pos);
      }
    }
  }
}

export async function writeFileAtomically(path: string, dir: string, text: string): Promise<void> {
  const tmp = path + ".tmp";
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(text);
    countFsync(tmp);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dir);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}

export class FilePoolBackend implements PoolBackend {
  journal!: Journal;

  constructor(
    private readonly dir: string,
    private readonly meta: Meta,
    private readonly data: FileHandle,
    /**
     * Set while the pool has no meta.json yet (created empty, nothing synced): its first block
     * also makes the pool's directory entry durable by syncing this (the store's pools directory).
     */
    private poolsDirToSync?: string,
  ) {}

  private dataEnd(): number {
    const last = this.meta.blocks.at(-1);
    return last ? last.offset + last.size : 0;
  }

  offsetOf(blockIndex: number): number {
    return this.meta.blocks[blockIndex].offset;
  }

  async persistBlock(block: BlockMeta, data: Uint8Array): Promise<void> {
    const offset = this.dataEnd();
    await writeFully(this.data, data, data.length, offset);
    countFsync(this.dir);
    await this.data.datasync();
    const next: Meta = {
      ...this.meta,
      blocks: [...this.meta.blocks, { uuid: block.uuid, size: block.size, keyPrefix: block.keyPrefix, offset }],
    };
    await writeFileAtomically(join(this.dir, "meta.json"), this.dir, JSON.stringify(next));
    if (this.poolsDirToSync !== undefined) {
      await fsyncDir(this.poolsDirToSync);
      this.poolsDirToSync = undefined;
    }
    this.meta.blocks.push(next.blocks[next.blocks.length - 1]);
    this.journal.addBlock();
  }

  async read(ranges: readonly BlockRange[], target: Uint8Array): Promise<void> {
    let off = 0;
    for (const r of ranges) {
      const base = this.offsetOf(r.block.index) + r.start;
      let done = 0;
      while (done < r.size) {
        const bytesRead =
          r.size <= SYNC_IO_LIMIT
            ? readSync(this.data.fd, target, off + done, r.size - done, base + done)
            : (await this.data.read(target, off + done, r.size - done, base + done)).bytesRead;
        if (bytesRead === 0) throw new PsrdCorruptError(`data file of pool ends before block ${r.block.uuid} byte ${r.start + done}`);
        done += bytesRead;
      }
      off += r.size;
    }
  }

  consume(ranges: readonly BlockRange[]): Promise<void> {
    return this.journal.append(ranges.map((r) => ({ block: r.block.index, start: r.start, size: r.size, flags: 0 })));
  }

  zero(records: readonly JournalRecord[]): Promise<void> {
    return zeroFileRanges(
      this.data,
      records.map((r) => {
        const o = this.offsetOf(r.block) + r.start;
        return [o, o + r.size];
      }),
    );
  }

  syncData(): Promise<void> {
    countFsync(this.dir);
    return this.data.datasync();
  }

  /**
   * Close. `giveBack`: consumed ranges never handed out (an allocation lease's rest, lease.ts), with
   * their bytes. Once every earlier zeroing is done they are written back to the data file and
   * left out of the journal's final compaction (which fdatasyncs the data file first): a crash
   * before the new journal is in place leaves them consumed (burned), never handed out twice.
   */
  async close(giveBack: readonly { range: BlockRange; data: Uint8Array }[] = []): Promise<void> {
    await this.journal.close(
      giveBack.length === 0
        ? undefined
        : (written) => {
            for (const { range, data } of giveBack) {
              const base = this.offsetOf(range.block.index) + range.start;
              for (let done = 0; done < data.length;) done += writeSync(this.data.fd, data, done, data.length - done, base + done);
              written[range.block.index].remove(range.start, range.start + range.size);
            }
          },
    );
    for (const { data } of giveBack) data.fill(0);
    await this.data.close();
  }
}
