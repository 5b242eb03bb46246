/**
 * Sparkline histories: per series (a pair's key rate, the total rate ...), the rate of every poll
 * round over the last `spanMs`, kept by the dashboard (not the page), so that a page opened late
 * draws the whole span at once. A series is full length from its first round: the rounds before
 * it are filled with 0 (a counter that did not exist had counted nothing), and `known` says how
 * many of the latest points this dashboard actually polled (the older ones predate it).
 */

export interface Sparkline {
  /** Oldest first; one point per poll round, the last is now. */
  readonly points: readonly number[];
  /** How many of the latest points were polled (the others predate the dashboard's first round). */
  readonly known: number;
  /** Time between two points (the poll period). */
  readonly stepMs: number;
  /** The top of the scale: a round figure (1, 2 or 5 × 10^n) at or above the largest point, at least `minMax`. */
  readonly max: number;
  /** The bottom of the scale. */
  readonly min: 0;
  readonly unit: string;
}

/** The smallest 1, 2 or 5 × 10^n at or above `v` (and at or above `floor`). */
export function niceMax(v: number, floor = 1): number {
  const x = Math.max(v, floor);
  const exp = Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) {
    const candidate = m * 10 ** exp;
    // Rounding guard: 3 × 10^-1 computes to 0.30000000000000004.
    if (candidate >= x * (1 - 1e-12)) return Number(candidate.toPrecision(12));
  }
  return 10 ** (exp + 1);
}

/** Three decimals are more than a sparkline shows, and keep the snapshots small. */
const round3 = (v: number): number => Math.round(v * 1000) / 1000;

export class SparklineHistory {
  /** Points per series. */
  readonly length: number;
  private readonly series = new Map<string, number[]>();
  private rounds = 0;

  /** `spanMs` of history at one point per `stepMs` (2 to 600 points). */
  constructor(
    readonly spanMs: number,
    readonly stepMs: number,
    private readonly unit = "keys/s",
  ) {
    if (!(spanMs > 0 && stepMs > 0)) throw new RangeError("spanMs and stepMs must be positive");
    this.length = Math.min(600, Math.max(2, Math.round(spanMs / stepMs)));
  }

  /** Start a poll round (call once per round, before push). */
  beginRound(): void {
    this.rounds += 1;
  }

  /** The value of series `key` in this round; a new series is backfilled with zeros. */
  push(key: string, value: number): void {
    let s = this.series.get(key);
    if (s === undefined) {
      s = new Array<number>(this.length).fill(0);
      this.series.set(key, s);
    }
    s.push(round3(value));
    while (s.length > this.length) s.shift();
  }

  /** Series `key` for the page (all zeros if it was never pushed). */
  get(key: string): Sparkline {
    const points = this.series.get(key) ?? new Array<number>(this.length).fill(0);
    return {
      points: [...points],
      known: Math.min(this.length, this.rounds),
      stepMs: this.stepMs,
      max: niceMax(Math.max(0, ...points)),
      min: 0,
      unit: this.unit,
    };
  }

  /** Forget series not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const k of this.series.keys()) if (!keep.has(k)) this.series.delete(k);
  }
}
