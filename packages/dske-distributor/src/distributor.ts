/**
 * The local distributor's replenishment loop (draft-mwag-dske §7: the security hub hands PSRD to
 * its clients out of band, through local distributors). Transport-agnostic: how needs are read,
 * how a hub issues a bundle, how the file travels and how the client installs it is the
 * DistributorTransport's business (HTTP management calls and a file move, in dske-cli).
 *
 * One loop per client: long-poll the client's needs; for each need, one job per (hub, client)
 * pair: issue → deliver → install. A pair runs one job at a time, so a hub's bundles reach the
 * client in seq order; different hubs run in parallel. A bundle that was issued is never
 * abandoned for a new one: its delivery and install are retried (bounded exponential backoff
 * with jitter) until they succeed or the distributor stops, because the client can install
 * seq n+1 only after seq n. A failed issue ends the job after its backoff; the next poll decides
 * again with fresh amounts.
 *
 * Logs name clients, hubs, seqs, sizes and file paths; never PSRD, chain keys or secrets.
 */
import { z } from "zod";
import { NODE_NAME_RE } from "./bundle-header.js";

/** PSRD a client asks one hub for (bytes per pool). */
export interface Need {
  hub_name: string;
  client_owned_bytes: number;
  hub_owned_bytes: number;
}

export interface DistributorTransport {
  /** Long poll the client's needs: answers at once if some hub's pools need PSRD, else after at most `waitMs`. Rejects when `signal` aborts. */
  needs(client: string, waitMs: number, signal: AbortSignal): Promise<Need[]>;
  /** Ask `hub` to issue a bundle for `client`; returns the bundle file (on the hub's side) and its seq. */
  issue(hub: string, client: string, clientOwnedBytes: number, hubOwnedBytes: number): Promise<{ file: string; seq: number }>;
  /**
   * Move the file into the client's inbox; returns its new path. Retried after a failure, so it
   * should be idempotent (file already moved → return where it is).
   */
  deliver(client: string, file: string): Promise<string>;
  /** Have the client install the delivered file. Retried after a failure, so it should be idempotent. */
  install(client: string, file: string): Promise<void>;
}

/** Structured log fields: names, seqs, sizes, paths, counts — never key material. */
export type DistributorLogFields = Record<string, unknown>;

/** The logger shape the nodes use (structurally compatible with @dske/client's Logger). */
export interface DistributorLogger {
  info(message: string, fields?: DistributorLogFields): void;
  warn(message: string, fields?: DistributorLogFields): void;
  error(message: string, fields?: DistributorLogFields): void;
}

export interface LocalDistributorOptions {
  /** Clients this distributor serves. */
  clients: string[];
  transport: DistributorTransport;
  log?: DistributorLogger;
  /** Long-poll wait passed to `needs` (ms, 1..30000). Default 25000. */
  pollWaitMs?: number;
  /** Backoff after a failure: first delay and cap (ms). Defaults 250 / 30000. */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * While every reported need belongs to a pair already at work, poll again after that pair's
   * job ends or after this many ms, whichever is first (a new hub's need is noticed within it).
   * Default 1000.
   */
  repollMs?: number;
  /** Wait (ms) that resolves early, without error, when `signal` aborts. Default: a timer. Tests inject their own. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Uniform [0, 1) for the jitter. Default Math.random (jitter needs no secrecy). */
  random?: () => number;
}

export interface DistributorCounters {
  /** Bundles installed. */
  bundles: number;
  /** PSRD bytes installed (client-owned + hub-owned, as requested). */
  bytes: number;
  /** Failed attempts (needs polls, issues, deliveries, installs). */
  failures: number;
}

/** A bundle issued but not yet installed. */
export interface PendingBundle {
  client: string;
  hub: string;
  seq: number;
  /** Where the file is: on the hub's side, or in the client's inbox once delivered. */
  file: string;
  delivered: boolean;
}

const NeedSchema = z.object({
  hub_name: z.string().regex(NODE_NAME_RE),
  client_owned_bytes: z.number().int().min(0),
  hub_owned_bytes: z.number().int().min(0),
});

const IssuedSchema = z.object({ file: z.string().min(1), seq: z.number().int().min(1) });

const silent: DistributorLogger = { info: () => {}, warn: () => {}, error: () => {} };

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Read `signal.aborted` afresh. TypeScript keeps a narrowed `signal.aborted` (false after a check)
 * across awaits, though an abort can land while one is pending.
 */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

interface Pair {
  client: string;
  hub: string;
  pending: { file: string; seq: number; bytes: number; delivered?: string } | undefined;
  /** Consecutive failures (backoff exponent); 0 after a success. */
  failures: number;
  job: Promise<void> | undefined;
}

export class LocalDistributor {
  private readonly clients: string[];
  private readonly transport: DistributorTransport;
  private readonly log: DistributorLogger;
  private readonly pollWaitMs: number;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly repollMs: number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly pairs = new Map<string, Pair>();
  private readonly count: DistributorCounters = { bundles: 0, bytes: 0, failures: 0 };
  private controller: AbortController | undefined;
  private loops: Promise<void>[] = [];

  constructor(options: LocalDistributorOptions) {
    const clients = z
      .array(z.string().regex(NODE_NAME_RE, "client names are 1..64 characters of A-Z a-z 0-9 . _ -"))
      .min(1)
      .safeParse(options.clients);
    if (!clients.success) throw new RangeError(`LocalDistributor: clients: ${clients.error.issues.map((i) => i.message).join("; ")}`);
    if (new Set(clients.data).size !== clients.data.length) throw new RangeError("LocalDistributor: clients must not repeat");
    const pollWaitMs = options.pollWaitMs ?? 25_000;
    if (!Number.isInteger(pollWaitMs) || pollWaitMs < 1 || pollWaitMs > 30_000)
      throw new RangeError("LocalDistributor: pollWaitMs must be an integer in 1..30000");
    this.clients = [...clients.data];
    this.transport = options.transport;
    this.log = options.log ?? silent;
    this.pollWaitMs = pollWaitMs;
    this.initialMs = Math.max(1, options.backoff?.initialMs ?? 250);
    this.maxMs = Math.max(this.initialMs, options.backoff?.maxMs ?? 30_000);
    this.repollMs = Math.max(1, options.repollMs ?? 1000);
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  /** A snapshot of the counters. */
  get counters(): DistributorCounters {
    return { ...this.count };
  }

  /** Bundles issued but not yet installed. */
  get pending(): PendingBundle[] {
    return [...this.pairs.values()].flatMap(({ client, hub, pending }) =>
      pending === undefined
        ? []
        : [
            {
              client,
              hub,
              seq: pending.seq,
              file: pending.delivered ?? pending.file,
              delivered: pending.delivered !== undefined,
            },
          ],
    );
  }

  get running(): boolean {
    return this.controller !== undefined && !this.controller.signal.aborted;
  }

  /** Start one loop per client. No-op when running. */
  start(): void {
    if (this.running) return;
    const controller = new AbortController();
    this.controller = controller;
    this.loops = this.clients.map((c) => this.clientLoop(c, controller.signal));
    this.log.info("local distributor started", { clients: this.clients, poll_wait_ms: this.pollWaitMs });
  }

  /**
   * Stop: abort long polls and backoff waits, let transport calls in flight finish (an attempt
   * that already issued a bundle still delivers and installs it), and wait for every loop.
   */
  async stop(): Promise<void> {
    const controller = this.controller;
    if (controller === undefined) return;
    controller.abort();
    await Promise.all(this.loops);
    await Promise.all([...this.pairs.values()].flatMap((p) => (p.job === undefined ? [] : [p.job])));
    this.loops = [];
    for (const p of this.pending) {
      this.log.warn("bundle not installed yet: deliver and install it before the next one", {
        client: p.client,
        hub: p.hub,
        seq: p.seq,
        file: p.file,
        delivered: p.delivered,
      });
    }
    this.log.info("local distributor stopped", { ...this.count });
  }

  /** Backoff delay for the n-th consecutive failure: min(max, initial·2^(n−1)), jittered to [½, 1]. */
  backoffMs(n: number): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(Math.max(n - 1, 0), 30));
    return Math.round(base * (0.5 + 0.5 * this.random()));
  }

  private pair(client: string, hub: string): Pair {
    const key = `${client}\u0000${hub}`;
    let p = this.pairs.get(key);
    if (p === undefined) {
      p = { client, hub, pending: undefined, failures: 0, job: undefined };
      this.pairs.set(key, p);
    }
    return p;
  }

  private async clientLoop(client: string, signal: AbortSignal): Promise<void> {
    let pollFailures = 0;
    while (!signal.aborted) {
      let raw: unknown;
      try {
        raw = await this.transport.needs(client, this.pollWaitMs, signal);
        pollFailures = 0;
      } catch (e) {
        if (isAborted(signal)) break;
        pollFailures++;
        this.count.failures++;
        const delay = this.backoffMs(pollFailures);
        this.log.warn("reading the PSRD needs of client failed; retrying", {
          client,
          attempt: pollFailures,
          err: messageOf(e),
          retry_ms: delay,
        });
        await this.sleep(delay, signal);
        continue;
      }
      if (isAborted(signal)) break;
      const needs = this.validNeeds(client, raw);
      let waitingOnBusy = false;
      for (const need of needs) {
        const p = this.pair(client, need.hub_name);
        if (p.job !== undefined) {
          waitingOnBusy = true;
          continue;
        }
        p.job = this.runPair(p, need, signal).finally(() => {
          p.job = undefined;
        });
      }
      // Every need reported belongs to a pair at work: the client keeps reporting it until the
      // bundle is installed, so polling again at once would spin. Wait for a job or repollMs.
      if (waitingOnBusy) {
        const jobs = [...this.pairs.values()].flatMap((p) => (p.client === client && p.job !== undefined ? [p.job] : []));
        const timer = new AbortController();
        const onAbort = (): void => timer.abort();
        signal.addEventListener("abort", onAbort, { once: true });
        try {
          await Promise.race([...jobs, this.sleep(this.repollMs, timer.signal)]);
        } finally {
          signal.removeEventListener("abort", onAbort);
          timer.abort();
        }
      }
    }
  }

  private validNeeds(client: string, raw: unknown): Need[] {
    if (!Array.isArray(raw)) {
      this.count.failures++;
      this.log.warn("PSRD needs not a list; ignored", { client });
      return [];
    }
    const out: Need[] = [];
    for (const item of raw as unknown[]) {
      const r = NeedSchema.safeParse(item);
      if (!r.success) {
        this.log.warn("malformed PSRD need; ignored", { client });
        continue;
      }
      if (r.data.client_owned_bytes + r.data.hub_owned_bytes === 0) continue;
      if (out.some((n) => n.hub_name === r.data.hub_name)) continue; // one job per hub per poll
      out.push(r.data);
    }
    return out;
  }

  /** One job of a pair: issue (unless a bundle is pending) → deliver → install, retrying a pending bundle. */
  private async runPair(p: Pair, need: Need, signal: AbortSignal): Promise<void> {
    const { client, hub } = p;
    for (;;) {
      let stage: "issue" | "deliver" | "install" = "issue";
      try {
        if (p.pending === undefined) {
          if (signal.aborted) return;
          const issued = IssuedSchema.safeParse(await this.transport.issue(hub, client, need.client_owned_bytes, need.hub_owned_bytes));
          if (!issued.success) throw new Error(`hub ${hub} answered the issue without a bundle file and seq`);
          p.pending = { file: issued.data.file, seq: issued.data.seq, bytes: need.client_owned_bytes + need.hub_owned_bytes };
          this.log.info("PSRD bundle issued", {
            client,
            hub,
            seq: issued.data.seq,
            client_owned_bytes: need.client_owned_bytes,
            hub_owned_bytes: need.hub_owned_bytes,
          });
        }
        const pending = p.pending;
        if (pending.delivered === undefined) {
          stage = "deliver";
          const delivered = await this.transport.deliver(client, pending.file);
          if (typeof delivered !== "string" || delivered.length === 0) throw new Error("deliver returned no path");
          pending.delivered = delivered;
        }
        stage = "install";
        await this.transport.install(client, pending.delivered);
        p.pending = undefined;
        p.failures = 0;
        this.count.bundles++;
        this.count.bytes += pending.bytes;
        this.log.info("PSRD bundle installed", {
          client,
          hub,
          seq: pending.seq,
          bytes: pending.bytes,
        });
        return;
      } catch (e) {
        p.failures++;
        this.count.failures++;
        const seq = p.pending?.seq;
        if (signal.aborted) {
          this.log.warn("bundle step failed while stopping", {
            client,
            hub,
            stage,
            seq,
            err: messageOf(e),
          });
          return;
        }
        const delay = this.backoffMs(p.failures);
        this.log.warn(p.pending !== undefined ? "bundle step failed; retrying" : "bundle step failed; asking again", {
          client,
          hub,
          stage,
          seq,
          attempt: p.failures,
          err: messageOf(e),
          retry_ms: delay,
        });
        await this.sleep(delay, signal);
        // A failed issue leaves nothing pending: the next poll decides again with fresh amounts.
        if (p.pending === undefined || isAborted(signal)) return;
      }
    }
  }
}
