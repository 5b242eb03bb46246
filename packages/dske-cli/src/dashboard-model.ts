/**
 * The dashboard's domain: from one round of observations of every node (its management status,
 * or why it did not answer; optionally its metrics) to a snapshot the page draws — nodes with
 * their state, the client↔hub links with both PSRD pools, encryptors, and key counts with rates
 * (per client from the status' key counts, per SAE pair from the clients' metrics). Pure: no
 * HTTP, no timers; the poller feeds it and the server publishes what it returns.
 */
import type { DskeConfig } from "./config";
import type { ProbeResult } from "./mgmt";
import { pairKeyCounts, parsePrometheusText } from "./dashboard-metrics";
import { RateTracker } from "./dashboard-rates";
import { clientStatusSchema, hubStatusSchema, type HubStatusView, type PoolStatsView } from "./status-schema";
import type { NodeSpec, Topology } from "./topology";

export type NodeState = "up" | "down" | "foreign";

/** One PSRD pool as the page draws it (bytes). */
export interface PoolLevel {
  readonly available: number;
  readonly used: number;
  readonly size: number;
}

export interface HubView {
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

export interface ClientView {
  readonly name: string;
  readonly port: number;
  readonly state: NodeState;
  readonly detail?: string;
  readonly encryptors: readonly string[];
  /** Hubs this client is registered with (up only). */
  readonly registeredHubs?: number;
  /** Keys issued to this client's master SAEs (enc_keys), and delivered to its slave SAEs (dec_keys). */
  readonly issued?: KeyCounter;
  readonly delivered?: KeyCounter;
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
}

/** Keys of one SAE pair, from the clients' metrics. */
export interface PairView {
  readonly master: string;
  readonly slave: string;
  /** Keys handed to the master SAE (its KME's count), with their rate. */
  readonly issued: KeyCounter;
  /** Keys handed to the slave SAE (its KME's count), with their rate. */
  readonly delivered: KeyCounter;
}

export interface DashboardSnapshot {
  /** Increases by one per poll round. */
  readonly seq: number;
  /** ISO time of the poll round. */
  readonly time: string;
  readonly pollMs: number;
  readonly rateWindowMs: number;
  /** For the gauges: refill starts below `start`, stops above `stop`; `full` is the gauge's top. */
  readonly psrd: { readonly start: number; readonly stop: number; readonly full: number };
  readonly minNrShares: number;
  readonly hubs: readonly HubView[];
  readonly clients: readonly ClientView[];
  readonly encryptors: readonly EncryptorView[];
  readonly links: readonly LinkView[];
  /** Keys per SAE pair; empty when no client publishes per-pair counters. */
  readonly pairs: readonly PairView[];
  /** Totals over all clients. */
  readonly totals: { readonly issued: KeyCounter; readonly delivered: KeyCounter; readonly nodesUp: number; readonly nodes: number };
}

/** What the poller learnt about one node in one round. */
export interface NodeObservation {
  readonly node: NodeSpec;
  readonly probe: ProbeResult;
  /** The node's Prometheus text exposition, when it serves one. */
  readonly metrics?: string;
}

function poolLevel(p: PoolStatsView | null | undefined): PoolLevel | undefined {
  if (p === undefined || p === null) return undefined;
  const size = p.size ?? (p.available !== undefined && p.used !== undefined ? p.available + p.used : undefined);
  const used = p.used ?? (size !== undefined && p.available !== undefined ? size - p.available : undefined);
  const available = p.available ?? (size !== undefined && used !== undefined ? size - used : undefined);
  if (size === undefined || used === undefined || available === undefined) return undefined;
  return { available, used, size };
}

function keyCount(keys: unknown, field: "issued" | "delivered"): number | undefined {
  if (typeof keys !== "object" || keys === null) return undefined;
  const v = (keys as Record<string, unknown>)[field];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function detailOf(probe: ProbeResult): string | undefined {
  return probe.state === "up" ? undefined : probe.detail;
}

/** Turns rounds of observations into snapshots; keeps the counter history for rates. */
export class DashboardModel {
  private seq = 0;
  private readonly rates: RateTracker;

  constructor(
    private readonly topology: Topology,
    private readonly options: { pollMs: number; rateWindowMs?: number },
  ) {
    this.rates = new RateTracker(options.rateWindowMs ?? 10_000);
  }

  /** One poll round's snapshot at time `now` (ms). Observations of unknown nodes are ignored. */
  update(observations: readonly NodeObservation[], now: number): DashboardSnapshot {
    const byName = new Map(observations.map((o) => [`${o.node.kind}:${o.node.name}`, o]));
    const config: DskeConfig = this.topology.config;
    const counterKeys = new Set<string>();
    const track = (key: string, value: number): KeyCounter => {
      counterKeys.add(key);
      this.rates.add(key, now, value);
      return { count: value, rate: this.rates.rate(key) };
    };
    const counter = (key: string, value: number | undefined): KeyCounter | undefined =>
      value === undefined ? undefined : track(key, value);

    const hubStatus = new Map<string, HubStatusView>();
    const hubs: HubView[] = this.topology.hubs.map((h) => {
      const o = byName.get(`hub:${h.name}`);
      if (o === undefined || o.probe.state !== "up") {
        return { name: h.name, port: h.port, state: o?.probe.state ?? "down", detail: o ? detailOf(o.probe) : "not polled yet" };
      }
      const parsed = hubStatusSchema.safeParse(o.probe.status);
      if (!parsed.success) return { name: h.name, port: h.port, state: "up", detail: "unrecognised status document" };
      hubStatus.set(h.name, parsed.data);
      return {
        name: h.name,
        port: h.port,
        state: "up",
        shares: parsed.data.shares?.length,
        peerClients: parsed.data.peer_clients.length,
      };
    });

    const links: LinkView[] = [];
    const pairCounts = new Map<string, { master: string; slave: string; issued: number; delivered: number }>();
    const clients: ClientView[] = this.topology.clients.map((c) => {
      const o = byName.get(`client:${c.name}`);
      const parsed = o?.probe.state === "up" ? clientStatusSchema.safeParse(o.probe.status) : undefined;
      const status = parsed?.success ? parsed.data : undefined;
      for (const h of this.topology.hubs) {
        const fromClient = status?.peer_hubs.find((p) => p.hub_name === h.name);
        if (fromClient !== undefined) {
          links.push({
            client: c.name,
            hub: h.name,
            source: "client",
            registered: fromClient.registered,
            clientOwned: poolLevel(fromClient.pools?.client_owned),
            hubOwned: poolLevel(fromClient.pools?.hub_owned),
          });
          continue;
        }
        const fromHub = hubStatus.get(h.name)?.peer_clients.find((p) => p.client_name === c.name);
        if (fromHub !== undefined) {
          links.push({
            client: c.name,
            hub: h.name,
            source: "hub",
            registered: true,
            clientOwned: poolLevel(fromHub.pools?.client_owned),
            hubOwned: poolLevel(fromHub.pools?.hub_owned),
          });
          continue;
        }
        links.push({ client: c.name, hub: h.name, source: "none" });
      }
      if (o?.metrics !== undefined) {
        for (const p of pairKeyCounts(parsePrometheusText(o.metrics))) {
          // The master's KME counts issued keys, the slave's KME delivered ones (multicast: several).
          const k = `${p.master}\u0000${p.slave}`;
          const prev = pairCounts.get(k) ?? { master: p.master, slave: p.slave, issued: 0, delivered: 0 };
          pairCounts.set(k, { ...prev, issued: prev.issued + p.issued, delivered: prev.delivered + p.delivered });
        }
      }
      if (o === undefined || o.probe.state !== "up") {
        return {
          name: c.name,
          port: c.port,
          state: o?.probe.state ?? "down",
          detail: o ? detailOf(o.probe) : "not polled yet",
          encryptors: c.encryptors,
        };
      }
      if (status === undefined) {
        return { name: c.name, port: c.port, state: "up", detail: "unrecognised status document", encryptors: c.encryptors };
      }
      return {
        name: c.name,
        port: c.port,
        state: "up",
        encryptors: status.encryptors ?? status.encryptor_names ?? c.encryptors,
        registeredHubs: status.peer_hubs.filter((p) => p.registered === true).length,
        issued: counter(`issued:${c.name}`, keyCount(status.keys, "issued")),
        delivered: counter(`delivered:${c.name}`, keyCount(status.keys, "delivered")),
      };
    });

    const pairs: PairView[] = [...pairCounts.values()]
      .map((p) => ({
        master: p.master,
        slave: p.slave,
        issued: track(`pair-issued:${p.master}\u0000${p.slave}`, p.issued),
        delivered: track(`pair-delivered:${p.master}\u0000${p.slave}`, p.delivered),
      }))
      .sort((a, b) => (a.master === b.master ? a.slave.localeCompare(b.slave) : a.master.localeCompare(b.master)));

    // Totals over the clients that answered (a down client's counters are left out, not zero).
    const sum = (f: (c: ClientView) => KeyCounter | undefined): KeyCounter =>
      clients.reduce<KeyCounter>(
        (acc, c) => {
          const k = f(c);
          return k === undefined ? acc : { count: acc.count + k.count, rate: acc.rate + k.rate };
        },
        { count: 0, rate: 0 },
      );
    this.rates.retain(counterKeys);

    const stop = config.stop_request_psrd_threshold;
    return {
      seq: ++this.seq,
      time: new Date(now).toISOString(),
      pollMs: this.options.pollMs,
      rateWindowMs: this.rates.windowMs,
      psrd: { start: config.start_request_psrd_threshold, stop, full: stop + config.get_psrd_block_size },
      minNrShares: config.min_nr_shares,
      hubs,
      clients,
      encryptors: this.topology.clients.flatMap((c) => c.encryptors.map((e) => ({ name: e, client: c.name }))),
      links,
      pairs,
      totals: {
        issued: sum((c) => c.issued),
        delivered: sum((c) => c.delivered),
        nodesUp: [...hubs, ...clients].filter((n) => n.state === "up").length,
        nodes: hubs.length + clients.length,
      },
    };
  }
}
