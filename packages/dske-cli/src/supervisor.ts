/**
 * The built-in supervisor for development hosts: ONE small detached `dske-cli supervise` process
 * per state directory (not a wrapper per node: one Node process instead of one per node), started
 * by `dske-cli start` when the restart policy is not `no`. Every `pollMs` it looks at the pid file
 * of each node of this host: a node whose process is gone although `dske-cli stop` did not ask it
 * to stop has crashed; under the policy (restart-policy.ts) it is restarted with the same command
 * line as `start` after an exponential backoff, and after `max_restarts` consecutive crashes it is
 * left down and shows `crashed`. Nodes it restarted are its children, so their exit code or signal
 * is known; nodes `start` spawned are adopted by pid (their exit status is unknown).
 * It ends by itself once no node of this host runs or waits for a restart, and on SIGTERM/SIGINT.
 * State it shares with the CLI: supervisor-state.ts. Log: `<state>/logs/supervisor.log` (JSON lines).
 */
import { spawn } from "node:child_process";
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isNodeProcessAlive, readPidFile } from "./pid-file";
import type { ProcessManager, Spawned } from "./process-manager";
import { backoffMs, describeExit, wantsRestart, type ExitInfo, type RestartPolicy } from "./restart-policy";
import type { StateDir } from "./state-dir";
import { readRecord, stopRequested, supervisorDir, supervisorLogFile, supervisorPidFile, writeRecord } from "./supervisor-state";
import { isExternal, type NodeSpec, type Topology } from "./topology";

/** How long an adopted node (started by `dske-cli start`) must look gone before it counts as crashed. */
const ADOPTED_GONE_MS = 1000;

export interface SupervisorOptions {
  readonly topology: Topology;
  readonly state: StateDir;
  readonly manager: ProcessManager;
  readonly policy: RestartPolicy;
  readonly pollMs?: number;
  /** End after this long with nothing to supervise. */
  readonly idleExitMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Supervisor {
  /** Processes this supervisor spawned, by node name (their exit is reported to us). */
  private readonly children = new Map<string, Spawned>();
  /** Adopted nodes that looked gone, since when (see check). */
  private readonly missingSince = new Map<string, number>();
  private readonly nodes: NodeSpec[];

  constructor(private readonly o: SupervisorOptions) {
    this.nodes = o.topology.nodes.filter((n) => !isExternal(n) && o.manager.isLocal(n));
  }

  private log(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown> = {}): void {
    const line = JSON.stringify({ time: new Date().toISOString(), level, component: "supervisor", msg, ...fields });
    try {
      appendFileSync(supervisorLogFile(this.o.state), `${line}\n`);
    } catch {
      // the log directory vanished (state dir removed): nothing to report to
    }
  }

  /** Run until `signal` aborts or nothing is left to supervise. */
  async run(signal?: AbortSignal): Promise<void> {
    const { state, policy } = this.o;
    mkdirSync(supervisorDir(state), { recursive: true });
    writeFileSync(supervisorPidFile(state), `${process.pid}\n`);
    this.log("info", "supervisor started", { pid: process.pid, policy, nodes: this.nodes.map((n) => n.name) });
    let idleSince: number | undefined;
    try {
      while (signal?.aborted !== true) {
        const busy = this.tick(Date.now());
        if (busy) idleSince = undefined;
        else idleSince ??= Date.now();
        if (idleSince !== undefined && Date.now() - idleSince >= (this.o.idleExitMs ?? 3000)) {
          this.log("info", "nothing left to supervise: exiting");
          break;
        }
        await sleep(this.o.pollMs ?? 250);
      }
    } finally {
      if (readPidFile(supervisorPidFile(state)) === process.pid) rmSync(supervisorPidFile(state), { force: true });
    }
  }

  /** One look at every node; true while a node runs or waits for a restart. */
  tick(now: number): boolean {
    let busy = false;
    for (const node of this.nodes) if (this.check(node, now)) busy = true;
    return busy;
  }

  private check(node: NodeSpec, now: number): boolean {
    const { state, policy } = this.o;
    const name = node.name;
    if (stopRequested(state, name)) {
      this.children.delete(name);
      return false;
    }
    const rec = readRecord(state, name) ?? { state: "online" as const, restarts: 0, consecutive: 0 };
    if (rec.state === "restarting") {
      if (now < (rec.next_restart_at ?? 0)) return true;
      const child = this.o.manager.spawnNode(node);
      this.children.set(name, child);
      const restarts = rec.restarts + 1;
      writeRecord(state, name, { ...rec, state: "online", restarts, pid: child.pid, started_at: now, next_restart_at: undefined });
      this.log("info", "node restarted", { node: name, pid: child.pid, restarts });
      return true;
    }
    const pid = readPidFile(state.pidFile(name));
    if (pid === undefined || rec.state === "crashed" || (rec.state === "exited" && rec.last_exit?.pid === pid)) return false;
    const child = this.children.get(name);
    const ours = child !== undefined && child.pid === pid;
    // Its own child: the 'exit' event decides. An adopted process: /proc, and only a process that
    // looks gone on every look for ADOPTED_GONE_MS counts as gone (one look at a busy machine's
    // process table is no proof; restarting a node that still runs would start a second copy).
    let alive = ours ? child.exit === undefined : isNodeProcessAlive(pid, name);
    if (!ours) {
      if (alive) this.missingSince.delete(name);
      else {
        const since = this.missingSince.get(name) ?? now;
        this.missingSince.set(name, since);
        if (now - since < ADOPTED_GONE_MS) alive = true;
        else this.missingSince.delete(name);
      }
    }
    if (alive) {
      if (rec.pid !== pid) {
        // A process started by `dske-cli start` (or before this supervisor): adopt it.
        writeRecord(state, name, { ...rec, state: "online", pid, started_at: rec.started_at ?? now });
      } else if (rec.consecutive > 0 && now - (rec.started_at ?? now) >= policy.stable_after_ms) {
        writeRecord(state, name, { ...rec, consecutive: 0 });
      }
      return true;
    }
    // Gone without `dske-cli stop`: a crash (or a clean exit of its own).
    const exit: ExitInfo | undefined = ours && child.exit !== undefined ? { code: child.exit.code, signal: child.exit.signal } : undefined;
    this.children.delete(name);
    const lastExit = {
      code: exit?.code ?? null,
      signal: exit?.signal ?? null,
      ...(exit === undefined ? { unknown: true } : {}),
      at: now,
      pid,
    };
    if (!wantsRestart(policy.policy, exit)) {
      writeRecord(state, name, { ...rec, state: exit === undefined ? "crashed" : "exited", last_exit: lastExit });
      this.log("warn", "node ended; not restarted (policy)", { node: name, pid, exit: describeExit(exit), policy: policy.policy });
      return false;
    }
    if (rec.consecutive >= policy.max_restarts) {
      writeRecord(state, name, { ...rec, state: "crashed", last_exit: lastExit });
      this.log("error", "node crashed too often: not restarted", { node: name, pid, exit: describeExit(exit), restarts: rec.restarts });
      return false;
    }
    const consecutive = rec.consecutive + 1;
    const delay = backoffMs(policy, consecutive);
    writeRecord(state, name, { ...rec, state: "restarting", consecutive, next_restart_at: now + delay, last_exit: lastExit });
    this.log("warn", "node crashed: restart scheduled", { node: name, pid, exit: describeExit(exit), delay_ms: delay, consecutive });
    return true;
  }
}

/** `<package>/dist/bin.js` of dske-cli, found from this module (src in tests, dist when built). */
export function cliBinPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "@dske/cli") {
      return path.join(dir, "dist", "bin.js");
    }
    dir = path.dirname(dir);
  }
  return path.join(path.dirname(fileURLToPath(import.meta.url)), "bin.js");
}

/** Is a supervisor running for this state dir? Its pid, if so. */
export function runningSupervisor(state: StateDir): number | undefined {
  const pid = readPidFile(supervisorPidFile(state));
  return pid !== undefined && isNodeProcessAlive(pid, "supervise") ? pid : undefined;
}

/**
 * Start `dske-cli --config FILE --state-dir DIR supervise [--restart POLICY]` detached unless one
 * runs; returns its pid and whether it was started now.
 */
export function ensureSupervisor(state: StateDir, configFile: string, policyFlag: string | undefined): { pid: number; started: boolean } {
  const running = runningSupervisor(state);
  if (running !== undefined) return { pid: running, started: false };
  mkdirSync(path.dirname(supervisorLogFile(state)), { recursive: true });
  mkdirSync(supervisorDir(state), { recursive: true });
  const fd = openSync(supervisorLogFile(state), "a");
  try {
    // A small young generation: the supervisor allocates little, and this saves ~10 MB of RSS.
    const args = ["--max-semi-space-size=1", cliBinPath(), "--config", path.resolve(configFile), "--state-dir", state.root, "supervise"];
    if (policyFlag !== undefined) args.push("--restart", policyFlag);
    const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", fd, fd], cwd: state.root });
    if (child.pid === undefined) throw new Error("could not start the supervisor (spawn failed)");
    child.unref();
    // Written here too, so that an immediate second `start` finds it.
    writeFileSync(supervisorPidFile(state), `${child.pid}\n`);
    return { pid: child.pid, started: true };
  } finally {
    closeSync(fd);
  }
}
