/** Helpers to cut share messages into batches and to bound the calls in flight. */

/** Keep a batch message well below the hub's 1 MiB body limit (base64 + JSON overhead). */
export const MAX_BATCH_SHARE_BYTES = 512 * 1024;

/** Cut `items` into chunks of at most `maxItems` items and (unless a single item is larger) `maxBytes` bytes. */
export function chunkBy<T>(items: readonly T[], maxItems: number, maxBytes: number, bytes: (t: T) => number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let curBytes = 0;
  for (const it of items) {
    const b = bytes(it);
    if (cur.length > 0 && (cur.length >= maxItems || curBytes + b > maxBytes)) {
      out.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(it);
    curBytes += b;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Run fn over items with at most `limit` in flight; rejects with the first error after all settle. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        await fn(items[i]);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
}
