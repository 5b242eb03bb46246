/**
 * HubState: the hub's durable state (registrations, bundle chains and staged blocks, shares) as
 * one append-only state journal (@dske/psrd's StateJournal) under `stateDir`, so a restart keeps
 * everything; without `stateDir` the state is in memory only and every write is a no-op.
 *
 * On a shared backend (PostgreSQL, state-backend.ts) the records come from the database instead,
 * and the backend compacts itself (no snapshot rewrites here).
 *
 * Compaction: the journal is rewritten with a snapshot of the live state (each part contributes
 * its records) when dead records dominate it, and at the latest `compactIntervalMs` after the
 * first share deletion no snapshot covers yet: a deleted share's value stays in the old file
 * until then, and the rewrite zeroes the old file in place (README, "Deleted shares on disk").
 */
import path from "node:path";
import { z } from "zod";
import { StateJournal } from "@dske/psrd";
import type { HubContext } from "./context.js";
import { HubError, errorMessage } from "./errors.js";
import { ProvisionRecordSchema } from "./bundle-issuer.js";
import { RegistrationRecordSchema } from "./registration.js";
import { ShareRecordSchema } from "./share-store.js";
import { isShared, type HubStateBackend } from "./state-backend.js";

export const STATE_FILE = "hub-state.jsonl";

/** Default of HubOptions.compactIntervalMs (see there and the README, "Deleted shares on disk"). */
export const DEFAULT_COMPACT_INTERVAL_MS = 5000;

const StateRecordSchema = z.union([RegistrationRecordSchema, ShareRecordSchema, ProvisionRecordSchema]);
export type StateRecord = z.infer<typeof StateRecordSchema>;

export class HubState {
  private lastSnapshotBytes = 0;
  private compacting = false;
  /** Date.now() of the oldest share deletion that no compaction snapshot covers yet. */
  private deadSince: number | undefined;
  private deadTimer: NodeJS.Timeout | undefined;
  /** Journal compactions finished since open, and the duration of the last one (diagnostics). */
  readonly compactions = { count: 0, lastMs: 0 };

  private constructor(
    private readonly ctx: HubContext,
    readonly journal: HubStateBackend | undefined,
    private readonly limits: { compactThresholdBytes: number; compactIntervalMs: number },
    /** The live state as journal records (registrations, provisioning, shares). */
    private readonly snapshot: () => unknown[],
  ) {}

  /**
   * Open the state: the shared `backend` if given, else the journal under `stateDir` (if given);
   * read its records (parsed: invalid → HubError).
   */
  static async open(
    ctx: HubContext,
    stateDir: string | undefined,
    limits: { compactThresholdBytes: number; compactIntervalMs: number },
    snapshot: () => unknown[],
    backend?: HubStateBackend,
  ): Promise<{ state: HubState; records: StateRecord[]; recordCount: number }> {
    if (!stateDir && !backend) return { state: new HubState(ctx, undefined, limits, snapshot), records: [], recordCount: 0 };
    let journal: HubStateBackend;
    let records: unknown[];
    if (isShared(backend)) {
      journal = backend;
      records = await backend.load();
    } else if (backend) {
      throw new HubError("bad_request", "a hub state backend other than the journal file must be a shared one (state-backend.ts)");
    } else {
      ({ journal, records } = await StateJournal.open(path.join(stateDir ?? ".", STATE_FILE)));
    }
    try {
      const parsed = parseStateRecords(records, "hub state journal");
      return { state: new HubState(ctx, journal, limits, snapshot), records: parsed, recordCount: records.length };
    } catch (err) {
      await journal.close();
      throw err;
    }
  }

  /** Whether replicas share this state (a shared backend: no journal file, no compaction here). */
  get shared(): boolean {
    return isShared(this.journal);
  }

  /** After the parts applied the records: rewrite the journal if it held dead records. */
  async restored(recordCount: number): Promise<void> {
    if (!this.journal || this.shared) return;
    const live = this.snapshot();
    if (recordCount > live.length) await this.journal.rewrite(live);
    this.lastSnapshotBytes = this.journal.size;
  }

  /** Append records and wait until they are on stable storage (failure → HubError `unavailable`). */
  async appendDurably(records: readonly unknown[]): Promise<void> {
    if (!this.journal) return;
    try {
      await this.journal.append(records);
    } catch (err) {
      throw new HubError("unavailable", `could not write the hub state durably: ${errorMessage(err)}`);
    }
  }

  /** Rewrite the journal when dead records dominate it (zeroes the old file; see StateJournal). */
  maybeCompact(): void {
    const j = this.journal;
    if (!j || this.shared || this.compacting || this.ctx.closed) return;
    if (j.size <= this.limits.compactThresholdBytes || j.size <= 4 * this.lastSnapshotBytes) return;
    this.compact();
  }

  /**
   * A share was deleted: its value is still in the journal file. Make sure a compaction starts
   * within compactIntervalMs of the oldest such deletion (one timer, however many deletions: at
   * thousands of deletions per second this is still one compaction per interval at most, and
   * usually none, since the size threshold compacts sooner under load).
   */
  noteDeleted(): void {
    if (!this.journal || this.shared || this.ctx.closed) return;
    this.deadSince ??= Date.now();
    this.scheduleDeadCompaction();
  }

  /** Final compaction and close (after the parts stopped changing state); `flush` writes pending background records. */
  async close(flush: () => void): Promise<void> {
    this.stopTimers();
    if (!this.journal) return;
    try {
      flush();
      if (!this.shared) await this.journal.rewrite(this.snapshot());
    } catch (err) {
      this.ctx.logger.error("final journal compaction failed", { err: errorMessage(err) });
    }
    await this.journal.close();
  }

  /** Stop the deletion timer (the hub is closing). */
  stopTimers(): void {
    if (this.deadTimer) clearTimeout(this.deadTimer);
    this.deadTimer = undefined;
  }

  private scheduleDeadCompaction(): void {
    if (this.deadTimer || this.compacting || this.ctx.closed || this.deadSince === undefined) return;
    const delay = Math.max(0, this.deadSince + this.limits.compactIntervalMs - Date.now());
    this.deadTimer = setTimeout(() => {
      this.deadTimer = undefined;
      this.compact();
    }, delay);
    this.deadTimer.unref();
  }

  /**
   * Rewrite the journal with a snapshot of the live state. The snapshot is taken (and queued
   * behind the appends already queued) synchronously, so it covers every deletion made so far;
   * the journal writes it, then zeroes the old file in place off the append path.
   */
  private compact(): void {
    const j = this.journal;
    if (!j || this.shared || this.compacting || this.ctx.closed) return;
    this.compacting = true;
    this.deadSince = undefined;
    this.stopTimers();
    const started = Date.now();
    j.rewrite(this.snapshot())
      .then(() => {
        this.lastSnapshotBytes = j.size;
        this.compactions.count++;
        this.compactions.lastMs = Date.now() - started;
      })
      .catch((err: unknown) => {
        this.ctx.logger.error("journal compaction failed", { err: errorMessage(err) });
        // Try again one interval from now (not at once: a broken journal fails at once).
        this.deadSince = Date.now();
      })
      .finally(() => {
        this.compacting = false;
        this.scheduleDeadCompaction();
      });
  }
}

/** Parse raw state records (invalid → HubError `unavailable` naming `source` and the record's number). */
export function parseStateRecords(records: readonly unknown[], source: string): StateRecord[] {
  return records.map((raw, i) => {
    const r = StateRecordSchema.safeParse(raw);
    if (!r.success) throw new HubError("unavailable", `${source}: record ${i + 1} is invalid`, r.error.issues);
    return r.data;
  });
}
