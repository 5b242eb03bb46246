/**
 * Epoch keys: a one-way ratchet kept OUTSIDE the database.
 *
 * Time is cut into epochs of `epochMs` (epoch e = floor(now / epochMs)). The chain key of epoch
 * e+1 is HMAC-SHA256(k_e, "dske-psrd ratchet"); the data key of epoch e (AES-256) is
 * HMAC-SHA256(k_e, "dske-psrd data"). Knowing k_e gives every later key and no earlier one.
 *
 * A replica keeps the chain key of its oldest retained epoch (`base`) in memory and in its key
 * file; it can derive every key from `base` on. On each tick it moves `base` to (current - 1):
 * the key of the epoch before the current one is kept (rows not yet re-encrypted), older ones are
 * erased from memory (buffers zeroed) and from the key file (rewritten atomically: temporary file,
 * fsync, rename, fsync of the directory).
 */
import { createHmac, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { PsrdKeyFileError } from "./errors.js";

const KeyFileSchema = z.object({
  version: z.literal(1),
  epoch: z.number().int().min(0),
  key: z.string().regex(/^[0-9a-f]{64}$/),
});

const hmac = (key: Uint8Array, label: string): Buffer => createHmac("sha256", key).update(label).digest();

/** k_{e+1} from k_e. */
export function ratchet(chainKey: Uint8Array): Buffer {
  return hmac(chainKey, "dske-psrd ratchet");
}

/** The value stored in the database to check that a replica's key file belongs to the store. */
export function keyCheck(chainKey: Uint8Array): Buffer {
  return hmac(chainKey, "dske-psrd key check");
}

export class KeyChain {
  readonly file: string;
  private base: number;
  private baseKey: Buffer;
  /** Derived chain keys of epochs > base (cache; zeroed when dropped). */
  private readonly chain = new Map<number, Buffer>();
  private readonly dataKeys = new Map<number, Buffer>();

  private constructor(file: string, base: number, key: Buffer) {
    this.file = file;
    this.base = base;
    this.baseKey = key;
  }

  /** Create a new key file (fails if it exists) with a fresh random chain key for `epoch`. */
  static create(file: string, epoch: number): KeyChain {
    const chain = new KeyChain(file, epoch, randomBytes(32));
    chain.write(true);
    return chain;
  }

  /** Read an existing key file: JSON {version, epoch, key}, mode 0600 (no group or other access). */
  static load(file: string): KeyChain {
    let text: string;
    try {
      const st = statSync(file);
      if ((st.mode & 0o077) !== 0) {
        throw new PsrdKeyFileError(`key file ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`);
      }
      text = readFileSync(file, "utf8");
    } catch (e) {
      if (e instanceof PsrdKeyFileError) throw e;
      throw new PsrdKeyFileError(`key file ${file} cannot be read: ${(e as Error).message}`);
    }
    let parsed: z.infer<typeof KeyFileSchema>;
    try {
      parsed = KeyFileSchema.parse(JSON.parse(text));
    } catch {
      throw new PsrdKeyFileError(`key file ${file} is not a dske-postgres key file ({"version":1,"epoch":N,"key":"64 hex digits"})`);
    }
    return new KeyChain(file, parsed.epoch, Buffer.from(parsed.key, "hex"));
  }

  /** Oldest epoch whose keys this replica still has. */
  get baseEpoch(): number {
    return this.base;
  }

  /** The chain key of epoch e (e >= baseEpoch), or undefined if erased. */
  chainKey(epoch: number): Buffer | undefined {
    if (epoch < this.base) return undefined;
    if (epoch === this.base) return this.baseKey;
    const cached = this.chain.get(epoch);
    if (cached) return cached;
    const prev = this.chainKey(epoch - 1);
    if (prev === undefined) return undefined;
    const k = ratchet(prev);
    this.chain.set(epoch, k);
    return k;
  }

  /** The AES-256 data key of epoch e, or undefined if erased. */
  dataKey(epoch: number): Buffer | undefined {
    const cached = this.dataKeys.get(epoch);
    if (cached) return cached;
    const ck = this.chainKey(epoch);
    if (ck === undefined) return undefined;
    const dk = hmac(ck, "dske-psrd data");
    this.dataKeys.set(epoch, dk);
    return dk;
  }

  /**
   * Erase every key of an epoch before `epoch` (memory and key file). A no-op when base >= epoch.
   * Returns whether something was erased.
   */
  eraseBefore(epoch: number): boolean {
    if (epoch <= this.base) return false;
    const k = this.chainKey(epoch);
    if (k === undefined) return false;
    const newBase = Buffer.from(k);
    this.baseKey.fill(0);
    for (const [e, buf] of this.chain) {
      if (e <= epoch) {
        buf.fill(0);
        this.chain.delete(e);
      }
    }
    for (const [e, buf] of this.dataKeys) {
      if (e < epoch) {
        buf.fill(0);
        this.dataKeys.delete(e);
      }
    }
    this.base = epoch;
    this.baseKey = newBase;
    this.write(false);
    return true;
  }

  /** Zero every key in memory (store closed). */
  destroy(): void {
    this.baseKey.fill(0);
    for (const b of this.chain.values()) b.fill(0);
    for (const b of this.dataKeys.values()) b.fill(0);
    this.chain.clear();
    this.dataKeys.clear();
  }

  private write(exclusive: boolean): void {
    const text = JSON.stringify({ version: 1, epoch: this.base, key: this.baseKey.toString("hex") }) + "\n";
    const dir = path.dirname(this.file);
    const target = exclusive ? this.file : `${this.file}.${process.pid}.tmp`;
    const fd = openSync(target, exclusive ? "wx" : "w", 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (!exclusive) renameSync(target, this.file);
    const dfd = openSync(dir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }
}
