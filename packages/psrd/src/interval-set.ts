/**
 * A set of byte ranges kept as sorted, disjoint, merged half-open intervals [start, end).
 * Memory is O(number of intervals) — i.e. O(gaps) for consumed ranges — never O(bytes).
 * Lookups are O(log n); inserts/removals O(n) worst case in the array splice (n = intervals).
 */
export class IntervalSet {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private bytes = 0;

  /** Number of bytes in the set. */
  get total(): number {
    return this.bytes;
  }

  /** Number of disjoint intervals. */
  get count(): number {
    return this.starts.length;
  }

  /** Index of the first interval whose end is > pos (or >= pos when `touching`). */
  private firstEndAfter(pos: number, touching: boolean): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.ends[mid];
      if (touching ? e >= pos : e > pos) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Does [start, end) share a byte with the set? */
  overlaps(start: number, end: number): boolean {
    if (end <= start) return false;
    const i = this.firstEndAfter(start, false);
    return i < this.starts.length && this.starts[i] < end;
  }

  /** Is every byte of [start, end) in the set? */
  covers(start: number, end: number): boolean {
    if (end <= start) return true;
    const i = this.firstEndAfter(start, false);
    return i < this.starts.length && this.starts[i] <= start && this.ends[i] >= end;
  }

  /** Add [start, end), merging with overlapping or adjacent intervals. */
  add(start: number, end: number): void {
    if (end <= start) return;
    const i = this.firstEndAfter(start, true);
    let j = i;
    let s = start;
    let e = end;
    let removed = 0;
    while (j < this.starts.length && this.starts[j] <= end) {
      s = Math.min(s, this.starts[j]);
      e = Math.max(e, this.ends[j]);
      removed += this.ends[j] - this.starts[j];
      j++;
    }
    this.starts.splice(i, j - i, s);
    this.ends.splice(i, j - i, e);
    this.bytes += e - s - removed;
  }

  /** Remove [start, end) from the set (bytes not in the set are ignored). */
  remove(start: number, end: number): void {
    if (end <= start) return;
    const i = this.firstEndAfter(start, false);
    let j = i;
    const newStarts: number[] = [];
    const newEnds: number[] = [];
    let removed = 0;
    while (j < this.starts.length && this.starts[j] < end) {
      const s = this.starts[j];
      const e = this.ends[j];
      removed += Math.min(e, end) - Math.max(s, start);
      if (s < start) {
        newStarts.push(s);
        newEnds.push(start);
      }
      if (e > end) {
        newStarts.push(end);
        newEnds.push(e);
      }
      j++;
    }
    if (j === i) return;
    this.starts.splice(i, j - i, ...newStarts);
    this.ends.splice(i, j - i, ...newEnds);
    this.bytes -= removed;
  }

  /** The intervals, in order. */
  *intervals(): IterableIterator<[number, number]> {
    for (let k = 0; k < this.starts.length; k++) yield [this.starts[k], this.ends[k]];
  }
}
