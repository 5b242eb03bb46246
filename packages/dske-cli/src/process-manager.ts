/**
 * One detached background process per node: start (wait for free ports, spawn, wait until every
 * node answers its management status) and stop (mgmt stop, else SIGTERM, then SIGKILL; wait until
 * the port is free), with the reference manager's progress lines. Nodes of the topology with
 * `implementation: reference` are run by the reference implementation's own manager: start and
 * stop report them as external and leave them alone. In a multi-host topology `start` starts only
 * the nodes placed on this machine (placement.ts) and lists the others as remote; `stop` asks
 * remote nodes to stop over their management API and waits until they no longer answer.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { certLayout, ensureCertificates, readTlsMaterial, setTlsEnabled, tlsEnabled, type TlsMaterial } from "./certs";
import { certSansFor } from "./cert-sans";
import { CliError } from "./errors";
import { processModeOf, type ProcessMode } from "./config";
import { humanLogLine } from "./log-format";
import { probeNode, requestStop, type OperatorCredential, type ProbeResult } from "./mgmt";
import { ensureOperatorToken, readOperatorToken } from "./operator-token";
import { distributionPlan, nodeArgs, nodeEnv, serverScript, type ServerScripts } from "./node-command";
import type { NodeHostSpec, StandbyHandover } from "./node-host-spec";
import { diagnosticNodeFlags, nodeHostScript, releaseStandbyHost, takeStandbyHost, TITLE_ROOM } from "./standby-host";
import type { Output } from "./output";
import { describeProcess, isNodeProcessAlive, readPidFile, removePidFile, signalNode, writePidFile } from "./pid-file";
import { isPortFree } from "./ports";
import { checkPorts, portConflictError } from "./port-conflicts";
import { notRunningLine, nothingToStopLine, runningNodes } from "./running-nodes";
import type { StateDir } from "./state-dir";
import { clientStatusSchema } from "./status-schema";
import { isLocal, nodePlace } from "./placement";
import { removeStalePidFile } from "./stale-pid";
import { clearStopRequested, markStopRequested, resetRecord } from "./supervisor-state";
import { isExternal, nodeLabel, wireName, type NodeSpec, type Selection, type Topology } from "./topology";

export interface ManagerTimeouts {
  /** How long start waits for the selected ports to become free. */
  portFreeMs: number;
  /** How long start waits for every node to answer (and clients to be registered). */
  startMs: number;
  /** How long stop waits for every port to be free before giving up. */
  stopMs: number;
  /** After this long without stopping, a node gets SIGTERM (if mgmt stop was accepted but it hangs). */
  termAfterMs: number;
  /** After this long, SIGKILL. */
  killAfterMs: number;
  /** Interval of "Still waiting for ..." lines. */
  stillWaitingEveryMs: number;
  /** Poll interval. */
  pollMs: number;
}

export const DEFAULT_TIMEOUTS: ManagerTimeouts = {
  portFreeMs: 60_000,
  startMs: 60_000,
  stopMs: 60_000,
  termAfterMs: 10_000,
  killAfterMs: 20_000,
  stillWaitingEveryMs: 5_000,
  pollMs: 100,
};

export interface ProcessManagerOptions {
  topology: Topology;
  state: StateDir;
  out: Output;
  scripts?: ServerScripts;
  timeouts?: Partial<ManagerTimeouts>;
  /** Extra environment for node processes. */
  env?: NodeJS.ProcessEnv;
  /**
   * `start` runs the clients with mutual TLS (`start --tls` or `tls: true` in the config): creates
   * missing certificates and records the mode in `<state>/tls/enabled`. Without it, a recorded mode
   * is kept while clients still run with TLS (management calls then use the operator certificate).
   */
  tls?: boolean;
  /** `start --on HOST`: start only the nodes whose host is one of these (placement.ts). */
  on?: readonly string[];
  /** This machine's addresses (tests); default os.networkInterfaces(). */
  localAddresses?: ReadonlySet<string>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function capitalised(node: NodeSpec): string {
  return node.kind === "hub" ? "Hub" : "Client";
}

/** Last `n` lines of a file starting at byte `from` (the current run's part of the log). */
export function tailFile(file: string, n: number, from = 0): string {
  try {
    const text = readFileSync(file, "utf8").slice(from);
    const lines = text.split("\n").filter((l) => l.length > 0);
    return lines.slice(-n).join("\n");
  } catch {
    return "";
  }
}

/** A node process spawned by this manager (the supervisor reads `exit` of the ones it restarts). */
export interface Spawned {
  readonly node: NodeSpec;
  readonly pid: number;
  readonly logFrom: number;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  goneSince?: number;
}

/** How long a spawned node may look gone in /proc, with no 'exit' event, before it counts as dead. */
const EXIT_EVENT_GRACE_MS = 5000;
/**
 * Longest long poll of a starting client's status (wait_ready_ms): it answers as soon as the
 * client is ready; until then the round waits (a client that dies meanwhile closes the connection).
 */
const READY_WAIT_MS = 1000;

export class ProcessManager {
  private readonly t: ManagerTimeouts;

  /** The operator's certificate while the topology's clients run with TLS. */
  private tlsMaterial: TlsMaterial | undefined;
  /** The topology's operator token (undefined until a start created it). */
  private token: string | undefined;

  constructor(private readonly opts: ProcessManagerOptions) {
    this.t = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    if (tlsEnabled(opts.state.root)) this.tlsMaterial = operatorTls(opts.state.root);
    this.token = readOperatorToken(opts.state.root);
  }

  /** What proves the operator to the nodes (management calls). */
  get credential(): OperatorCredential {
    return { token: this.token, tls: this.tlsMaterial };
  }

  /** Decide the TLS mode of `start` (see ProcessManagerOptions.tls) and prepare certificates. */
  private async prepareTls(): Promise<void> {
    const { topology, state } = this.opts;
    const ourClients = topology.clients.filter((c) => !isExternal(c) && this.isLocal(c));
    if (this.opts.tls === true) {
      if (this.tlsMaterial === undefined) {
        const plain = await Promise.all(
          ourClients.map(async (c) => ((await probeNode(c, 2000, { token: this.token })).state === "up" ? c.name : undefined)),
        );
        const running = plain.filter((n): n is string => n !== undefined);
        if (running.length > 0) {
          throw new CliError(`client(s) ${running.join(", ")} run over plain HTTP; stop them first (dske-cli stop), then start with TLS`);
        }
      }
      const r = await ensureCertificates(state.root, {
        clients: ourClients.map((c) => c.name),
        hubs: topology.hubs.filter((h) => !isExternal(h)).map((h) => h.name),
        saes: topology.allEncryptors(),
        sans: certSansFor(topology, state.root),
      });
      if (r.created.length > 0) this.out.line(`Created ${r.created.length} TLS certificate(s) under ${certLayout(state.root).dir}`);
      setTlsEnabled(state.root, true);
      this.tlsMaterial = operatorTls(state.root);
      return;
    }
    if (this.tlsMaterial === undefined) return;
    const up = await Promise.all(ourClients.map(async (c) => (await probeNode(c, 2000, this.credential)).state === "up"));
    if (up.some((u) => u)) {
      this.out.line("Clients of this topology run with mutual TLS (recorded in the state dir): starting clients with TLS");
      return;
    }
    setTlsEnabled(state.root, false);
    this.tlsMaterial = undefined;
  }

  private get out(): Output {
    return this.opts.out;
  }

  /** Probe a node: is it up and really the node we expect (status name matches)? */
  async probe(node: NodeSpec, waitReadyMs?: number): Promise<ProbeResult> {
    const r = await probeNode(node, 2000, this.credential, waitReadyMs);
    if (r.state === "up") {
      const name = (r.status as { name?: unknown }).name;
      if (name !== wireName(node)) {
        return { state: "foreign", detail: `port ${node.port} answers as '${String(name)}', not ${nodeLabel(node)}` };
      }
    }
    return r;
  }

  /** Is the node placed on this machine (or named by `start --on`)? */
  isLocal(node: NodeSpec): boolean {
    return isLocal(node, this.opts.on, this.opts.localAddresses);
  }

  /**
   * Report the selected external nodes (reference implementation), and with `localOnly` (start)
   * the nodes placed on other machines; the others are ours to handle.
   */
  private ours(selection: Selection, verb: "started" | "stopped", localOnly = false): { nodes: NodeSpec[]; description: string } {
    const external = selection.nodes.filter(isExternal);
    for (const node of external) {
      this.out.line(
        `${capitalised(node)} ${node.name} on ${nodePlace(node)} is external (reference implementation): not ${verb} by dske-cli`,
      );
    }
    const remote = localOnly ? selection.nodes.filter((n) => !isExternal(n) && !this.isLocal(n)) : [];
    for (const node of remote) {
      this.out.line(`${capitalised(node)} ${node.name} on ${nodePlace(node)} is remote (placed on another host): not ${verb} here`);
    }
    const nodes = selection.nodes.filter((n) => !isExternal(n) && !remote.includes(n));
    return { nodes, description: external.length === 0 && remote.length === 0 ? selection.description : describe(nodes) };
  }

  /**
   * Start the selected nodes (already running ones, and external ones, are left alone); `mode`:
   * separate or shared (default: the config's, processModeOf).
   */
  async start(selection: Selection, mode: ProcessMode = processModeOf(this.opts.topology.config)): Promise<void> {
    const { topology, state } = this.opts;
    const ours = this.ours(selection, "started", true);
    if (ours.nodes.length === 0) return;
    this.token = ensureOperatorToken(state.root).token; // created (mode 0600) when missing
    await this.prepareTls();
    const probes = await Promise.all(ours.nodes.map((n) => this.probe(n)));
    const toStart: NodeSpec[] = [];
    ours.nodes.forEach((node, i) => {
      if (probes[i].state === "up") {
        this.out.line(`${capitalised(node)} ${node.name} is already running on ${nodePlace(node)}`);
      } else {
        toStart.push(node);
      }
    });
    if (toStart.length === 0) return;
    const desc = toStart.length === ours.nodes.length ? ours.description : describe(toStart);
    for (const node of toStart) {
      const stale = removeStalePidFile(state, node);
      if (stale !== undefined) this.out.line(stale);
      // Started afresh: no stop request, no restarts or crash on record (supervisor-state.ts).
      clearStopRequested(state, node.name);
      resetRecord(state, node.name);
    }

    // Check the scripts exist before waiting for anything.
    for (const kind of new Set(toStart.map((n) => n.kind))) {
      const script = serverScript(kind, this.opts.scripts);
      if (!existsSync(script)) {
        throw new CliError(`cannot start ${kind} nodes: server script ${script} does not exist (build it first: pnpm -r build)`);
      }
    }

    // A port held by another program fails at once; only our own nodes still stopping are waited for.
    const ports = await checkPorts(toStart, (n) => this.pidAlive(n));
    if (ports.conflicts.length > 0) throw portConflictError(ports.conflicts);
    if (ports.stopping.length > 0) {
      this.out.line(`Waiting for ${ports.stopping.length === toStart.length ? desc : describe(ports.stopping)} to be stopped`);
      await this.waitUntilStopped(ports.stopping, this.t.portFreeMs, false);
    }

    state.ensure();
    state.writeKmeDirectory(topology.kmeDirectory());
    state.writeDistributionPlan(distributionPlan(topology, state, this.tlsMaterial !== undefined));
    const spawned: Spawned[] = [];
    const hosted = this.hostable(toStart, mode);
    if (hosted.length === 0) releaseStandbyHost();
    for (const node of toStart) {
      this.out.line(`Starting ${node.kind} ${node.name} on ${nodePlace(node)}`);
      if (!hosted.includes(node)) spawned.push(this.spawnNode(node));
    }
    if (hosted.length > 0) {
      const inHost = this.spawnHost(hosted);
      spawned.push(...inHost);
      this.out.line(`Node host (pid ${inHost[0].pid}) runs ${describe(hosted)} in one process`);
    }

    this.out.line(`Waiting for ${desc} to be started`);
    await this.waitUntilStarted(spawned);
  }

  /**
   * The nodes that `processes: shared` puts into one node host: those on a file store (a node on
   * PostgreSQL takes its database URL from its own environment, so it keeps its own process);
   * none when there are fewer than two.
   */
  private hostable(nodes: readonly NodeSpec[], mode: ProcessMode): NodeSpec[] {
    if (mode !== "shared") return [];
    const hostable = nodes.filter((n) => n.storage?.kind !== "postgres");
    return hostable.length >= 2 ? hostable : [];
  }

  /**
   * Spawn one node host (node-host.ts) for `nodes`, detached, with its spec under `<state>/hosts`;
   * every node gets the host's pid in its pid file. The host's own stdout/stderr go to
   * `<state>/logs/host-FIRST.log`; each node writes its own log as on its own. The standby host
   * that bin.ts spawned takes the nodes where there is one (standby-host.ts); else a fresh host.
   */
  spawnHost(nodes: readonly NodeSpec[]): Spawned[] {
    const { topology, state } = this.opts;
    const tls = this.tlsMaterial !== undefined;
    const spec: NodeHostSpec = {
      nodes: nodes.map((n) => ({
        name: n.name,
        kind: n.kind,
        args: nodeArgs(n, topology, state, tls),
        pidFile: state.pidFile(n.name),
      })),
    };
    const hostsDir = path.join(state.root, "hosts");
    mkdirSync(hostsDir, { recursive: true, mode: 0o700 });
    const specFile = path.join(hostsDir, `${nodes[0].name}.json`);
    writeFileSync(specFile, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 });
    // The node names on the command line: isNodeProcessAlive(pid, NAME) knows the host as each of them.
    const hostArgv = [specFile, ...nodes.map((n) => n.name)];
    const args = [...diagnosticNodeFlags(), nodeHostScript(), ...hostArgv];
    const command = [process.execPath, ...args].join(" ");
    // The standby host spawned by bin.ts (standby-host.ts), unless this start needs other settings.
    const standby = this.opts.env === undefined && command.length <= TITLE_ROOM ? takeStandbyHost() : undefined;
    const logFroms = nodes.map((n) => (existsSync(state.logFile(n.name)) ? statSync(state.logFile(n.name)).size : 0));
    for (const [i, n] of nodes.entries()) {
      const line = { level: "info", time: new Date().toISOString(), kind: n.kind, node: n.name, source: "dske-cli", msg: "starting" };
      // `args`: the node's own arguments (in the spec file), as its own process would get them.
      const nodeLine = { ...line, host: specFile, command, args: spec.nodes[i].args.join(" "), standby_host: standby !== undefined };
      writeFileSync(state.logFile(n.name), `${JSON.stringify(nodeLine)}\n`, {
        flag: "a",
      });
    }
    const output = path.join(state.root, "logs", `host-${nodes[0].name}.log`);
    const fd = standby === undefined ? openSync(output, "a") : undefined;
    try {
      let child;
      if (standby !== undefined) {
        const handover: StandbyHandover = { argv: hostArgv, title: command, cwd: state.root, output };
        standby.stdin?.end(`${JSON.stringify(handover)}\n`);
        child = standby;
      } else {
        child = spawn(process.execPath, args, {
          detached: true,
          stdio: ["ignore", fd, fd],
          cwd: state.root,
          env: { ...process.env, ...this.opts.env },
        });
      }
      if (child.pid === undefined) throw new CliError(`could not start the node host of ${describe(nodes)} (spawn failed)`);
      const pid = child.pid;
      const spawned = nodes.map((node, i): Spawned => ({ node, pid, logFrom: logFroms[i] }));
      child.once("exit", (code, signal) => {
        for (const s of spawned) s.exit = { code, signal };
      });
      child.unref();
      for (const n of nodes) writePidFile(state.pidFile(n.name), pid);
      return spawned;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** Spawn the node detached (its log and pid file as `start` makes them); also the supervisor's restart. */
  spawnNode(node: NodeSpec): Spawned {
    const { topology, state } = this.opts;
    const script = serverScript(node.kind, this.opts.scripts);
    const args = [...diagnosticNodeFlags(), script, ...nodeArgs(node, topology, state, this.tlsMaterial !== undefined)];
    const logFile = state.logFile(node.name);
    const fd = openSync(logFile, "a");
    const logFrom = statSync(logFile).size;
    try {
      // One JSON line like the node's own (every line of the log is JSON; the node appends to it).
      const line = { level: "info", time: new Date().toISOString(), kind: node.kind, node: node.name, source: "dske-cli", msg: "starting" };
      writeSync(fd, `${JSON.stringify({ ...line, command: [process.execPath, ...args].join(" ") })}\n`);
      const child = spawn(process.execPath, args, {
        detached: true,
        stdio: ["ignore", fd, fd],
        cwd: state.root,
        env: { ...process.env, ...this.opts.env, ...nodeEnv(node, { ...process.env, ...this.opts.env }) },
      });
      if (child.pid === undefined) throw new CliError(`could not start ${nodeLabel(node)} (spawn failed)`);
      const s: Spawned = { node, pid: child.pid, logFrom };
      child.once("exit", (code, signal) => {
        s.exit = { code, signal };
      });
      child.unref();
      writePidFile(state.pidFile(node.name), child.pid);
      return s;
    } finally {
      closeSync(fd);
    }
  }

  private async waitUntilStarted(spawned: Spawned[]): Promise<void> {
    const deadline = Date.now() + this.t.startMs;
    const pending = new Set(spawned);
    let nextNotice = Date.now() + this.t.stillWaitingEveryMs;
    const failures: string[] = [];
    // Hubs of this start that answered: up for the clients' readiness checks while their process
    // runs (its exit event, or /proc, says otherwise), without a status call per round.
    const answered = new Set<Spawned>();
    const plainOnly = new Set<Spawned>();
    while (pending.size > 0) {
      const roundStart = Date.now();
      // One probe per node and round: the clients' readiness checks share the hubs' answers (each
      // status call costs the nodes CPU while they are still starting).
      const round = new Map<NodeSpec, Promise<ProbeResult>>();
      for (const s of answered) {
        if (s.exit === undefined && s.goneSince === undefined) round.set(s.node, Promise.resolve({ state: "up", status: undefined }));
      }
      const probe = (n: NodeSpec): Promise<ProbeResult> => {
        let p = round.get(n);
        if (p === undefined) {
          p = this.probe(n);
          round.set(n, p);
        }
        return p;
      };
      await Promise.all(
        [...pending].map(async (s) => {
          // The node is our child: its 'exit' event decides (and names the code). /proc is only the
          // fallback for an event that never comes, and then only after the process has looked
          // gone on every look for EXIT_EVENT_GRACE_MS: one look at a node still starting on a
          // loaded machine is not proof of death (a node declared dead here kept running).
          if (s.exit === undefined) {
            if (isNodeProcessAlive(s.pid, s.node.name)) s.goneSince = undefined;
            else s.goneSince ??= Date.now();
          }
          const dead = s.exit !== undefined || (s.goneSince !== undefined && Date.now() - s.goneSince > EXIT_EVENT_GRACE_MS);
          if (dead) {
            pending.delete(s);
            removePidFile(this.opts.state.pidFile(s.node.name));
            const how = s.exit
              ? s.exit.signal
                ? `was killed by ${s.exit.signal}`
                : `exited with code ${s.exit.code}`
              : `is gone (${describeProcess(s.pid)}; no exit status)`;
            failures.push(this.startFailure(s, `${nodeLabel(s.node)} ${how} during startup`));
            return;
          }
          // A client is judged once the hubs started with it answer: a hub still starting would
          // count as down, and the client as ready before it registered with that hub.
          const hubsStarting = s.node.kind === "client" && [...pending].some((p) => p.node.kind === "hub");
          if (hubsStarting) return;
          // A client whose hubs all answer is asked with a long poll: it answers as soon as it is
          // ready (registered, PSRD both ways), so the start ends then, not at the next round.
          // Not while one of its hubs is down: it would not be ready before the long poll ends.
          const hubsUp =
            s.node.kind === "client" && (await Promise.all(this.opts.topology.hubsOf(s.node).map(probe))).every((h) => h.state === "up");
          // A node that does not answer the long poll with its status (another implementation
          // may refuse the query) is asked plainly from then on.
          let r =
            hubsUp && !plainOnly.has(s) ? await this.probe(s.node, Math.max(0, Math.min(READY_WAIT_MS, deadline - Date.now()))) : undefined;
          if (r?.state === "foreign") plainOnly.add(s);
          if (r === undefined || r.state === "foreign") r = await probe(s.node);
          if (r.state === "up" && (await this.isReady(s.node, r.status, probe))) {
            pending.delete(s);
            if (s.node.kind === "hub") answered.add(s);
            // Progress while waiting: one line per node as it becomes ready.
            this.out.line(`${capitalised(s.node)} ${s.node.name} is up (${spawned.length - pending.size} of ${spawned.length})`);
          }
        }),
      );
      if (pending.size === 0) break;
      if (Date.now() >= nextNotice) {
        nextNotice = Date.now() + this.t.stillWaitingEveryMs;
        this.out.line(`Still waiting for ${[...pending].map((p) => nodeLabel(p.node)).join(", ")} to be started`);
      }
      if (Date.now() > deadline) {
        for (const s of pending) {
          failures.push(
            this.startFailure(s, `${nodeLabel(s.node)} did not answer on ${nodePlace(s.node)} within ${this.t.startMs / 1000} s`),
          );
        }
        break;
      }
      // Rounds at least pollMs apart (a long poll that answered early, e.g. from an older client
      // that ignores wait_ready_ms, must not make this loop spin).
      await sleep(Math.max(0, roundStart + this.t.pollMs - Date.now()));
    }
    if (failures.length > 0) throw new CliError(failures.join("\n"));
  }

  private startFailure(s: Spawned, what: string): string {
    const log = this.opts.state.logFile(s.node.name);
    const tail = tailFile(log, 20, s.logFrom).split("\n").map(humanLogLine).join("\n"); // as `dske-cli logs` shows them
    return `${what} (log: ${log})${tail ? `\n--- last lines of ${log} ---\n${tail}\n---` : ""}`;
  }

  /**
   * A hub is ready when it answers. A client is ready when it is registered with every hub that
   * is currently up (so that keys can be requested right after `start`). Status documents
   * without registration info count as ready.
   */
  private async isReady(node: NodeSpec, status: unknown, probe: (n: NodeSpec) => Promise<ProbeResult>): Promise<boolean> {
    if (node.kind === "hub") return true;
    const parsed = clientStatusSchema.safeParse(status);
    if (!parsed.success) return true;
    const hubsUp = await Promise.all(
      this.opts.topology.hubsOf(node).map(async (h) => ((await probe(h)).state === "up" ? h.name : undefined)),
    );
    for (const hubName of hubsUp) {
      if (hubName === undefined) continue;
      const peer = parsed.data.peer_hubs.find((p) => p.hub_name === hubName);
      if (peer === undefined) continue; // the client does not know the hub's name yet: can't tell
      if (peer.registered === false) return false;
      const pools = peer.pools;
      if (pools !== undefined) {
        // Reported pools must exist and hold PSRD in both directions.
        if (pools === null || !pools.client_owned || !pools.hub_owned) return false;
        if (pools.client_owned.available === 0 || pools.hub_owned.available === 0) return false;
      }
    }
    return true;
  }

  /** Stop the selected nodes, clients first, in reverse order (as the reference); external ones are left alone. */
  async stop(selection: Selection): Promise<void> {
    const ours = this.ours(selection, "stopped");
    if (ours.nodes.length === 0) return;
    for (const node of [...ours.nodes].reverse()) {
      if (!this.isLocal(node)) continue;
      const stale = removeStalePidFile(this.opts.state, node);
      if (stale !== undefined) this.out.line(stale);
      // Its end is no crash: the supervisor leaves it down (supervisor-state.ts).
      if (existsSync(this.opts.state.root)) markStopRequested(this.opts.state, node.name);
    }
    const r = await runningNodes([...ours.nodes].reverse(), {
      isLocal: (n) => this.isLocal(n),
      pidAlive: (n) => this.pidAlive(n),
      probe: (n) => this.probe(n),
    });
    for (const s of r.stopped) this.cleanPidFile(s.node);
    if (r.running.length === 0) {
      this.out.line(nothingToStopLine(r.stopped, ours.description));
      return;
    }
    for (const s of r.stopped) this.out.line(notRunningLine(s));
    const nodes = r.running;
    await Promise.all(
      nodes.map(async (node) => {
        this.out.line(`Stopping ${node.kind} ${node.name} on ${nodePlace(node)}`);
        const acknowledged = await requestStop(node, 2000, this.credential);
        if (!acknowledged) this.terminate(node, "SIGTERM");
      }),
    );
    this.out.line(`Waiting for ${nodes.length === ours.nodes.length ? ours.description : describe(nodes)} to be stopped`);
    await this.waitUntilStopped(nodes, this.t.stopMs, true);
  }

  /** Does the node's pid file name a live process of that node? */
  private pidAlive(node: NodeSpec): boolean {
    const pid = readPidFile(this.opts.state.pidFile(node.name));
    return pid !== undefined && isNodeProcessAlive(pid, node.name);
  }

  private terminate(node: NodeSpec, signal: NodeJS.Signals): boolean {
    const pid = readPidFile(this.opts.state.pidFile(node.name));
    return pid !== undefined && signalNode(pid, node.name, signal);
  }

  private isStopped = async (node: NodeSpec): Promise<boolean> => {
    // A node on another machine: stopped once it no longer answers its management API.
    if (!this.isLocal(node)) return (await this.probe(node)).state === "down";
    const pid = readPidFile(this.opts.state.pidFile(node.name));
    if (pid !== undefined && isNodeProcessAlive(pid, node.name)) return false;
    return isPortFree(node.port, node.listen);
  };

  /**
   * Wait until every node's process is gone and its port is free. When `escalate`, nodes that
   * linger get SIGTERM, then SIGKILL. Prints "Still waiting for X to be stopped" periodically.
   */
  private async waitUntilStopped(nodes: NodeSpec[], timeoutMs: number, escalate: boolean): Promise<void> {
    const t0 = Date.now();
    let nextNotice = t0 + this.t.stillWaitingEveryMs;
    let termed = false;
    let killed = false;
    let pending = nodes;
    for (;;) {
      const stopped = await Promise.all(pending.map(this.isStopped));
      pending = pending.filter((_, i) => !stopped[i]);
      for (const n of nodes) if (!pending.includes(n)) this.cleanPidFile(n);
      if (pending.length === 0) return;
      const now = Date.now();
      if (escalate && !termed && now - t0 > this.t.termAfterMs) {
        termed = true;
        pending.forEach((n) => this.terminate(n, "SIGTERM"));
      }
      if (escalate && !killed && now - t0 > this.t.killAfterMs) {
        killed = true;
        pending.forEach((n) => this.terminate(n, "SIGKILL"));
      }
      if (now - t0 > timeoutMs) {
        const why = pending.map((n) => {
          const pid = readPidFile(this.opts.state.pidFile(n.name));
          const owner =
            pid !== undefined && isNodeProcessAlive(pid, n.name)
              ? `its process ${pid} is still alive`
              : this.isLocal(n)
                ? `port ${n.port} is still in use (by another program?)`
                : `it still answers on ${nodePlace(n)}`;
          return `${nodeLabel(n)}: ${owner}`;
        });
        throw new CliError(`timed out after ${timeoutMs / 1000} s waiting for nodes to be stopped:\n  ${why.join("\n  ")}`);
      }
      if (now >= nextNotice) {
        nextNotice = now + this.t.stillWaitingEveryMs;
        for (const n of pending) this.out.line(`Still waiting for ${nodeLabel(n)} to be stopped`);
      }
      await sleep(this.t.pollMs);
    }
  }

  private cleanPidFile(node: NodeSpec): void {
    const file = this.opts.state.pidFile(node.name);
    const pid = readPidFile(file);
    if (pid !== undefined && !isNodeProcessAlive(pid, node.name)) removePidFile(file);
  }
}

function operatorTls(stateRoot: string): TlsMaterial {
  const layout = certLayout(stateRoot);
  return readTlsMaterial(layout, layout.operator);
}

function describe(nodes: readonly NodeSpec[]): string {
  const clients = nodes.filter((n) => n.kind === "client").map(nodeLabel);
  const hubs = nodes.filter((n) => n.kind === "hub").map(nodeLabel);
  return [...clients, ...hubs].join(", ");
}
