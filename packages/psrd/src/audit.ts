/**
 * The audit trail: one JSON line per consumed fragment (pool, block UUID, start, size, purpose,
 * ISO time; never the bytes). Appends made in the same burst of microtasks are coalesced into
 * one write (a synchronous append to the page cache; not fsync'd: the journal is the durable
 * record of consumption, the audit log is for people).
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { PoolOwner } from "./types.js";

export const AuditRecordSchema = z.object({
  time: z.string(),
  pool: z.string(),
  owner: z.enum(["local", "peer"]),
  op: z.enum(["allocate", "take"]),
  block_uuid: z.string(),
  start: z.number().int().min(0),
  size: z.number().int().min(1),
  purpose: z.string(),
});

/** One consumed fragment, as written to the audit log. */
export type AuditRecord = z.infer<typeof AuditRecordSchema>;

export interface AuditEntryInput {
  pool: string;
  owner: PoolOwner;
  op: "allocate" | "take";
  purpose: string;
  fragments: readonly { blockUuid: string; start: number; size: number }[];
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Append-only JSON-lines audit log with coalesced writes. */
export class AuditLog {
  readonly path: string;
  private fd: number | undefined;
  private pending: string[] = [];
  private waiters: Waiter[] = [];
  private scheduled = false;
  private closed = false;

  constructor(path: string) {
    this.path = path;
  }

  /** Append the records of one consumption; resolves once written. */
  append(entry: AuditEntryInput): Promise<void> {
    if (this.closed) return Promise.resolve();
    const time = new Date().toISOString();
    for (const f of entry.fragments) {
      const rec: AuditRecord = {
        time,
        pool: entry.pool,
        owner: entry.owner,
        op: entry.op,
        block_uuid: f.blockUuid,
        start: f.start,
        size: f.size,
        purpose: entry.purpose,
      };
      this.pending.push(JSON.stringify(rec) + "\n");
    }
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the microtasks already queued (e.g. the other callers of the same journal
        // batch, woken together) have appended theirs: one write for all of them.
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const buf = Buffer.from(this.pending.join(""), "utf8");
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    try {
      this.fd ??= openSync(this.path, "a");
      for (let done = 0; done < buf.length;) done += writeSync(this.fd, buf, done, buf.length - done);
      for (const w of waiters) w.resolve();
    } catch (e) {
      for (const w of waiters) w.reject(e);
    }
  }

  /** Write what is pending and close the file. */
  close(): Promise<void> {
    // Synchronous work; a throw (closeSync) rejects the promise.
    return new Promise<void>((resolve) => {
      this.flush();
      this.closed = true;
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = undefined;
      resolve();
    });
  }
}

/**
 * Read an audit log back (for tests and operators). Lines that are not valid records (e.g. a
 * torn last line after a crash) are skipped.
 */
export async function readAuditLog(path: string): Promise<AuditRecord[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const out: AuditRecord[] = [];
  for (const line of text.split("\n")) {
    if (line.length === 0) continue;
    let value: unknown;
    try {
      value = JSON.parse(line) as unknown;
    } catch {
      continue;
    }
    const r = AuditRecordSchema.safeParse(value);
    if (r.success) out.push(r.data);
  }
  return out;
}
