/**
 * The whole example wired together: the two WireGuard hosts (wg-hosts.ts), the DSKE topology
 * (topology.ts), and one encryptor agent per host: the master (SAE sam) on host A, the slave
 * (SAE sunny) on host B, listening on B's underlay address. Used by `main.ts` and the test.
 */
import { AgentProcess } from "./agent-process.js";
import { startTopology, type RunningTopology } from "./topology.js";
import { WgHosts } from "./wg-hosts.js";

/** Where the slave agent listens, on host B's underlay address. */
export const SLAVE_AGENT_PORT = 19810;

export interface DemoOptions {
  /** Seconds between rotations (the master agent's `--interval`). */
  readonly intervalSeconds: number;
  /** Every line of dske-cli and of the agents, as it comes. */
  readonly onLine?: (source: string, line: string) => void;
}

export class WireguardPskDemo {
  readonly agents: AgentProcess[] = [];
  /** The master agent (host A, SAE sam), once started. */
  master: AgentProcess | undefined;
  /** The slave agent (host B, SAE sunny), once started. */
  slave: AgentProcess | undefined;
  private topo: RunningTopology | undefined;

  private constructor(readonly hosts: WgHosts) {}

  /** Hosts, topology, then the agents (slave first, so the master's first rotation finds it). */
  static async start(opts: DemoOptions): Promise<WireguardPskDemo> {
    const demo = new WireguardPskDemo(await WgHosts.create());
    try {
      await demo.startRest(opts);
    } catch (err) {
      await demo.stop();
      throw err;
    }
    return demo;
  }

  private async startRest(opts: DemoOptions): Promise<void> {
    const h = this.hosts;
    this.topo = await startTopology(h.gateway, (l) => opts.onLine?.("dske-cli", l));
    const common = (sae: "sam" | "sunny", peerSae: string, host: "a" | "b", peer: "a" | "b") => [
      "--sae",
      sae,
      "--peer-sae",
      peerSae,
      "--kme",
      this.etsiUrl(sae),
      "--interface",
      h.iface[host],
      "--peer-public-key",
      h.publicKey[peer],
    ];
    const listen = `${h.underlay("b")}:${SLAVE_AGENT_PORT}`;
    this.slave = new AgentProcess(
      "agent-b",
      h.ns("b"),
      ["--role", "slave", ...common("sunny", "sam", "b", "a"), "--listen", listen],
      opts.onLine,
    );
    this.agents.push(this.slave);
    await this.waitFor(this.slave, "listening", 30_000);
    this.master = new AgentProcess(
      "agent-a",
      h.ns("a"),
      [
        "--role",
        "master",
        ...common("sam", "sunny", "a", "b"),
        "--peer-agent",
        `http://${listen}`,
        "--interval",
        String(opts.intervalSeconds),
      ],
      opts.onLine,
    );
    this.agents.push(this.master);
    await this.waitFor(this.master, "started", 30_000);
  }

  /** ETSI base URL of an SAE's KME, as the agents reach it. */
  etsiUrl(sae: "sam" | "sunny"): string {
    if (this.topo === undefined) throw new Error("the topology is not running");
    return this.topo.etsiUrl(sae);
  }

  /** Wait until `agent` reported `event` (or exited: then throw with its stderr). */
  async waitFor(agent: AgentProcess, event: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!agent.events.some((e) => e.event === event)) {
      if (agent.exitCode !== null) throw new Error(`agent exited before "${event}": ${agent.diagnostics()}`);
      if (Date.now() > deadline) throw new Error(`agent did not report "${event}" in ${ms} ms: ${agent.diagnostics()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stop the agents (the preshared keys stay as last set). */
  async stopAgents(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop()));
  }

  /** Everything stopped and removed, whatever step failed: agents, topology, wireguard-go, namespaces. */
  async stop(): Promise<void> {
    const errors: unknown[] = [];
    await this.stopAgents().catch((e: unknown) => errors.push(e));
    await this.topo?.stop().catch((e: unknown) => errors.push(e));
    this.topo = undefined;
    await this.hosts.destroy().catch((e: unknown) => errors.push(e));
    if (errors.length > 0) throw new Error(`cleanup: ${errors.map(String).join("; ")}`);
  }
}
