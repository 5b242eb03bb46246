/**
 * The dashboard's domain: from one round of observations of every node (its management status,
 * or why it did not answer; optionally its metrics) to a snapshot the page draws — nodes with
 * their state and restarts, the client↔hub links with both PSRD pools and their level against the
 * configured thresholds (dashboard-levels.ts), encryptors, and key counts with rates. Pure: no
 * HTTP, no timers; the poller feeds it and the server publishes what it returns.
 *
 * One source, one rate: every key count comes from the clients' per-SAE-pair counters (their
 * metrics), carried across restarts (dashboard-counters.ts). A client's count is the sum of its
 * pair counters, a pair's the sum over the clients that count it, the header's the sum over the
 * clients; every rate is RateTracker's (dashboard-rates.ts) on those same counters, summed the
 * same way. So the panels agree. A client that serves no metrics falls back to its status' key
 * records (marked `countsFrom: "status"`).
 */
import type { DskeConfig } from "./config";
import type { ProbeResult } from "./mgmt";
import { RestartAwareCounters, type NodeRestarts } from "./dashboard-counters";
import { SparklineHistory, type Sparkline } from "./dashboard-history";
import {
  linkLevelName,
  poolLevelName,
  psrdThresholds,
  type LinkLevelName,
  type PoolLevelName,
  type PsrdThresholds,
} from "./dashboard-levels";
import { pairKeyCounts, parsePrometheusText, processStartMs } from "./dashboard-metrics";
import { RateTracker } from "./dashboard-rates";
import { clientStatusSchema, hubStatusSchema, type ClientStatusView, type HubStatusView, type PoolStatsView } from "./status-schema";
import type { NodeSpec, Topology } from "./topology";

export type NodeState = "up" | "down" | "foreign";

/** One PSRD pool as the page draws it (bytes). */
export interface PoolLevel {
  readonly available: number;
  readonly used: number;
  readonly size: number;
  /** Against the configured thresholds (dashboard-levels.ts). */
  readonly level: PoolLevelName;
}

/** A node's process as far as this dashboard saw it (times ISO). */
export interface ProcessView {
  /** When the node's current process started, if its metrics say. */
  readonly startedAt?: string;
  /** Restarts this dashboard saw (the key counts carry on across them). */
  readonly restarts: number;
  /** When the latest restart seen happened. */
  readonly restartedAt?: string;
}

export interface HubView extends ProcessView {
  readonly name: string;
  readonly port: number;
  readonly state: NodeState;
  readonly detail?: string;
  /** Key shares the hub holds now (up only). */
  readonly shares?: number;
  /** Clients registered with the hub (up only). */
  readonly peerClients?: number;
}

export interface KeyCounter {
  readonly count: number;
  /** Keys per second over the rate window. */
  readonly rate: number;
}

export interface ClientView extends ProcessView {
  readonly name: string;
  readonly port: number;
  readonly state: NodeState;
  readonly detail?: string;
  readonly encryptors: readonly string[];
  /** Hubs this client is registered with (up only). */
  readonly registeredHubs?: number;
  /**
   * Keys issued to this client's master SAEs (enc_keys), and delivered to its slave SAEs
   * (dec_keys), across restarts; kept (with a rate falling to 0) while the client is down.
   */
  readonly issued?: KeyCounter;
  readonly delivered?: KeyCounter;
  /** Where the counts come from: the client's metrics (sum of its pair counters), or its status' key records. */
  readonly countsFrom?: "metrics" | "status";
}

export interface EncryptorView {
  readonly name: string;
  readonly client: string;
}

/** A client↔hub link: registration and the two PSRD pools they share. */
export interface LinkView {
  readonly client: string;
  readonly hub: string;
  /** Whose status the pools come from: the client's (preferred), the hub's, or nobody's (both down). */
  readonly source: "client" | "hub" | "none";
  readonly registered?: boolean;
  /** Pool the client draws from (client → hub messages). */
  readonly clientOwned?: PoolLevel;
  /** Pool the hub draws from (hub → client messages). */
  readonly hubOwned?: PoolLevel;
  /** The weaker pool's level; down when an end is down, it is not registered, or the pools are unknown. */
  readonly level: LinkLevelName;
}

/** Keys of one SAE pair, from the clients' metrics. */
export interface PairView {
  readonly master: string;
  readonly slave: string;
  /** Keys handed to the master SAE (its KME's count), with their rate. */
  readonly issued: KeyCounter;
  /** Keys handed to the slave SAE (its KME's count), with their rate. */
  readonly delivered: KeyCounter;
  /** The issued rate over the last minute. */
  readonly spark: Sparkline;
}

export interface DashboardSnapshot {
  /** Increases by one per poll round. */
  readonly seq: number;
  /** ISO time of the poll round. */
  readonly time: string;
  readonly pollMs: number;
  readonly rateWindowMs: number;
  /** The configured thresholds: refill starts below `start`, stops above `stop`; exhausted below `exhausted`; `full` is the gauges' top. */
  readonly psrd: PsrdThresholds;
  readonly minNrShares: number;
  readonly hubs: readonly HubView[];
  readonly clients: readonly ClientView[];
  readonly encryptors: readonly EncryptorView[];
  readonly links: readonly LinkView[];
  /** Keys per SAE pair; empty when no client publishes per-pair counters. */
  readonly pairs: readonly PairView[];
  /** Totals over all clients (down ones with their last counts). */
  readonly totals: {
    readonly issued: KeyCounter;
    readonly delivered: KeyCounter;
    readonly nodesUp: number;
    readonly nodes: number;
    /** Total issued and delivered rates over the last minute. */
    readonly spark: { readonly issued: Sparkline; readonly delivered: Sparkline };
  };
}

/** What the poller learnt about one node in one round. */
export interface NodeObservation {
  readonly node: NodeSpec;
  readonly probe: ProbeResult;
  /** The node's Prometheus text exposition, when it serves one. */
  readonly metrics?: string;
}

function poolLevel(p: PoolStatsView | null | undefined, t: PsrdThresholds): PoolLevel | undefined {
  if (p === undefined || p === null) return undefined;
  const size = p.size ?? (p.available !== undefined && p.used !== undefined ? p.available + p.used : undefined);
  const used = p.used ?? (size !== undefined && p.available !== undefined ? size - p.available : undefined);
  const available = p.available ?? (size !== undefined && used !== undefined ? size - used : undefined);
  if (size === undefined || used === undefined || available === undefined) return undefined;
  return { available, used, size, level: poolLevelName(available, t) };
}

function keyCount(keys: unknown, field: "issued" | "delivered"): number | undefined {
  if (typeof keys !== "object" || keys === null) return undefined;
  const v = (keys as Record<string, unknown>)[field];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function detailOf(probe: ProbeResult): string | undefined {
  return probe.state === "up" ? undefined : probe.detail;
}

function processView(r: NodeRestarts): ProcessView {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  const startedAt = iso(r.startedAt);
  const restartedAt = iso(r.restartedAt);
  return { ...(startedAt ? { startedAt } : {}), restarts: r.restarts, ...(restartedAt ? { restartedAt } : {}) };
}

const SEP = "\u0000";
/** Counter keys of a client's pair counters: `issued|delivered SEP master SEP slave`. */
const pairCounterKey = (side: "issued" | "delivered", master: string, slave: string) => `${side}${SEP}${master}${SEP}${slave}`;

/** Turns rounds of observations into snapshots; keeps the counters across restarts, their rates and sparklines. */
export class DashboardModel {
  private seq = 0;
  private readonly rates: RateTracker;
  private readonly counters = new RestartAwareCounters();
  private readonly history: SparklineHistory;
  private previousRound: number | undefined;

  constructor(
    private readonly topology: Topology,
    private readonly options: { pollMs: number; rateWindowMs?: number; sparkSpanMs?: number },
  ) {
    this.rates = new RateTracker(options.rateWindowMs ?? 10_000);
    this.history = new SparklineHistory(options.sparkSpanMs ?? 60_000, options.pollMs);
  }

  /** One poll round's snapshot at time `now` (ms). Observations of unknown nodes are ignored. */
  update(observations: readonly NodeObservation[], now: number): DashboardSnapshot {
    const byName = new Map(observations.map((o) => [`${o.node.kind}:${o.node.name}`, o]));
    const config: DskeConfig = this.topology.config;
    const psrd = psrdThresholds(config);
    const rateKeys = new Set<string>();
    /** The one rate definition: RateTracker's, on counter `key` sampled at `now`. */
    const rateOf = (key: string, value: number, isNew: boolean): number => {
      rateKeys.add(key);
      // A counter that appears between two rounds counted from 0 (only known once the node was polled before).
      if (isNew && this.previousRound !== undefined && this.rates.latest(key) === undefined) this.rates.add(key, this.previousRound, 0);
      this.rates.add(key, now, value);
      return this.rates.rate(key);
    };
    this.history.beginRound();

    const hubStatus = new Map<string, HubStatusView>();
    const hubs: HubView[] = this.topology.hubs.map((h) => {
      const o = byName.get(`hub:${h.name}`);
      if (o?.probe.state === "up" && o.metrics !== undefined) {
        this.counters.observeStart(`hub:${h.name}`, processStartMs(parsePrometheusText(o.metrics)), now);
      }
      const proc = processView(this.counters.restarts(`hub:${h.name}`));
      if (o === undefined || o.probe.state !== "up") {
        return { name: h.name, port: h.port, state: o?.probe.state ?? "down", detail: o ? detailOf(o.probe) : "not polled yet", ...proc };
      }
      const parsed = hubStatusSchema.safeParse(o.probe.status);
      if (!parsed.success) return { name: h.name, port: h.port, state: "up", detail: "unrecognised status document", ...proc };
      hubStatus.set(h.name, parsed.data);
      return {
        name: h.name,
        port: h.port,
        state: "up",
        shares: parsed.data.shares?.length,
        peerClients: parsed.data.peer_clients.length,
        ...proc,
      };
    });
    const hubUp = new Set(hubs.filter((h) => h.state === "up").map((h) => h.name));

    const links: LinkView[] = [];
    const pairs = new Map<string, { master: string; slave: string; issued: KeyCounter; delivered: KeyCounter }>();
    const addToPair = (side: "issued" | "delivered", master: string, slave: string, k: KeyCounter) => {
      const key = `${master}${SEP}${slave}`;
      const p = pairs.get(key) ?? { master, slave, issued: { count: 0, rate: 0 }, delivered: { count: 0, rate: 0 } };
      p[side] = { count: p[side].count + k.count, rate: p[side].rate + k.rate };
      pairs.set(key, p);
    };
    const clients: ClientView[] = this.topology.clients.map((c) => {
      const o = byName.get(`client:${c.name}`);
      const parsed = o?.probe.state === "up" ? clientStatusSchema.safeParse(o.probe.status) : undefined;
      const status = parsed?.success ? parsed.data : undefined;
      for (const h of this.topology.hubs)
        links.push(this.link(c.name, h.name, status, hubStatus, o?.probe.state === "up" && hubUp.has(h.name), psrd));

      // Key counts: the client's pair counters, carried across restarts.
      const nodeKey = `client:${c.name}`;
      const seenBefore = this.counters.knows(nodeKey);
      const known = this.counters.values(nodeKey);
      let values = known;
      if (o?.probe.state === "up" && o.metrics !== undefined) {
        const samples = parsePrometheusText(o.metrics);
        const raw = new Map<string, number>();
        for (const p of pairKeyCounts(samples)) {
          if (p.issued > 0) raw.set(pairCounterKey("issued", p.master, p.slave), p.issued);
          if (p.delivered > 0) raw.set(pairCounterKey("delivered", p.master, p.slave), p.delivered);
        }
        values = this.counters.observe(nodeKey, processStartMs(samples), raw, now);
      }
      const proc = processView(this.counters.restarts(nodeKey));
      let issued: KeyCounter | undefined;
      let delivered: KeyCounter | undefined;
      let countsFrom: "metrics" | "status" | undefined;
      if (values.size > 0 || (o?.probe.state === "up" && o.metrics !== undefined)) {
        countsFrom = "metrics";
        issued = { count: 0, rate: 0 };
        delivered = { count: 0, rate: 0 };
        for (const [k, v] of values) {
          const [side, master, slave] = k.split(SEP) as ["issued" | "delivered", string, string];
          const counter: KeyCounter = { count: v, rate: rateOf(`${nodeKey}${SEP}${k}`, v, seenBefore && !known.has(k)) };
          addToPair(side, master, slave, counter);
          if (side === "issued") issued = { count: issued.count + counter.count, rate: issued.rate + counter.rate };
          else delivered = { count: delivered.count + counter.count, rate: delivered.rate + counter.rate };
        }
      } else if (status !== undefined) {
        const fromStatus = (side: "issued" | "delivered"): KeyCounter | undefined => {
          const v = keyCount(status.keys, side);
          return v === undefined ? undefined : { count: v, rate: rateOf(`${nodeKey}${SEP}status-${side}`, v, false) };
        };
        issued = fromStatus("issued");
        delivered = fromStatus("delivered");
        countsFrom = issued !== undefined || delivered !== undefined ? "status" : undefined;
      }
      const counts = {
        ...(issued ? { issued } : {}),
        ...(delivered ? { delivered } : {}),
        ...(countsFrom ? { countsFrom } : {}),
      };
      if (o === undefined || o.probe.state !== "up") {
        return {
          name: c.name,
          port: c.port,
          state: o?.probe.state ?? "down",
          detail: o ? detailOf(o.probe) : "not polled yet",
          encryptors: c.encryptors,
          ...proc,
          ...counts,
        };
      }
      if (status === undefined) {
        return {
          name: c.name,
          port: c.port,
          state: "up",
          detail: "unrecognised status document",
          encryptors: c.encryptors,
          ...proc,
          ...counts,
        };
      }
      return {
        name: c.name,
        port: c.port,
        state: "up",
        encryptors: status.encryptors ?? status.encryptor_names ?? c.encryptors,
        registeredHubs: status.peer_hubs.filter((p) => p.registered === true).length,
        ...proc,
        ...counts,
      };
    });

    const sparkKeys = new Set<string>(["total:issued", "total:delivered"]);
    const pairViews: PairView[] = [...pairs.values()]
      .map((p) => {
        const key = `pair:${p.master}${SEP}${p.slave}`;
        sparkKeys.add(key);
        this.history.push(key, p.issued.rate);
        return { ...p, spark: this.history.get(key) };
      })
      .sort((a, b) => (a.master === b.master ? a.slave.localeCompare(b.slave) : a.master.localeCompare(b.master)));

    const sum = (f: (c: ClientView) => KeyCounter | undefined): KeyCounter =>
      clients.reduce<KeyCounter>(
        (acc, c) => {
          const k = f(c);
          return k === undefined ? acc : { count: acc.count + k.count, rate: acc.rate + k.rate };
        },
        { count: 0, rate: 0 },
      );
    const totalIssued = sum((c) => c.issued);
    const totalDelivered = sum((c) => c.delivered);
    this.history.push("total:issued", totalIssued.rate);
    this.history.push("total:delivered", totalDelivered.rate);
    this.history.retain(sparkKeys);
    this.rates.retain(rateKeys);
    this.previousRound = now;

    return {
      seq: ++this.seq,
      time: new Date(now).toISOString(),
      pollMs: this.options.pollMs,
      rateWindowMs: this.rates.windowMs,
      psrd,
      minNrShares: config.min_nr_shares,
      hubs,
      clients,
      encryptors: this.topology.clients.flatMap((c) => c.encryptors.map((e) => ({ name: e, client: c.name }))),
      links,
      pairs: pairViews,
      totals: {
        issued: totalIssued,
        delivered: totalDelivered,
        nodesUp: [...hubs, ...clients].filter((n) => n.state === "up").length,
        nodes: hubs.length + clients.length,
        spark: { issued: this.history.get("total:issued"), delivered: this.history.get("total:delivered") },
      },
    };
  }

  /** The client↔hub link: pools from the client's status (preferred), else the hub's. */
  private link(
    client: string,
    hub: string,
    status: ClientStatusView | undefined,
    hubStatus: ReadonlyMap<string, HubStatusView>,
    bothUp: boolean,
    psrd: PsrdThresholds,
  ): LinkView {
    const fromClient = status?.peer_hubs.find((p) => p.hub_name === hub);
    const fromHub = hubStatus.get(hub)?.peer_clients.find((p) => p.client_name === client);
    const base =
      fromClient !== undefined
        ? {
            client,
            hub,
            source: "client" as const,
            registered: fromClient.registered,
            clientOwned: poolLevel(fromClient.pools?.client_owned, psrd),
            hubOwned: poolLevel(fromClient.pools?.hub_owned, psrd),
          }
        : fromHub !== undefined
          ? {
              client,
              hub,
              source: "hub" as const,
              registered: true,
              clientOwned: poolLevel(fromHub.pools?.client_owned, psrd),
              hubOwned: poolLevel(fromHub.pools?.hub_owned, psrd),
            }
          : { client, hub, source: "none" as const };
    return { ...base, level: linkLevelName(base, bothUp, psrd) };
  }
}
