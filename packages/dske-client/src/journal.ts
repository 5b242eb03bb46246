/**
 * A small durable append-only JSON-lines journal with group commit, plus an atomic JSON file.
 *
 * - `append(records)` resolves once the lines are written and fdatasync'd. Concurrent appends are
 *   group-committed (one write + one fdatasync per batch).
 * - `rewrite(records)` compacts: snapshot to `<path>.tmp`, fsync, rename over `<path>`, fsync dir.
 * - `open` drops a torn last line (crash during a write).
 */
import { promises as fs } from "node:fs";
import path from "node:path";

interface Pending {
  data: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class Journal {
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    private fh: fs.FileHandle,
    /** Bytes in the file (for compaction decisions). */
    public bytes: number,
  ) {}

  static async open(file: string): Promise<{ journal: Journal; records: unknown[] }> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.rm(`${file}.tmp`, { force: true });
    let text = "";
    try {
      text = await fs.readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    const records: unknown[] = [];
    let valid = 0;
    let offset = 0;
    while (offset < text.length) {
      const nl = text.indexOf("\n", offset);
      if (nl < 0) break; // torn last line
      const line = text.slice(offset, nl);
      try {
        if (line.trim().length > 0) records.push(JSON.parse(line) as unknown);
      } catch {
        break; // corrupt tail: stop here
      }
      offset = nl + 1;
      valid = Buffer.byteLength(text.slice(0, offset));
    }
    const fh = await fs.open(file, "a+");
    const stat = await fh.stat();
    if (stat.size !== valid) {
      await fh.truncate(valid);
      await fh.datasync();
    }
    return { journal: new Journal(file, fh, valid), records };
  }

  append(records: readonly unknown[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`journal ${this.file} is closed`));
    if (records.length === 0) return Promise.resolve();
    const data = records.map((r) => JSON.stringify(r) + "\n").join("");
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ data, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.flushing) return;
    this.flushing = (async () => {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        const data = batch.map((p) => p.data).join("");
        const run = this.chain.then(async () => {
          await this.fh.write(data);
          await this.fh.datasync();
          this.bytes += Buffer.byteLength(data);
        });
        this.chain = run.catch(() => undefined);
        try {
          await run;
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    })().finally(() => {
      this.flushing = undefined;
      if (this.pending.length > 0) this.kick();
    });
  }

  /** Replace the journal with a snapshot (atomic). */
  async rewrite(records: readonly unknown[]): Promise<void> {
    const data = records.map((r) => JSON.stringify(r) + "\n").join("");
    const run = this.chain.then(async () => {
      const tmp = `${this.file}.tmp`;
      await writeFileSynced(tmp, data);
      await fs.rename(tmp, this.file);
      await syncDir(path.dirname(this.file));
      await this.fh.close();
      this.fh = await fs.open(this.file, "a+");
      this.bytes = Buffer.byteLength(data);
    });
    this.chain = run.catch(() => undefined);
    await run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing) await this.flushing;
    await this.chain;
    this.closed = true;
    await this.fh.close();
  }
}

async function writeFileSynced(file: string, data: string): Promise<void> {
  const fh = await fs.open(file, "w", 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const dh = await fs.open(dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // some platforms cannot fsync a directory; the rename is still atomic
  }
}

/** Write a JSON file atomically (tmp + fsync + rename + dir fsync). */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFileSynced(tmp, JSON.stringify(value, null, 2) + "\n");
  await fs.rename(tmp, file);
  await syncDir(path.dirname(file));
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
