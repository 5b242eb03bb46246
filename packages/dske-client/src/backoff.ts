/**
 * Backoff: exponential with full jitter. The wait before retry `attempt` (0 for the first retry)
 * is uniform in [0, min(capMs, initialMs * 2^attempt)], so that clients that lost a hub at the
 * same moment do not come back in lockstep.
 */
export function backoffDelay(attempt: number, initialMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
