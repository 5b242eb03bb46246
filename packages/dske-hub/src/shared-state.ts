/**
 * SharedState: how a replica of a hub sees what the other replicas of that hub wrote to their
 * shared backend (state-backend.ts): a read barrier.
 *
 * Before a replica serves a request, `barrier()` resolves once it applied every record the
 * backend held when the request arrived: a share posted through replica A, a registration or a
 * block confirmation done through A, fetch marks, acknowledgements and deletions are seen by
 * replica B for every request that reaches B after A answered. Concurrent requests share one
 * sync: a sync that started after a request arrived serves it, so under load there is at most one
 * round trip to the database in flight per replica, plus one queued behind it.
 *
 * Fetch marks, acknowledgements and deletions are background-durable (share-store.ts): they reach
 * the backend within 100 ms, so another replica may serve a share for up to that long after it
 * was deleted elsewhere (only to a client that may fetch it anyway).
 */
import type { BundleIssuer } from "./bundle-issuer.js";
import type { HubContext } from "./context.js";
import { errorMessage, HubError } from "./errors.js";
import { parseStateRecords, type StateRecord } from "./hub-state.js";
import type { Registry } from "./registration.js";
import type { ShareStore } from "./share-store.js";
import type { SharedStateBackend } from "./state-backend.js";

export class SharedState {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private poll: NodeJS.Timeout | undefined;
  /** Records applied from other replicas since open (diagnostics). */
  applied = 0;

  constructor(
    private readonly ctx: HubContext,
    private readonly backend: SharedStateBackend,
    private readonly parts: { registry: Registry; issuer: BundleIssuer; shares: ShareStore },
  ) {}

  /**
   * Also sync every `intervalMs` while idle, so that an idle replica's memory follows the others
   * (deletions reach it within that time, not only at its next request).
   */
  startPolling(intervalMs: number): void {
    this.poll = setInterval(() => {
      if (!this.ctx.closed)
        this.barrier().catch((err: unknown) => this.ctx.logger.warn("shared state sync failed", { error: errorMessage(err) }));
    }, intervalMs);
    this.poll.unref();
  }

  stopPolling(): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
  }

  get description(): string {
    return this.backend.description;
  }

  /** Resolves once every record another replica wrote before this call is applied here (failure → HubError `unavailable`). */
  barrier(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) return this.start();
    const after = this.running.then(
      () => undefined,
      () => undefined,
    );
    this.queued = after.then(() => {
      this.queued = undefined;
      return this.start();
    });
    return this.queued;
  }

  private start(): Promise<void> {
    const run = this.sync().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  private async sync(): Promise<void> {
    let raw: unknown[];
    try {
      raw = await this.backend.sync();
    } catch (err) {
      throw new HubError(
        "unavailable",
        `hub ${this.ctx.name}: its shared state (${this.backend.description}) cannot be read: ${errorMessage(err)}`,
      );
    }
    if (raw.length === 0) return;
    await this.apply(parseStateRecords(raw, `shared state of hub ${this.ctx.name}`));
  }

  /** Apply records of other replicas in order (registrations under the registry's lock). */
  private async apply(records: readonly StateRecord[]): Promise<void> {
    const { registry, issuer, shares } = this.parts;
    const needsLock = records.some((r) => r.t === "reg" || r.t === "unreg");
    const run = async () => {
      for (const r of records) {
        if (r.t === "reg" || r.t === "unreg") await registry.applyShared(r);
        else if (r.t === "chain" || r.t === "stg" || r.t === "act") issuer.applyRecord(r);
        else shares.applyRecord(r);
        this.applied++;
      }
    };
    if (needsLock) await registry.exclusive(run);
    else await run();
  }
}
