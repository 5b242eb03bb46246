/**
 * Coalescer: merges concurrent requests to one hub into one batch message ("natural batching").
 *
 * A request is sent at once while fewer than `maxInFlight` batches are in flight (so a lone
 * caller waits for nothing); otherwise it queues, and when a batch completes everything queued
 * (that may share a message) goes out as the next batch. Under load this turns N concurrent
 * ETSI requests into one signed hub message each way, which saves N-1 MAC tags of PSRD and
 * N-1 HTTP exchanges, signature checks and journal commits on both sides.
 *
 * Entries join a batch only if they have the same `group` and none of their `conflicts` keys is
 * already in the batch (e.g. the same key ID twice, which the hub refuses in one batch); those
 * wait for a later batch. A batch's failure rejects every entry in it (each caller then handles
 * its hub failure as before); its results are split back per entry by `run`.
 */
export interface CoalescerOptions<T, R> {
  /** Send one batch: returns one result per entry (same order), or throws (all entries fail). */
  run: (entries: T[]) => Promise<R[]>;
  /** Entries of different groups never share a batch. */
  group: (entry: T) => string;
  /** Keys that may appear at most once in a batch. */
  conflicts: (entry: T) => Iterable<string>;
  /** Batches in flight at once (default 1). */
  maxInFlight?: number;
}

interface Pending<T, R> {
  entry: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class Coalescer<T, R> {
  private pending: Pending<T, R>[] = [];
  private inFlight = 0;
  private readonly maxInFlight: number;
  /** Batches sent and entries carried (diagnostics, tests). */
  batches = 0;
  entries = 0;

  constructor(private readonly options: CoalescerOptions<T, R>) {
    this.maxInFlight = options.maxInFlight ?? 1;
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) throw new RangeError("maxInFlight must be an integer >= 1");
  }

  submit(entry: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.pending.length > 0) {
      const batch: Pending<T, R>[] = [];
      const rest: Pending<T, R>[] = [];
      const keys = new Set<string>();
      let group: string | undefined;
      for (const p of this.pending) {
        const g = this.options.group(p.entry);
        const ks = [...this.options.conflicts(p.entry)];
        if ((group === undefined || g === group) && ks.every((k) => !keys.has(k))) {
          group = g;
          for (const k of ks) keys.add(k);
          batch.push(p);
        } else {
          rest.push(p);
        }
      }
      this.pending = rest;
      this.inFlight++;
      this.batches++;
      this.entries += batch.length;
      // An async wrapper turns a synchronous throw of run() into a rejection.
      const run = (async () => await this.options.run(batch.map((p) => p.entry)))();
      run
        .then(
          (results) => {
            if (results.length !== batch.length)
              throw new Error(`coalesced batch returned ${results.length} results for ${batch.length} entries`);
            batch.forEach((p, i) => p.resolve(results[i]));
          },
          (err: unknown) => {
            for (const p of batch) p.reject(err);
          },
        )
        .catch((err: unknown) => {
          for (const p of batch) p.reject(err);
        })
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
