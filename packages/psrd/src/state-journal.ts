/**
 * StateJournal: a durable, append-only JSON-lines file with group commit and compaction.
 *
 * - `append(records)` resolves once the records are on stable storage (write + fdatasync).
 *   Concurrent appends are group-committed: one write and one fdatasync per batch.
 * - `rewrite(records)` replaces the whole journal with a snapshot (compaction): the snapshot is
 *   written to `<path>.tmp` and fsync'd, the old journal is kept as a hard link `<path>.old`, the
 *   snapshot is renamed over `<path>` (atomic), the directory is fsync'd, then `<path>.old` is
 *   overwritten in place with zeros, fsync'd and unlinked — so dead records (e.g. deleted share
 *   values) do not linger on disk after compaction. Appends queued behind the rewrite go on as
 *   soon as the new file is in place (they do not wait for the zeroing of the old one); the
 *   rewrite's promise resolves once the old file is zeroed and gone.
 * - `append(records, { durable: false })` resolves once the records are written to the file (the
 *   kernel's page cache: they survive a crash of the process, kill -9, but not of the machine);
 *   their fdatasync follows within `lazySyncMs` (default 200 ms), or with the next durable append,
 *   whichever comes first. For records whose loss in a power failure is tolerated (a hub's key
 *   shares: k of n hubs suffice; a client's key bookkeeping), never for PSRD consumption.
 * - `StateJournal.open` recovers: a torn last line (crash during a write) is dropped and truncated;
 *   leftovers `<path>.tmp` / `<path>.old` from an interrupted compaction are zeroed and removed
 *   (`.old` is only unlinked, not zeroed, when it is still the same file as `<path>`).
 *
 * Used by @dske/hub and @dske/client for their node state (registrations, shares, key
 * bookkeeping); the PSRD pools themselves use the binary consumption journal (journal.ts).
 *
 * Operations run strictly in call order (appends before a rewrite are written before it).
 */
import { toText } from "./coerce.js";
import { countFsync } from "./io-stats.js";
import { promises as fs, constants as fsConstants, writeSync } from "node:fs";
import path from "node:path";

type Op =
  | { kind: "append"; data: string; durable: boolean; resolve: () => void; reject: (err: unknown) => void }
  | { kind: "rewrite"; data: string; durable: true; resolve: () => void; reject: (err: unknown) => void };

/** Default StateJournal lazySyncMs: how long records appended `written` may wait for their fdatasync. */
export const DEFAULT_LAZY_SYNC_MS = 200;

export class StateJournalError extends Error {
  override readonly name = "StateJournalError";
}

export class StateJournal {
  private queue: Op[] = [];
  private running: Promise<void> | undefined;
  private broken: unknown;
  private closed = false;
  /** Bytes currently in the journal file. */
  private bytes: number;
  /** The zeroing of the previous journal file (after a rewrite), running beside later appends. */
  private retiring: Promise<void> = Promise.resolve();
  /** Records written but not yet fdatasync'd (appends with `durable: false`). */
  private unsynced = false;
  private lazyTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly path: string,
    private fd: fs.FileHandle,
    size: number,
    private readonly lazySyncMs: number,
  ) {
    this.bytes = size;
  }

  /** Open (creating if needed) the journal; returns it with the parsed records in order. */
  static async open(file: string, options: { lazySyncMs?: number } = {}): Promise<{ journal: StateJournal; records: unknown[] }> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await cleanupLeftovers(file);
    let text = "";
    try {
      text = await fs.readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    const records: unknown[] = [];
    let validLength = 0;
    let offset = 0;
    let lineNo = 0;
    while (offset < text.length) {
      const nl = text.indexOf("\n", offset);
      lineNo++;
      if (nl < 0) break; // torn last line: dropped below
      const line = text.slice(offset, nl);
      if (line.trim().length > 0) {
        try {
          records.push(JSON.parse(line) as unknown);
        } catch {
          // A complete line that is not JSON: only acceptable as the very last line (torn write
          // that happened to end at a newline is impossible, so this is real corruption).
          if (nl + 1 < text.length) {
            throw new StateJournalError(`journal ${file}: line ${lineNo} is not valid JSON; the file is corrupt`);
          }
          break;
        }
      }
      offset = nl + 1;
      validLength += Buffer.byteLength(line, "utf8") + 1;
    }
    const fd = await fs.open(file, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_APPEND, 0o600);
    const stat = await fd.stat();
    if (stat.size !== validLength) {
      await fd.truncate(validLength);
      countFsync(file);
      await fd.datasync();
    }
    await fsyncDir(path.dirname(file));
    return { journal: new StateJournal(file, fd, validLength, options.lazySyncMs ?? DEFAULT_LAZY_SYNC_MS), records };
  }

  /** Current size of the journal file in bytes. */
  get size(): number {
    return this.bytes;
  }

  /**
   * Append records (group-committed). Durable before the promise resolves, or with
   * `durable: false` written (page cache) before it resolves and fdatasync'd within lazySyncMs.
   */
  append(records: readonly unknown[], options: { durable?: boolean } = {}): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const data = records.map((r) => JSON.stringify(r) + "\n").join("");
    return this.enqueue("append", data, options.durable !== false);
  }

  /** Replace the journal's content with these records (compaction). */
  rewrite(records: readonly unknown[]): Promise<void> {
    const data = records.map((r) => JSON.stringify(r) + "\n").join("");
    return this.enqueue("rewrite", data, true);
  }

  /** Wait for pending operations, then close the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.running) await this.running;
    if (this.lazyTimer) clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    if (this.unsynced && this.broken === undefined) {
      countFsync(this.path);
      await this.fd.datasync();
      this.unsynced = false;
    }
    await this.retiring;
    await this.fd.close();
  }

  private enqueue(kind: Op["kind"], data: string, durable: boolean): Promise<void> {
    if (this.closed) return Promise.reject(new StateJournalError(`journal ${this.path} is closed`));
    if (this.broken !== undefined) {
      return Promise.reject(new StateJournalError(`journal ${this.path} failed earlier: ${toText(this.broken)}`));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push(kind === "append" ? { kind, data, durable, resolve, reject } : { kind, data, durable: true, resolve, reject });
      if (!this.running) this.running = this.run();
    });
  }

  private async run(): Promise<void> {
    // Start on the next turn of the event loop, so that every append made in this turn (e.g.
    // several records of one request, or all callers woken by the previous batch) joins the
    // first batch: one write and one fdatasync for all of them.
    await new Promise<void>((r) => setImmediate(r));
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (head.kind === "append") {
        let n = 0;
        while (n < this.queue.length && this.queue[n].kind === "append") n++;
        const batch = this.queue.splice(0, n);
        const durable = batch.some((b) => b.durable);
        await this.execute(batch, async () => {
          const buf = Buffer.from(batch.map((b) => b.data).join(""), "utf8");
          // The write goes to the page cache (synchronous, microseconds; O_APPEND); only the
          // fdatasync takes the trip through libuv's thread pool.
          for (let done = 0; done < buf.length;) done += writeSync(this.fd.fd, buf, done, buf.length - done);
          this.bytes += buf.length;
          if (durable) {
            // Also covers every earlier record written without its fdatasync.
            this.unsynced = false;
            countFsync(this.path);
            await this.fd.datasync();
          } else {
            this.unsynced = true;
            this.scheduleLazySync();
          }
        });
      } else {
        const op = this.queue.shift() as Op;
        await this.execute([], () => this.doRewrite(op.data));
        if (this.broken !== undefined) {
          op.reject(this.broken);
        } else {
          // The new file is in place: later appends go on while the old file is zeroed.
          const retired = this.retireOld();
          this.retiring = retired.catch(() => undefined);
          retired.then(op.resolve, op.reject);
        }
      }
    }
    this.running = undefined;
  }

  /** fdatasync records written without it within lazySyncMs (one sync for all of them). */
  private scheduleLazySync(): void {
    if (this.lazyTimer || this.closed) return;
    this.lazyTimer = setTimeout(() => {
      this.lazyTimer = undefined;
      if (!this.unsynced || this.broken !== undefined || this.closed) return;
      // Through the queue, so it is ordered with rewrites (which swap the file handle).
      this.enqueue("append", "", true).catch(() => undefined);
    }, this.lazySyncMs);
    this.lazyTimer.unref();
  }

  private async execute(ops: Op[], action: () => Promise<void>): Promise<void> {
    if (this.broken !== undefined) {
      for (const op of ops) op.reject(new StateJournalError(`journal ${this.path} failed earlier: ${toText(this.broken)}`));
      return;
    }
    try {
      await action();
      for (const op of ops) op.resolve();
    } catch (err) {
      this.broken = err;
      for (const op of ops) op.reject(err);
    }
  }

  private async doRewrite(data: string): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const old = `${this.path}.old`;
    const dir = path.dirname(this.path);
    // The previous rewrite's old file must be gone before this one links its own.
    await this.retiring;
    if (await exists(old)) await zeroAndUnlink(old);
    const buf = Buffer.from(data, "utf8");
    const t = await fs.open(tmp, "w", 0o600);
    try {
      await t.write(buf, 0, buf.length);
      countFsync(tmp);
      await t.datasync();
    } finally {
      await t.close();
    }
    await fs.link(this.path, old);
    await fs.rename(tmp, this.path);
    await fsyncDir(dir);
    const newFd = await fs.open(this.path, fsConstants.O_RDWR | fsConstants.O_APPEND, 0o600);
    const oldFd = this.fd;
    this.fd = newFd;
    this.bytes = buf.length;
    this.unsynced = false; // the snapshot (fsync'd above) holds every record written before it
    await oldFd.close();
  }

  /** Zero (in place, fsync'd) and unlink the journal file a rewrite replaced. */
  private async retireOld(): Promise<void> {
    await zeroAndUnlink(`${this.path}.old`);
    await fsyncDir(path.dirname(this.path));
  }
}

async function cleanupLeftovers(file: string): Promise<void> {
  const tmp = `${file}.tmp`;
  const old = `${file}.old`;
  if (await exists(tmp)) await zeroAndUnlink(tmp);
  if (await exists(old)) {
    let same: boolean;
    try {
      const [a, b] = await Promise.all([fs.stat(old), fs.stat(file)]);
      same = a.ino === b.ino && a.dev === b.dev;
    } catch {
      same = false;
    }
    if (same || !(await exists(file))) {
      // Compaction stopped before the rename: `.old` is the live journal (or its only copy).
      if (!(await exists(file))) await fs.rename(old, file);
      else await fs.unlink(old);
    } else {
      await zeroAndUnlink(old);
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}

/** Overwrite a file with zeros (fsync'd), then unlink it. */
async function zeroAndUnlink(file: string): Promise<void> {
  const fd = await fs.open(file, "r+");
  try {
    const { size } = await fd.stat();
    const chunk = Buffer.alloc(Math.min(size, 1 << 20));
    let pos = 0;
    while (pos < size) {
      const n = Math.min(chunk.length, size - pos);
      await fd.write(chunk, 0, n, pos);
      pos += n;
    }
    countFsync(file);
    await fd.datasync();
  } finally {
    await fd.close();
  }
  await fs.unlink(file);
}

async function fsyncDir(dir: string): Promise<void> {
  let fd: fs.FileHandle | undefined;
  try {
    fd = await fs.open(dir, "r");
    countFsync(dir);
    await fd.sync();
  } catch {
    // Some platforms do not allow fsync on directories; the rename is still atomic.
  } finally {
    await fd?.close();
  }
}

async function writeFileSynced(file: string, data: string): Promise<void> {
  const fh = await fs.open(file, "w", 0o600);
  try {
    await fh.writeFile(data);
    countFsync(file);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Write a JSON file atomically (tmp + fsync + rename + dir fsync). */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFileSynced(tmp, JSON.stringify(value, null, 2) + "\n");
  await fs.rename(tmp, file);
  await fsyncDir(path.dirname(file));
}

/** Read a JSON file; undefined if it does not exist. */
export async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8")) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
