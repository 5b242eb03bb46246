/**
 * Process-wide I/O counters (diagnostics for benchmarks and status pages; no secrets): every
 * fsync / fdatasync issued by this package's stores and journals is counted here.
 */
export const ioStats = {
  /** fsync + fdatasync calls issued (journal batches, block adds, atomic file writes, directory syncs). */
  fsyncs: 0,
};
