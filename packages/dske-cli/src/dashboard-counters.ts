/**
 * Counters that survive node restarts. A node's Prometheus counters start again at 0 when its
 * process restarts; the dashboard keeps, per node, an offset per counter (the values the
 * previous processes had reached) and shows raw value + offset, so that a restart never makes a
 * count go back and every panel sums the same figures.
 *
 * A restart is seen when the node's process start time changes (`process_start_time_seconds`
 * in its metrics), or, for a node that serves no start time, when one of its counters goes
 * down. Keys counted by a process after the dashboard's last poll of it and before it stopped
 * are not seen: the counts are a lower bound across restarts, exact between them.
 */

export interface NodeRestarts {
  /** When the node's current process started (ms since the epoch), if it says. */
  readonly startedAt?: number;
  /** Restarts this dashboard saw. */
  readonly restarts: number;
  /** When the latest restart seen happened (the new process' start time, else the poll time). */
  readonly restartedAt?: number;
}

interface NodeBook {
  startedAt?: number;
  restarts: number;
  restartedAt?: number;
  /** Latest raw values, per counter key. */
  readonly last: Map<string, number>;
  /** Sum of what earlier processes had counted, per counter key. */
  readonly offset: Map<string, number>;
}

export class RestartAwareCounters {
  private readonly books = new Map<string, NodeBook>();

  /**
   * One poll of node `node`: its process start time (if known) and its raw counter values.
   * Returns the accumulated value of every counter the node ever had (a counter a new process
   * has not created yet keeps its accumulated value).
   */
  observe(node: string, startedAt: number | undefined, raw: ReadonlyMap<string, number>, now: number): Map<string, number> {
    let book = this.books.get(node);
    if (book === undefined) {
      book = { startedAt, restarts: 0, last: new Map(), offset: new Map() };
      this.books.set(node, book);
    } else {
      const newProcess = startedAt !== undefined && book.startedAt !== undefined && startedAt !== book.startedAt;
      const wentDown = [...raw].some(([k, v]) => v < (book?.last.get(k) ?? 0));
      if (newProcess || wentDown) {
        for (const [k, v] of book.last) book.offset.set(k, (book.offset.get(k) ?? 0) + v);
        book.last.clear();
        book.restarts += 1;
        book.restartedAt = startedAt ?? now;
      }
      if (startedAt !== undefined) book.startedAt = startedAt;
    }
    for (const [k, v] of raw) book.last.set(k, v);
    return this.values(node);
  }

  /** The accumulated values of a node's counters (e.g. while it is down); empty if never seen. */
  values(node: string): Map<string, number> {
    const book = this.books.get(node);
    const out = new Map<string, number>();
    if (book === undefined) return out;
    for (const [k, v] of book.offset) out.set(k, v);
    for (const [k, v] of book.last) out.set(k, (out.get(k) ?? 0) + v);
    return out;
  }

  /** Whether the node's counters were observed before. */
  knows(node: string): boolean {
    return this.books.has(node);
  }

  /** What this dashboard knows about a node's restarts. */
  restarts(node: string): NodeRestarts {
    const book = this.books.get(node);
    if (book === undefined) return { restarts: 0 };
    return {
      ...(book.startedAt !== undefined ? { startedAt: book.startedAt } : {}),
      restarts: book.restarts,
      ...(book.restartedAt !== undefined ? { restartedAt: book.restartedAt } : {}),
    };
  }

  /**
   * Record only a start time (a node whose counters the dashboard does not read, e.g. a hub):
   * a changed start time counts as a restart.
   */
  observeStart(node: string, startedAt: number | undefined, now: number): void {
    this.observe(node, startedAt, new Map(), now);
  }
}
