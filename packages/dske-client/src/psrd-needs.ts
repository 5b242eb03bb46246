/**
 * PSRD needs: how a client asks for PSRD when it is delivered out of band.
 *
 * A client cannot fetch PSRD itself (that would be network delivery); its replenishment logic
 * (replenishment.ts) states what each pool of each hub needs, and the local distributor (which holds
 * the operator credential) reads the needs from the client's management API (long poll), has the
 * hub issue a bundle, carries it to the client and installs it. Here:
 *
 * - `HubNeeds`: the needs of one hub's two pools. A need is reported to the distributor once
 *   (then it is its job) and again only if it grows, or after NEED_TTL_MS without an install
 *   (the distributor may have died). An install lowers it and wakes the waiters.
 * - `NeedBoard`: all hubs of a client; `wait` is the long poll.
 */
import type { PoolKind } from "./replenishment.js";

/** A reported need not met by an install within this time is reported again (the distributor failed or died). */
export const NEED_TTL_MS = 3_000;

export interface PsrdNeed {
  hub_name: string;
  /** Usable bytes (MAC key prefixes not counted) the client-owned pool needs. */
  client_owned_bytes: number;
  /** Usable bytes the hub-owned pool needs. */
  hub_owned_bytes: number;
}

interface Entry {
  bytes: number;
  /** When it was last handed to the distributor (0 = not yet). */
  reportedAt: number;
}

export class HubNeeds {
  get name(): string {
    return this.hubName();
  }

  private readonly entries: Record<PoolKind, Entry> = { local: { bytes: 0, reportedAt: 0 }, peer: { bytes: 0, reportedAt: 0 } };
  private waiters: (() => void)[] = [];

  constructor(
    private readonly hubName: () => string,
    private readonly onNeed: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** The pool `kind` needs `bytes` more (replaces a smaller or stale need). */
  request(kind: PoolKind, bytes: number): void {
    const e = this.entries[kind];
    const stale = e.reportedAt > 0 && this.now() - e.reportedAt >= NEED_TTL_MS;
    if (bytes > e.bytes || stale) {
      this.entries[kind] = { bytes: Math.max(bytes, stale ? 0 : e.bytes), reportedAt: 0 };
      this.onNeed();
    }
  }

  /** Needs not yet handed to the distributor (or stale), marked as handed over. */
  take(): PsrdNeed | undefined {
    const now = this.now();
    const due = (e: Entry) => e.bytes > 0 && (e.reportedAt === 0 || now - e.reportedAt >= NEED_TTL_MS);
    const local = this.entries.local;
    const peer = this.entries.peer;
    if (!due(local) && !due(peer)) return undefined;
    const need: PsrdNeed = {
      hub_name: this.hubName(),
      client_owned_bytes: due(local) ? local.bytes : 0,
      hub_owned_bytes: due(peer) ? peer.bytes : 0,
    };
    if (due(local)) local.reportedAt = now;
    if (due(peer)) peer.reportedAt = now;
    return need;
  }

  /** Whether a need waits to be handed over. */
  get due(): boolean {
    const now = this.now();
    return (["local", "peer"] as const).some((k) => {
      const e = this.entries[k];
      return e.bytes > 0 && (e.reportedAt === 0 || now - e.reportedAt >= NEED_TTL_MS);
    });
  }

  /** What is still asked for (status). */
  pending(): { client_owned_bytes: number; hub_owned_bytes: number } {
    return { client_owned_bytes: this.entries.local.bytes, hub_owned_bytes: this.entries.peer.bytes };
  }

  /**
   * A bundle from this hub was installed (`bytes` added to pool `kind`, 0 to the other): lower the
   * need, wake whoever waits for PSRD. What is still needed is reported again at the distributor's
   * next poll (it polls again when its job for this hub ends; a need it saw while that job ran was
   * not acted on).
   */
  installed(kind: PoolKind, bytes: number): void {
    const e = this.entries[kind];
    e.bytes = Math.max(0, e.bytes - bytes);
    e.reportedAt = 0;
    if (e.bytes > 0) this.onNeed();
    this.wake();
  }

  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves true at the next install (or wake), false after `timeoutMs` or on abort. */
  waitForInstall(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal?.aborted) {
        resolve(false);
        return;
      }
      let done = false;
      const finish = (v: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve(v);
      };
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      timer.unref();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(() => finish(true));
    });
  }
}

/** The needs of all hubs of one client, with the distributor's long poll. */
export class NeedBoard {
  private listeners: (() => void)[] = [];
  private readonly hubs: HubNeeds[] = [];

  add(hub: HubNeeds): void {
    this.hubs.push(hub);
  }

  /** Called by a HubNeeds when a need appears. */
  notify(): void {
    const l = this.listeners;
    this.listeners = [];
    for (const f of l) f();
  }

  /** Needs due now (of hub `hubName` only, if given); if none, waits up to `waitMs` for one. Each need is handed over once. */
  async wait(waitMs: number, signal?: AbortSignal, hubName?: string): Promise<PsrdNeed[]> {
    const until = Date.now() + waitMs;
    const hubs = () => (hubName === undefined ? this.hubs : this.hubs.filter((h) => h.name === hubName));
    for (;;) {
      const needs = hubs()
        .map((h) => h.take())
        .filter((n): n is PsrdNeed => n !== undefined);
      const left = until - Date.now();
      if (needs.length > 0 || left <= 0 || signal?.aborted) return needs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, NEED_TTL_MS));
        timer.unref();
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          resolve();
        }
        signal?.addEventListener("abort", done, { once: true });
        this.listeners.push(done);
      });
    }
  }
}
