/**
 * A user-space TCP relay that adds WAN latency to a link: it listens on an address and port,
 * connects each accepted connection to a target, and holds every chunk of data for the configured
 * one-way delay ± jitter in each direction before forwarding it, never reordering (a chunk leaves
 * no earlier than the chunk before it). Stand-in for `tc netem`, which these kernels lack.
 *
 * Controls: `pause()` stalls the link (data is held, connections stay open), `resume()` releases
 * it, `cut()` resets every open connection (TCP RST on both sides). `setDelay()` changes the
 * delay of data arriving from then on. Used by the network-namespace tests and usable by a bench.
 */
import net from "node:net";

export interface DelayRelayOptions {
  /** Address and port to listen on (port 0: an ephemeral port, see `port`). */
  listenHost: string;
  listenPort: number;
  /** Where each connection goes. */
  targetHost: string;
  targetPort: number;
  /** One-way delay added to each direction, in ms. */
  delayMs?: number;
  /** Uniform jitter: each chunk's delay is delayMs ± jitterMs (never below 0). */
  jitterMs?: number;
}

/** Figures a test can check. */
export interface DelayRelayStats {
  /** Connections accepted since start. */
  accepted: number;
  /** Connections open now. */
  open: number;
  /** Bytes read from either side, both directions together. */
  received: number;
  /** Bytes forwarded, both directions together. */
  bytes: number;
}

/** One direction of one connection: chunks waiting for their release time, in order. */
class DelayedPipe {
  private readonly queue: { at: number; data: Buffer }[] = [];
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly relay: DelayRelay,
    private readonly to: net.Socket,
  ) {}

  push(data: Buffer): void {
    this.relay.countReceived(data.length);
    const at = Math.max(this.lastAt, Date.now() + this.relay.nextDelay());
    this.lastAt = at;
    this.queue.push({ at, data });
    this.schedule();
  }

  /** Forward every chunk whose time has come (unless the relay is paused), then re-arm. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.relay.paused) return;
    const now = Date.now();
    while ((this.queue.at(0)?.at ?? Infinity) <= now) {
      const chunk = this.queue.shift();
      if (chunk === undefined) break;
      if (!this.to.destroyed) {
        this.to.write(chunk.data);
        this.relay.countBytes(chunk.data.length);
      }
    }
    this.schedule();
  }

  /** Whether data is still waiting. */
  get pending(): boolean {
    return this.queue.length > 0;
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.relay.paused) return;
    const head = this.queue.at(0);
    if (head === undefined) {
      this.relay.drained(this);
      return;
    }
    this.timer = setTimeout(() => this.flush(), Math.max(0, head.at - Date.now()));
  }
}

/** A connection through the relay: the accepted socket, the one to the target, a pipe each way. */
interface Link {
  down: net.Socket;
  up: net.Socket;
  toUp: DelayedPipe;
  toDown: DelayedPipe;
  /** A side ended its stream: end the other once its queued data has gone. */
  endUp: boolean;
  endDown: boolean;
}

export class DelayRelay {
  paused = false;
  private delayMs: number;
  private jitterMs: number;
  private server: net.Server | undefined;
  private readonly links = new Set<Link>();
  private readonly stats: DelayRelayStats = { accepted: 0, open: 0, received: 0, bytes: 0 };
  /** The port listened on (the chosen one when listenPort was 0). */
  port = 0;

  constructor(private readonly opts: DelayRelayOptions) {
    this.delayMs = opts.delayMs ?? 0;
    this.jitterMs = opts.jitterMs ?? 0;
  }

  get host(): string {
    return this.opts.listenHost;
  }

  async start(): Promise<void> {
    const server = net.createServer((down) => this.accept(down));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.listenPort, this.opts.listenHost, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address();
    this.port = typeof addr === "object" && addr !== null ? addr.port : this.opts.listenPort;
  }

  /** Delay (and jitter) for data arriving from now on. */
  setDelay(delayMs: number, jitterMs = 0): void {
    this.delayMs = delayMs;
    this.jitterMs = jitterMs;
  }

  /** The delay of the next chunk: delayMs ± jitterMs, uniformly, at least 0. */
  nextDelay(): number {
    const j = this.jitterMs > 0 ? (Math.random() * 2 - 1) * this.jitterMs : 0;
    return Math.max(0, this.delayMs + j);
  }

  /** Stall the link: data is held (and new connections are accepted but carry nothing). */
  pause(): void {
    this.paused = true;
  }

  /** Release held data and carry on. */
  resume(): void {
    this.paused = false;
    for (const l of this.links) {
      l.toUp.flush();
      l.toDown.flush();
    }
  }

  /** Reset every open connection on both sides (RST), dropping held data. */
  cut(): void {
    for (const l of [...this.links]) this.drop(l, true);
  }

  snapshot(): DelayRelayStats {
    return { ...this.stats, open: this.links.size };
  }

  countReceived(n: number): void {
    this.stats.received += n;
  }

  countBytes(n: number): void {
    this.stats.bytes += n;
  }

  /** A pipe has emptied: a pending end of stream can now go through. */
  drained(pipe: DelayedPipe): void {
    for (const l of this.links) {
      if (pipe === l.toUp && l.endDown && !l.up.destroyed) l.up.end();
      if (pipe === l.toDown && l.endUp && !l.down.destroyed) l.down.end();
    }
  }

  async close(): Promise<void> {
    this.cut();
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return;
    await new Promise<void>((r) => s.close(() => r()));
  }

  private accept(down: net.Socket): void {
    this.stats.accepted++;
    down.setNoDelay(true);
    const up = net.connect({ host: this.opts.targetHost, port: this.opts.targetPort });
    up.setNoDelay(true);
    const link: Link = {
      down,
      up,
      toUp: new DelayedPipe(this, up),
      toDown: new DelayedPipe(this, down),
      endUp: false,
      endDown: false,
    };
    this.links.add(link);
    // Data from the accepted side is queued at once; it reaches the target when connected
    // (net.Socket buffers writes made while connecting).
    down.on("data", (d: Buffer) => link.toUp.push(d));
    up.on("data", (d: Buffer) => link.toDown.push(d));
    down.on("end", () => {
      link.endDown = true;
      if (!link.toUp.pending) up.end();
    });
    up.on("end", () => {
      link.endUp = true;
      if (!link.toDown.pending) down.end();
    });
    // A failed or reset side resets the other: the peer sees what it would without the relay.
    down.on("error", () => this.drop(link, true));
    up.on("error", () => this.drop(link, true));
    down.on("close", () => this.closed(link));
    up.on("close", () => this.closed(link));
  }

  private closed(link: Link): void {
    if (link.down.destroyed && link.up.destroyed) {
      link.toUp.stop();
      link.toDown.stop();
      this.links.delete(link);
    }
  }

  private drop(link: Link, reset: boolean): void {
    link.toUp.stop();
    link.toDown.stop();
    for (const s of [link.down, link.up]) {
      if (s.destroyed) continue;
      // resetAndDestroy on a connecting socket sends the RST once connected.
      if (reset) s.resetAndDestroy();
      else s.destroy();
    }
    this.links.delete(link);
  }
}
