/**
 * I/O diagnostics (for benchmarks and status pages; no secrets), without process-wide mutable
 * state: every fsync / fdatasync issued by this package's stores and journals is published on the
 * diagnostics channel `dske:psrd:fsync` (`FSYNC_CHANNEL`). Whoever wants a count subscribes, e.g.
 * with a `ChannelCounter` of its own (a hub or client node counts from its start).
 */
import diagnosticsChannel from "node:diagnostics_channel";

/** Name of the diagnostics channel of fsync / fdatasync calls (message: `{ what }`). */
export const FSYNC_CHANNEL = "dske:psrd:fsync";

/** Message of `FSYNC_CHANNEL`. */
export interface FsyncMessage {
  /** What was synced: "journal", "block" (a block add), "data" (pool data file), "file" (atomic write), "directory", "lock". */
  readonly what: string;
}

const fsyncChannel = diagnosticsChannel.channel(FSYNC_CHANNEL);

/** Publish one fsync / fdatasync call (cheap when nobody listens). */
export function noteFsync(what: FsyncMessage["what"]): void {
  if (fsyncChannel.hasSubscribers) fsyncChannel.publish({ what } satisfies FsyncMessage);
}

/**
 * Counts the messages of one diagnostics channel from its creation on. Holds itself weakly: once
 * the counter is unreachable, its subscription is dropped at the next message (no close needed).
 */
export class ChannelCounter {
  private n = 0;

  constructor(readonly channel: string) {
    const ref = new WeakRef(this);
    const onMessage = (): void => {
      const counter = ref.deref();
      if (counter) counter.n++;
      else queueMicrotask(() => diagnosticsChannel.unsubscribe(channel, onMessage));
    };
    diagnosticsChannel.subscribe(channel, onMessage);
  }

  /** Messages seen since creation. */
  get count(): number {
    return this.n;
  }
}

/** A `ChannelCounter` of fsync / fdatasync calls (`FSYNC_CHANNEL`). */
export class FsyncCounter extends ChannelCounter {
  constructor() {
    super(FSYNC_CHANNEL);
  }
}
