/**
 * The dashboard's poll loop: every `pollMs`, ask every node of the topology for its management
 * status and its metrics (clients: key counters; every node: its process start time, to see
 * restarts), hand the round to the DashboardModel and publish the
 * snapshot to the listeners. Rounds never overlap; a slow or dead node costs at most the probe
 * timeout. A node whose probe times out keeps its last answer until it has not answered for
 * `downAfterMs`: a busy node is slow, not down (a refused connection shows it down at once).
 * Never throws from the loop.
 */
import http from "node:http";
import { loadAxios } from "./lazy-axios";
import { DashboardModel, type DashboardSnapshot, type NodeObservation } from "./dashboard-model";
import { operatorHeaders, operatorTarget, probeNode, type OperatorCredential, type ProbeResult } from "./mgmt";
import type { NodeSpec, Topology } from "./topology";

export interface DashboardPollerOptions {
  /** Poll period (default 1000 ms). */
  pollMs?: number;
  /** Per-node request time limit (default: the smaller of 800 ms and the poll period). */
  timeoutMs?: number;
  /**
   * A node that answered before and whose probe now times out is shown with its last answer
   * until it has not answered for this long (default 3000 ms, and at least the time limit).
   */
  downAfterMs?: number;
  /** The clock (tests may replace it). */
  now?: () => number;
  /** Sliding window for key rates (default 10 s). */
  rateWindowMs?: number;
  /** Span of the sparklines (default 60 s). */
  sparkSpanMs?: number;
  /** The operator token, and the operator's certificate when the topology's clients run with mutual TLS. */
  credential?: OperatorCredential;
  /** Status probe (tests may replace it). */
  probe?: (node: NodeSpec, timeoutMs: number, credential?: OperatorCredential) => Promise<ProbeResult>;
  /** Metrics fetch: the node's Prometheus text, or undefined (tests may replace it). */
  metrics?: (node: NodeSpec, timeoutMs: number, credential?: OperatorCredential) => Promise<string | undefined>;
}

export type SnapshotListener = (snapshot: DashboardSnapshot) => void;

const agent = new http.Agent({ keepAlive: false });

/**
 * `GET {node base}/metrics` (e.g. `http://127.0.0.1:8105/client/carol/metrics`; operator token,
 * and https with the operator's certificate for a client under TLS): the node's Prometheus text,
 * or undefined when it serves none (older nodes), refuses, or does not answer.
 */
export async function fetchNodeMetrics(node: NodeSpec, timeoutMs: number, credential?: OperatorCredential): Promise<string | undefined> {
  const { base, httpsAgent } = operatorTarget(node, credential);
  try {
    const axios = await loadAxios();
    const res = await axios.get<string>(`${base}/metrics`, {
      httpAgent: agent,
      httpsAgent,
      headers: operatorHeaders(credential),
      proxy: false,
      timeout: timeoutMs,
      responseType: "text",
      transformResponse: (d: unknown) => d,
      validateStatus: () => true,
    });
    const type = String(res.headers["content-type"] ?? "");
    return res.status === 200 && typeof res.data === "string" && type.startsWith("text/plain") ? res.data : undefined;
  } catch {
    return undefined;
  }
}

export class DashboardPoller {
  readonly pollMs: number;
  private readonly timeoutMs: number;
  private readonly downAfterMs: number;
  private readonly now: () => number;
  /** Each node's last answered observation and when it came. */
  private readonly lastAnswer = new Map<string, { at: number; observation: NodeObservation }>();
  private readonly model: DashboardModel;
  private readonly listeners = new Set<SnapshotListener>();
  private latestSnapshot: DashboardSnapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private round: Promise<void> | undefined;

  constructor(
    private readonly topology: Topology,
    private readonly options: DashboardPollerOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? Math.min(800, this.pollMs);
    this.downAfterMs = Math.max(options.downAfterMs ?? 3000, this.timeoutMs);
    this.now = options.now ?? Date.now;
    this.model = new DashboardModel(topology, {
      pollMs: this.pollMs,
      rateWindowMs: options.rateWindowMs,
      sparkSpanMs: options.sparkSpanMs,
    });
  }

  /** The latest snapshot (undefined before the first round completed). */
  get latest(): DashboardSnapshot | undefined {
    return this.latestSnapshot;
  }

  /** Subscribe; returns the unsubscribe function. */
  subscribe(listener: SnapshotListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One poll round (also usable without start()). */
  async pollOnce(): Promise<DashboardSnapshot> {
    const probe = this.options.probe ?? probeNode;
    const metrics = this.options.metrics ?? fetchNodeMetrics;
    const observations = await Promise.all(
      this.topology.nodes.map(async (node): Promise<NodeObservation> => {
        const p = await probe(node, this.timeoutMs, this.options.credential);
        const last = this.lastAnswer.get(node.name);
        if (p.state === "down" && p.timedOut === true && last !== undefined && this.now() - last.at < this.downAfterMs) {
          return last.observation;
        }
        const m = p.state === "up" ? await metrics(node, this.timeoutMs, this.options.credential) : undefined;
        const observation: NodeObservation = m === undefined ? { node, probe: p } : { node, probe: p, metrics: m };
        if (p.state === "up") this.lastAnswer.set(node.name, { at: this.now(), observation });
        else this.lastAnswer.delete(node.name);
        return observation;
      }),
    );
    const snapshot = this.model.update(observations, this.now());
    this.latestSnapshot = snapshot;
    for (const l of this.listeners) {
      try {
        l(snapshot);
      } catch {
        // A failing listener (a closed connection) must not stop the others.
      }
    }
    return snapshot;
  }

  /** Start polling: a round now, then one every pollMs (measured from each round's start). */
  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = (): void => {
      if (!this.running) return;
      const started = Date.now();
      this.round = this.pollOnce()
        .then(() => undefined)
        .catch(() => undefined)
        .finally(() => {
          this.round = undefined;
          if (!this.running) return;
          this.timer = setTimeout(loop, Math.max(0, this.pollMs - (Date.now() - started)));
        });
    };
    loop();
  }

  /** Stop polling; resolves when the round in flight, if there is one, finished. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.round;
  }
}
