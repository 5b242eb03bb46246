/**
 * Durable key bookkeeping of a client (KME). Never key values.
 *
 * - Master side: per issued key ID the master SAE, the intended slave SAEs, the size in bits, and
 *   which of those slaves already received it from this client (when a slave is hosted here).
 *   The key value itself is handed to the master SAE and forgotten (zeroed).
 * - Slave side: only "delivered" marks (master SAE, key ID, slave SAE), so that each key goes to
 *   each intended slave SAE once ("already delivered" → 400 not found, as the standard says).
 *
 * Storage: a JSON-lines journal (group commit) under the state dir, or memory only. A record is
 * written to the file before its promise resolves (it survives a crash of the client process,
 * kill -9) and fdatasync'd within the journal's lazySyncMs (200 ms): bookkeeping, not key material
 * or PSRD. A power failure in that window may forget the last issued/delivered marks: a key could
 * then be delivered a second time to the same intended slave SAE (never to another SAE: the hubs
 * release shares only to the clients of intended slaves). Keeping an fdatasync on every ETSI
 * call's path would cost more than the whole rest of a key on a fast path (issue 13).
 * Replicas of a client share a DeliveryLedger (shared-state.ts): a delivery is claimed there, all
 * marks of a request or none, so a key ID delivered through one replica is refused ("already
 * delivered") through every other; the journal then keeps only this replica's issued keys.
 * Records older than `retentionMs` (default 24 h; hubs drop shares after share_timeout_secs, so a
 * key cannot be fetched anyway after that) are pruned at open and on compaction.
 */
import { StateJournal as Journal } from "@dske/psrd";
import type { DeliveryLedger } from "./shared-state.js";

export interface IssuedKey {
  keyId: string;
  masterSae: string;
  /** Intended slave SAEs: the URL slave first, then additional_slave_SAE_IDs. */
  slaveSaes: string[];
  /** Bits. */
  size: number;
  /** Intended slaves that already received the key from this client. */
  deliveredTo: string[];
  /** ms since epoch. */
  createdAt: number;
}

export interface DeliveredMark {
  masterSae: string;
  keyId: string;
  sae: string;
}

type JournalRecord =
  | { t: "issued"; id: string; m: string; s: string[]; z: number; at: number }
  | { t: "delivered"; id: string; m: string; sae: string; at: number };

export interface KeyStoreOptions {
  /** Journal file; memory only when absent. */
  file?: string;
  /** Forget records older than this (ms). Default 24 h. */
  retentionMs?: number;
  /** Clock (tests). */
  now?: () => number;
  /** Delivered marks shared by the replicas of a client (shared-state.ts). */
  ledger?: DeliveryLedger;
}

/** A delivery claimed by another replica (or request) first: the keys are "already delivered". */
export class AlreadyDeliveredError extends Error {
  override readonly name = "AlreadyDeliveredError";
  constructor(readonly keyIds: readonly string[]) {
    super(`already delivered: ${keyIds.join(", ")}`);
  }
}

const COMPACT_MIN_BYTES = 4 * 1024 * 1024;

export class KeyStore {
  private readonly issuedById = new Map<string, IssuedKey>();
  /** mark key → time */
  private readonly delivered = new Map<string, number>();
  private readonly retentionMs: number;
  private readonly now: () => number;
  private readonly ledger: DeliveryLedger | undefined;
  private compacting: Promise<void> | undefined;
  /** Journal size from which maybeCompact looks again (see there). */
  private nextCompactCheck = 0;

  private constructor(
    private readonly journal: Journal | undefined,
    options: KeyStoreOptions,
  ) {
    this.retentionMs = options.retentionMs ?? 24 * 3600 * 1000;
    this.now = options.now ?? Date.now;
    this.ledger = options.ledger;
  }

  /** Whether delivered marks are shared with other replicas (a DeliveryLedger). */
  get shared(): boolean {
    return this.ledger !== undefined;
  }

  /** Of `keyIds`, those delivered to `sae` through another replica (the shared ledger; none without one). */
  async deliveredElsewhere(masterSae: string, keyIds: readonly string[], sae: string): Promise<Set<string>> {
    if (!this.ledger || keyIds.length === 0) return new Set();
    return this.ledger.delivered(masterSae, keyIds, sae);
  }

  static async open(options: KeyStoreOptions = {}): Promise<KeyStore> {
    if (!options.file) return new KeyStore(undefined, options);
    const { journal, records } = await Journal.open(options.file);
    const store = new KeyStore(journal, options);
    for (const r of records) store.apply(r as JournalRecord);
    store.prune();
    await journal.rewrite(store.snapshot());
    return store;
  }

  private static markKey(masterSae: string, keyId: string, sae: string): string {
    return `${masterSae}\u0000${keyId}\u0000${sae}`;
  }

  private apply(r: JournalRecord): void {
    // Records come from disk: a record of another kind is ignored.
    switch (r.t) {
      case "issued": {
        this.issuedById.set(r.id, {
          keyId: r.id,
          masterSae: r.m,
          slaveSaes: r.s,
          size: r.z,
          deliveredTo: [],
          createdAt: r.at,
        });
        break;
      }
      case "delivered": {
        this.delivered.set(KeyStore.markKey(r.m, r.id, r.sae), r.at);
        const issued = this.issuedById.get(r.id);
        if (issued && issued.masterSae === r.m && !issued.deliveredTo.includes(r.sae)) issued.deliveredTo.push(r.sae);
        break;
      }
    }
  }

  private prune(): void {
    const cutoff = this.now() - this.retentionMs;
    for (const [id, k] of this.issuedById) if (k.createdAt < cutoff) this.issuedById.delete(id);
    for (const [key, at] of this.delivered) if (at < cutoff) this.delivered.delete(key);
  }

  private snapshot(): JournalRecord[] {
    const out: JournalRecord[] = [];
    for (const k of this.issuedById.values()) {
      out.push({ t: "issued", id: k.keyId, m: k.masterSae, s: k.slaveSaes, z: k.size, at: k.createdAt });
    }
    for (const [key, at] of this.delivered) {
      const [m, id, sae] = key.split("\u0000");
      out.push({ t: "delivered", id, m, sae, at });
    }
    return out;
  }

  /** Record issued keys (written before the promise resolves; fdatasync'd soon after, see above). */
  async recordIssued(keys: readonly Omit<IssuedKey, "deliveredTo" | "createdAt">[]): Promise<void> {
    const at = this.now();
    const records: JournalRecord[] = keys.map((k) => ({
      t: "issued",
      id: k.keyId,
      m: k.masterSae,
      s: [...k.slaveSaes],
      z: k.size,
      at,
    }));
    // Applied first so that a concurrent compaction snapshot includes them (a failed append
    // leaves them in memory only: the caller's request fails, and the marks err on the safe side).
    for (const r of records) this.apply(r);
    await this.journal?.append(records, { durable: false });
    this.maybeCompact();
  }

  /** The issued key with this ID, if this client issued it (and still remembers it). */
  issued(keyId: string): IssuedKey | undefined {
    return this.issuedById.get(keyId);
  }

  isDelivered(masterSae: string, keyId: string, sae: string): boolean {
    return this.delivered.has(KeyStore.markKey(masterSae, keyId, sae));
  }

  /** Mark keys delivered (written before the promise resolves; fdatasync'd soon after, see above). */
  async markDelivered(marks: readonly DeliveredMark[]): Promise<void> {
    if (this.ledger) {
      // The shared ledger decides: all marks of the request, or none when one was claimed first.
      const taken = await this.ledger.claim(marks);
      if (taken.length > 0) {
        for (const m of taken) this.delivered.set(KeyStore.markKey(m.masterSae, m.keyId, m.sae), this.now());
        throw new AlreadyDeliveredError(taken.map((m) => m.keyId));
      }
    }
    const at = this.now();
    const records: JournalRecord[] = marks.map((m) => ({ t: "delivered", id: m.keyId, m: m.masterSae, sae: m.sae, at }));
    // Applied first so that a concurrent compaction snapshot includes them (a failed append
    // leaves them in memory only: the caller's request fails, and the marks err on the safe side).
    for (const r of records) this.apply(r);
    await this.journal?.append(records, { durable: false });
    this.maybeCompact();
  }

  counts(): { issued: number; delivered: number } {
    return { issued: this.issuedById.size, delivered: this.delivered.size };
  }

  private maybeCompact(): void {
    if (!this.journal || this.compacting || this.journal.size < COMPACT_MIN_BYTES) return;
    // prune() walks every record in memory: check again only after the journal grew by a
    // quarter (not on every request once it passed COMPACT_MIN_BYTES).
    if (this.journal.size < this.nextCompactCheck) return;
    this.nextCompactCheck = this.journal.size + Math.max(COMPACT_MIN_BYTES / 4, this.journal.size / 4);
    this.prune();
    const live = this.issuedById.size + this.delivered.size;
    // Compact when the journal is mostly dead records (or records past retention).
    if (this.journal.size < live * 400) return;
    const journal = this.journal;
    this.compacting = journal
      .rewrite(this.snapshot())
      .catch(() => undefined)
      .finally(() => {
        this.compacting = undefined;
      });
  }

  async close(): Promise<void> {
    if (this.compacting) await this.compacting;
    await this.journal?.close();
    await this.ledger?.close();
  }
}
