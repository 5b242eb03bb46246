/**
 * ShareStore: the hub's stored shares, keyed by (master client, key ID).
 *
 * A stored value is a decrypted share: a secret. It lives in memory in a Buffer that is zeroed
 * when the share is deleted (fetched by every intended responder, timed out, or its master client
 * unregistered). Durability goes through a `JournalSink` (the hub's state journal): every mutation
 * is appended in the same synchronous step as the in-memory change, so journal order equals
 * memory order. `put` resolves once the share is written to the journal file (it survives a crash
 * of the hub process, kill -9), without waiting for its fdatasync, which follows within the
 * journal's lazySyncMs (200 ms) or with the next durable record: a power failure in that window may
 * lose the last shares of this hub, which the key tolerates (k of n hubs suffice; the client's
 * quorum counts acknowledgements, and the responder hedges to the other hubs). PSRD consumption is
 * never relaxed this way: the commit of the pads that decrypted a share (`gate`) is fdatasync'd
 * before the share is served or acknowledged (README, "Durability"). Fetch marks and deletions are
 * appended in the background (losing one in a crash only means the share can be fetched again by
 * the same client, or is swept at its unchanged expiry time). Acknowledgements (ack extension)
 * are background-durable too, for the same reason.
 */
import { timingSafeEqual } from "node:crypto";
import { z } from "zod";

export interface JournalSink {
  /** `durable: false`: resolve once written (survives a crash of the process), fdatasync'd soon after. */
  append(records: readonly unknown[], options?: { durable?: boolean }): Promise<void>;
}

export interface StoredShare {
  readonly masterClientName: string;
  readonly masterSaeId: string;
  readonly keyId: string;
  readonly shareIndex: number;
  /** Intended slave SAEs: the primary one first, then the additional ones. */
  readonly slaveSaeIds: readonly string[];
  /** The decrypted share (secret). Zeroed on delete. */
  readonly value: Buffer;
  /** Epoch ms after which the share is deleted. */
  readonly expiresAt: number;
  readonly keySize?: number;
  /** Clients that fetched the share. */
  readonly fetchedBy: Set<string>;
  /** Clients that acknowledged the share (ack extension): done with it, never served again. */
  readonly ackedBy: Set<string>;
  /** False while the share's durability (journal and PSRD commit) is pending: not served yet. */
  ready: boolean;
}

export type NewShare = Omit<StoredShare, "fetchedBy" | "ackedBy" | "ready">;

/** Journal records owned by the share store. */
export const ShareRecordSchema = z.discriminatedUnion("t", [
  z.object({
    t: z.literal("share"),
    m: z.string(),
    k: z.string(),
    s: z.string(),
    i: z.int(),
    sl: z.array(z.string()),
    v: z.base64(),
    e: z.number(),
    ks: z.int().optional(),
    f: z.array(z.string()).optional(),
    a: z.array(z.string()).optional(),
  }),
  z.object({ t: z.literal("fetch"), m: z.string(), k: z.string(), c: z.string() }),
  z.object({ t: z.literal("ack"), m: z.string(), k: z.string(), c: z.string() }),
  z.object({ t: z.literal("del"), m: z.string(), k: z.string() }),
]);
export type ShareRecord = z.infer<typeof ShareRecordSchema>;

/**
 * Fetch marks and deletions (background-durable) are held this long, or until the next durable
 * append (a put), and then written in one batch: under load many of them share one fsync.
 */
const BACKGROUND_DELAY_MS = 100;

export class ShareStore {
  /**
   * master client → key ID → share. Two levels instead of one Map keyed by a concatenation: a
   * concatenated key is a new string per lookup that V8 must flatten and hash (a measurable part
   * of the hub's CPU at thousands of shares per second); the wire's key ID strings are hashed once.
   */
  private readonly shares = new Map<string, Map<string, StoredShare>>();
  private count = 0;
  private backgroundRecords: ShareRecord[] = [];
  private backgroundTimer: NodeJS.Timeout | undefined;
  /** keyId → the share with that key ID, or the list of them (normally one: no array then). */
  private readonly byKeyId = new Map<string, StoredShare | StoredShare[]>();

  /**
   * `onDeleted` runs whenever a share whose record may be in the journal is deleted (its value
   * then lingers in the journal file until the next compaction: the hub bounds that, hub.ts).
   */
  constructor(
    private readonly journal: JournalSink | undefined,
    private readonly onBackgroundError: (err: unknown) => void = () => {},
    private readonly onDeleted: () => void = () => {},
  ) {}

  get size(): number {
    return this.count;
  }

  get(masterClientName: string, keyId: string): StoredShare | undefined {
    return this.shares.get(masterClientName)?.get(keyId);
  }

  /** Shares with this key ID (of every master). */
  withKeyId(keyId: string): readonly StoredShare[] {
    const v = this.byKeyId.get(keyId);
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  }

  list(): StoredShare[] {
    const out: StoredShare[] = [];
    for (const m of this.shares.values()) for (const s of m.values()) out.push(s);
    return out;
  }

  /**
   * Store new shares durably. They are inserted at once (so that journal order equals memory
   * order, and a compaction snapshot includes them) but are not `ready` — not served — until both
   * their journal records are on stable storage and `gate` (e.g. the commit of the PSRD that
   * decrypted them) resolved. If either fails, they are removed again and the error is thrown.
   */
  async put(newShares: readonly NewShare[], gate: Promise<void> = Promise.resolve()): Promise<void> {
    for (const s of newShares) {
      if (this.get(s.masterClientName, s.keyId)) {
        throw new Error(`share (${s.masterClientName}, ${s.keyId}) already stored`);
      }
    }
    // One object shape for every stored share (a spread of NewShare would give two, with and
    // without keySize, and make the hot paths that read them polymorphic).
    const stored: StoredShare[] = newShares.map((s) => ({
      masterClientName: s.masterClientName,
      masterSaeId: s.masterSaeId,
      keyId: s.keyId,
      shareIndex: s.shareIndex,
      slaveSaeIds: s.slaveSaeIds,
      value: s.value,
      expiresAt: s.expiresAt,
      keySize: s.keySize,
      fetchedBy: new Set<string>(),
      ackedBy: new Set<string>(),
      ready: false,
    }));
    for (const s of stored) this.insert(s);
    // Pending background records go first (journal order = memory order) and ride on this commit.
    let durable: Promise<void> = Promise.resolve();
    if (this.journal) {
      const records: ShareRecord[] = this.takeBackground();
      for (const s of stored) records.push(toRecord(s));
      durable = this.journal.append(records, { durable: false });
    }
    const [journalResult, gateResult] = await Promise.allSettled([durable, gate]);
    if (journalResult.status === "rejected" || gateResult.status === "rejected") {
      for (const s of stored) {
        if (this.get(s.masterClientName, s.keyId) === s) this.remove(s.masterClientName, s.keyId, journalResult.status === "fulfilled");
      }
      throw gateResult.status === "rejected" ? gateResult.reason : (journalResult as PromiseRejectedResult).reason;
    }
    for (const s of stored) s.ready = true;
  }

  /** Record that `clientName` fetched the share (background-durable). */
  markFetched(share: StoredShare, clientName: string): void {
    if (share.fetchedBy.has(clientName)) return;
    share.fetchedBy.add(clientName);
    this.background([{ t: "fetch", m: share.masterClientName, k: share.keyId, c: clientName }]);
  }

  /**
   * Record that `clientName` acknowledged the share (ack extension; background-durable: losing
   * the record in a crash only means the same client could fetch it again until its timeout).
   * If `done(share)` then holds (every intended responder is done), the share is deleted, and
   * only the deletion is journaled (its `del` record says more than an `ack` before it).
   */
  markAcked(share: StoredShare, clientName: string, done: (s: StoredShare) => boolean): void {
    if (share.ackedBy.has(clientName)) return;
    share.ackedBy.add(clientName);
    if (done(share)) this.delete(share.masterClientName, share.keyId);
    else this.background([{ t: "ack", m: share.masterClientName, k: share.keyId, c: clientName }]);
  }

  /** Delete and zero a share (background-durable). Returns false if it was not stored. */
  delete(masterClientName: string, keyId: string): boolean {
    return this.remove(masterClientName, keyId, true);
  }

  /** Delete every share posted by this master client. */
  deleteByMaster(masterClientName: string): number {
    let n = 0;
    for (const s of [...(this.shares.get(masterClientName)?.values() ?? [])]) {
      if (this.delete(s.masterClientName, s.keyId)) n++;
    }
    return n;
  }

  /** Delete every share whose expiry time is ≤ now. */
  sweep(now: number): number {
    let n = 0;
    for (const s of this.list()) {
      if (s.expiresAt <= now && this.delete(s.masterClientName, s.keyId)) n++;
    }
    return n;
  }

  /** Records that recreate the current state (for journal compaction). */
  snapshotRecords(): ShareRecord[] {
    return this.list().map(toRecord);
  }

  /** Apply one journal record while restoring (no journaling). */
  applyRecord(record: ShareRecord): void {
    switch (record.t) {
      case "share": {
        this.remove(record.m, record.k, false);
        this.insert({
          masterClientName: record.m,
          masterSaeId: record.s,
          keyId: record.k,
          shareIndex: record.i,
          slaveSaeIds: record.sl,
          value: Buffer.from(record.v, "base64"),
          expiresAt: record.e,
          keySize: record.ks,
          fetchedBy: new Set(record.f ?? []),
          ackedBy: new Set(record.a ?? []),
          ready: true,
        });
        return;
      }
      case "fetch":
        this.get(record.m, record.k)?.fetchedBy.add(record.c);
        return;
      case "ack":
        this.get(record.m, record.k)?.ackedBy.add(record.c);
        return;
      case "del":
        this.remove(record.m, record.k, false);
        return;
    }
  }

  /** Append the held background records now (e.g. before closing the journal). */
  flushBackground(): void {
    const records = this.takeBackground();
    if (records.length > 0 && this.journal) this.journal.append(records, { durable: false }).catch(this.onBackgroundError);
  }

  private takeBackground(): ShareRecord[] {
    if (this.backgroundTimer) clearTimeout(this.backgroundTimer);
    this.backgroundTimer = undefined;
    const records = this.backgroundRecords;
    this.backgroundRecords = [];
    return records;
  }

  /** Zero all values in memory (on close). */
  wipe(): void {
    this.takeBackground();
    for (const s of this.list()) s.value.fill(0);
    this.shares.clear();
    this.byKeyId.clear();
    this.count = 0;
  }

  private insert(s: StoredShare): void {
    let m = this.shares.get(s.masterClientName);
    if (!m) {
      m = new Map<string, StoredShare>();
      this.shares.set(s.masterClientName, m);
    }
    if (!m.has(s.keyId)) this.count++;
    m.set(s.keyId, s);
    const v = this.byKeyId.get(s.keyId);
    if (v === undefined) this.byKeyId.set(s.keyId, s);
    else if (Array.isArray(v)) v.push(s);
    else this.byKeyId.set(s.keyId, [v, s]);
  }

  private remove(masterClientName: string, keyId: string, journal: boolean): boolean {
    const m = this.shares.get(masterClientName);
    const s = m?.get(keyId);
    if (!m || !s) return false;
    m.delete(keyId);
    this.count--;
    if (m.size === 0) this.shares.delete(masterClientName);
    const v = this.byKeyId.get(keyId);
    if (v === s) this.byKeyId.delete(keyId);
    else if (Array.isArray(v)) {
      const rest = v.filter((x) => x !== s);
      if (rest.length > 1) this.byKeyId.set(keyId, rest);
      else if (rest.length === 1) this.byKeyId.set(keyId, rest[0]);
      else this.byKeyId.delete(keyId);
    }
    s.value.fill(0);
    if (journal) {
      this.background([{ t: "del", m: masterClientName, k: keyId }]);
      if (this.journal) this.onDeleted();
    }
    return true;
  }

  private background(records: ShareRecord[]): void {
    if (!this.journal) return;
    for (const r of records) this.backgroundRecords.push(r);
    if (!this.backgroundTimer) {
      this.backgroundTimer = setTimeout(() => this.flushBackground(), BACKGROUND_DELAY_MS);
      this.backgroundTimer.unref();
    }
  }
}

function toRecord(s: StoredShare): ShareRecord {
  // One object shape whatever is set (JSON.stringify leaves the undefined fields out): V8's fast
  // serialisation path stays on, and the call sites stay monomorphic.
  return {
    t: "share",
    m: s.masterClientName,
    k: s.keyId,
    s: s.masterSaeId,
    i: s.shareIndex,
    sl: [...s.slaveSaeIds],
    v: s.value.toString("base64"),
    e: s.expiresAt,
    ks: s.keySize,
    f: s.fetchedBy.size > 0 ? [...s.fetchedBy] : undefined,
    a: s.ackedBy.size > 0 ? [...s.ackedBy] : undefined,
  };
}

/** Constant-time equality of two share values. */
export function sameValue(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
