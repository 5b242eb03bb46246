/**
 * The file format of a pool's consumption journal (journal.ts): fixed-size, checksummed records
 * (block index, start, size, flags), their replay after a crash (a torn tail is skipped), the
 * atomic rewrite used by compaction, and the small file helpers the on-disk store shares.
 */
import { crc32 } from "node:zlib";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { countFsync } from "./io-stats.js";

export const RECORD_SIZE = 32;
const MAGIC = 0x4a445350; // "PSDJ" little-endian
export const FLAG_ZEROED = 1;

/** One journal record: bytes [start, start+size) of block `block` are consumed. */
export interface JournalRecord {
  block: number;
  start: number;
  size: number;
  flags: number;
}

export function encodeRecord(rec: JournalRecord, buf: Buffer, offset: number): void {
  buf.writeUInt32LE(MAGIC, offset);
  buf.writeUInt32LE(rec.block, offset + 4);
  buf.writeUInt32LE(rec.start % 0x100000000, offset + 8);
  buf.writeUInt32LE(Math.floor(rec.start / 0x100000000), offset + 12);
  buf.writeUInt32LE(rec.size % 0x100000000, offset + 16);
  buf.writeUInt32LE(Math.floor(rec.size / 0x100000000), offset + 20);
  buf.writeUInt32LE(rec.flags, offset + 24);
  buf.writeUInt32LE(crc32(buf.subarray(offset, offset + 28)), offset + 28);
}

/** Decode one record; undefined if the magic or checksum is wrong (torn or garbage). */
export function decodeRecord(buf: Buffer, offset: number): JournalRecord | undefined {
  if (buf.readUInt32LE(offset) !== MAGIC) return undefined;
  if (crc32(buf.subarray(offset, offset + 28)) !== buf.readUInt32LE(offset + 28)) return undefined;
  return {
    block: buf.readUInt32LE(offset + 4),
    start: buf.readUInt32LE(offset + 8) + buf.readUInt32LE(offset + 12) * 0x100000000,
    size: buf.readUInt32LE(offset + 16) + buf.readUInt32LE(offset + 20) * 0x100000000,
    flags: buf.readUInt32LE(offset + 24),
  };
}

export interface ReplayResult {
  /** Valid records seen. */
  records: number;
  /** Invalid records, a gap before a valid record, or a partial trailing record were found (a torn write at a crash). */
  torn: boolean;
  /** Byte offset just after the last valid record: where appending continues. */
  end: number;
}

function isZeroRecord(buf: Buffer, offset: number): boolean {
  for (let i = offset; i < offset + RECORD_SIZE; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Read a journal in fixed-size chunks (memory does not grow with the journal) and call `visit`
 * for every valid record. All-zero records are preallocated space. Invalid records (and zero
 * records before a valid one) can only come from the last, un-acknowledged batches before a
 * crash (acknowledged batches were fsync'd, in order), so they are skipped and `torn` is set;
 * the caller then rewrites the journal. Valid records are always applied: applying a record of
 * an un-acknowledged batch only burns bytes that were never handed out.
 */
export async function replayJournal(path: string, visit: (rec: JournalRecord) => void): Promise<ReplayResult> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { records: 0, torn: false, end: 0 };
    throw e;
  }
  const result: ReplayResult = { records: 0, torn: false, end: 0 };
  let gap = false;
  try {
    // Only the bytes read are looked at: no need to zero the buffer first.
    const chunk = Buffer.allocUnsafe(RECORD_SIZE * 4096);
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
      if (bytesRead === 0) break;
      const whole = bytesRead - (bytesRead % RECORD_SIZE);
      for (let off = 0; off < whole; off += RECORD_SIZE) {
        if (isZeroRecord(chunk, off)) {
          gap = true;
          continue;
        }
        const rec = decodeRecord(chunk, off);
        if (rec) {
          if (gap) result.torn = true;
          result.records++;
          result.end = pos + off + RECORD_SIZE;
          visit(rec);
        } else {
          result.torn = true;
        }
      }
      pos += whole;
      if (whole < bytesRead || bytesRead < chunk.length) {
        for (let i = whole; i < bytesRead; i++) if (chunk[i] !== 0) result.torn = true;
        break;
      }
    }
  } finally {
    await fh.close();
  }
  return result;
}

/** Write a complete journal file atomically: tmp file, fsync, rename over `path`, fsync dir. */
export async function writeJournalAtomically(path: string, dir: string, records: Iterable<JournalRecord>): Promise<number> {
  const tmp = path + ".tmp";
  const fh = await open(tmp, "w");
  let count = 0;
  try {
    const buf = Buffer.alloc(RECORD_SIZE * 4096);
    let fill = 0;
    let pos = 0;
    for (const rec of records) {
      encodeRecord(rec, buf, fill);
      fill += RECORD_SIZE;
      count++;
      if (fill === buf.length) {
        await writeFully(fh, buf, fill, pos);
        pos += fill;
        fill = 0;
      }
    }
    if (fill > 0) await writeFully(fh, buf, fill, pos);
    countFsync(path);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dir);
  return count;
}

export async function writeFully(fh: FileHandle, buf: Uint8Array, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await fh.write(buf, done, length - done, position + done);
    done += bytesWritten;
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    countFsync(dir);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Remove a file if it is there. `unlink`, not `rm({force})`: rm validates its options with an
 * lstat and walks the path as a tree (two more calls per file); opening a pool removes two
 * leftover names that are almost never there.
 */
export async function removeIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
