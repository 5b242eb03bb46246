/**
 * I/O diagnostics without process-wide counters: every fsync / fdatasync issued by this package's
 * stores and journals is published on the `node:diagnostics_channel` channel `dske:psrd:fsync` as
 * `{ path }` (the file or directory synced; no secrets). Publishing is free while nobody listens.
 *
 * `FsyncCounter(dir)` counts the messages for paths under one directory, e.g. a node's state
 * directory, so several nodes in one process each count their own (status `io.fsyncs`, benchmarks).
 */
import { channel, subscribe, unsubscribe } from "node:diagnostics_channel";
import { resolve, sep } from "node:path";

export const FSYNC_CHANNEL = "dske:psrd:fsync";
const fsyncChannel = channel(FSYNC_CHANNEL);

/** One message of FSYNC_CHANNEL. */
export interface FsyncMessage {
  /** Absolute path of the synced file or directory. */
  readonly path: string;
}

/** Publish one fsync / fdatasync of `path` (a file or a directory). */
export function countFsync(path: string): void {
  if (fsyncChannel.hasSubscribers) fsyncChannel.publish({ path: resolve(path) } satisfies FsyncMessage);
}

/**
 * Counts the fsyncs of the directories `dirs` and of everything under them, from construction
 * until close() (or until the counter is garbage-collected).
 */
export class FsyncCounter {
  private n = 0;
  private readonly roots: { dir: string; prefix: string }[];
  private readonly onMessage: (message: unknown) => void;

  constructor(dirs: string | readonly string[]) {
    this.roots = (typeof dirs === "string" ? [dirs] : dirs).map((d) => {
      const dir = resolve(d);
      return { dir, prefix: dir.endsWith(sep) ? dir : dir + sep };
    });
    // Held weakly: once the counter is unreachable, its subscription goes at the next message.
    const ref = new WeakRef(this);
    const roots = this.roots;
    const onMessage = (message: unknown): void => {
      const counter = ref.deref();
      if (counter === undefined) {
        queueMicrotask(() => unsubscribe(FSYNC_CHANNEL, onMessage));
        return;
      }
      const p = (message as FsyncMessage).path;
      if (roots.some((r) => p === r.dir || p.startsWith(r.prefix))) counter.n++;
    };
    this.onMessage = onMessage;
    subscribe(FSYNC_CHANNEL, onMessage);
  }

  /** fsync + fdatasync calls counted so far. */
  get fsyncs(): number {
    return this.n;
  }

  close(): void {
    unsubscribe(FSYNC_CHANNEL, this.onMessage);
  }
}
