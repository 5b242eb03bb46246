/**
 * The colour of a PSRD pool and of a client↔hub link, from the topology's configured thresholds
 * (the ones dske-cli passes to every client): a client asks its hubs for more PSRD when a pool
 * falls below `start_request_psrd_threshold` and stops at `stop_request_psrd_threshold`. So a pool
 * at or above the start threshold needs nothing (ok, green), whether or not it is above the
 * stop threshold: an idle healthy topology is green. Below it a refill is due (low, amber).
 * Exhausted (red): too little left for one key's share message.
 */

export type PoolLevelName = "ok" | "low" | "exhausted";
export type LinkLevelName = PoolLevelName | "down";

/**
 * Below this a pool is exhausted: one 256-bit key's share (32 B, with its padding and check
 * word) plus the message tag takes about this much from the client's pool.
 */
export const EXHAUSTED_BELOW_BYTES = 64;

export interface PsrdThresholds {
  /** Refill starts below this (start_request_psrd_threshold). */
  readonly start: number;
  /** Refill stops above this (stop_request_psrd_threshold). */
  readonly stop: number;
  /** The gauges' top (stop threshold + one block). */
  readonly full: number;
  /** Below this a pool is exhausted (EXHAUSTED_BELOW_BYTES, or the start threshold if that is lower). */
  readonly exhausted: number;
}

export function psrdThresholds(config: {
  start_request_psrd_threshold: number;
  stop_request_psrd_threshold: number;
  get_psrd_block_size: number;
}): PsrdThresholds {
  const start = config.start_request_psrd_threshold;
  const stop = config.stop_request_psrd_threshold;
  return { start, stop, full: stop + config.get_psrd_block_size, exhausted: Math.min(EXHAUSTED_BELOW_BYTES, start) };
}

export function poolLevelName(available: number, t: PsrdThresholds): PoolLevelName {
  if (available < t.exhausted) return "exhausted";
  return available < t.start ? "low" : "ok";
}

/** A link is as good as its weaker pool; down when either end is down, it is not registered, or its pools are unknown. */
export function linkLevelName(
  link: { registered?: boolean; clientOwned?: { available: number }; hubOwned?: { available: number } },
  bothUp: boolean,
  t: PsrdThresholds,
): LinkLevelName {
  if (!bothUp || link.registered === false || link.clientOwned === undefined || link.hubOwned === undefined) return "down";
  return poolLevelName(Math.min(link.clientOwned.available, link.hubOwned.available), t);
}
