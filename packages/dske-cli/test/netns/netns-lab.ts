/**
 * A lab of Linux network namespaces for the multi-host tests: one namespace per host, each with
 * its own address on a bridge (veth pairs), `lo` up, in a /24 picked per run (10.2XX.YY.0/24,
 * checked unused). The bridge itself holds the subnet's .1 address in the test's own namespace,
 * which is where user-space relays (delay-relay.ts) listen. Names carry a run id (the test
 * process's pid and a counter), so parallel runs never collide and a later run sweeps what a
 * crashed one left behind. Needs root and iproute2 (scripts/install-system-deps.sh).
 */
import { execFile } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

const PREFIX = "dskent-";
let counter = 0;

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program (no shell) and collect its output; never throws for a non-zero exit. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024, env: opts.env },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr: stderr || (err && typeof err.code !== "number" ? err.message : "") });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Run and throw with the command and its stderr when it fails. */
export async function must(cmd: string, args: readonly string[], input?: string): Promise<string> {
  const r = await run(cmd, args, { input });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Fails (never skips) with the reason when this process cannot build namespaces. */
export async function requireNetnsPrerequisites(): Promise<void> {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    throw new Error("needs root: the network-namespace tests (*netns*.test.ts) run as root, CI does; run them as root");
  }
  for (const [tool, pkg] of [
    ["ip", "iproute2"],
    ["nft", "nftables"],
  ] as const) {
    const r = await run(tool, ["-V"]);
    if (r.code !== 0) throw new Error(`the netns tests need \`${tool}\` (${pkg}): run scripts/install-system-deps.sh as root`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The run id's owner pid (run id = pid in base 36 + one counter character). */
function ownerPid(runId: string): number {
  return parseInt(runId.slice(0, -1), 36);
}

/** Delete namespaces (and their bridges and hosts files) left by runs whose process is gone. */
export async function sweepStale(): Promise<string[]> {
  const list = await run("ip", ["netns", "list"]);
  const swept: string[] = [];
  for (const line of list.stdout.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    if (!name.startsWith(PREFIX)) continue;
    const runId = name.slice(PREFIX.length).split("-")[0] ?? "";
    if (runId === "" || alive(ownerPid(runId))) continue;
    await killNamespaceProcesses(name);
    await run("ip", ["netns", "del", name]);
    rmSync(path.join("/etc/netns", name), { recursive: true, force: true });
    await run("ip", ["link", "del", `dkb${runId}`]);
    swept.push(name);
  }
  return swept;
}

/** Pids of the processes in namespace `ns` (`ip netns pids`). */
export async function namespacePids(ns: string): Promise<number[]> {
  const r = await run("ip", ["netns", "pids", ns]);
  return r.stdout
    .split("\n")
    .filter((l) => /^\d+$/.test(l.trim()))
    .map((l) => Number(l.trim()));
}

/** SIGKILL every process living in namespace `ns` (all started by this lab: the namespace is ours). */
export async function killNamespaceProcesses(ns: string): Promise<void> {
  for (const pid of await namespacePids(ns)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** A free 10.2XX.YY.0/24: no address or route of this namespace falls in it. */
async function pickSubnet(): Promise<string> {
  const used = (await must("ip", ["-4", "addr"])) + (await must("ip", ["-4", "route"]));
  for (let attempt = 0; attempt < 50; attempt++) {
    const prefix = `10.${200 + Math.floor(Math.random() * 56)}.${Math.floor(Math.random() * 256)}`;
    if (!used.includes(`${prefix}.`)) return prefix;
  }
  throw new Error("no free 10.2XX.YY.0/24 subnet for the netns lab");
}

export class NetnsLab {
  /** Namespace name per host name. */
  readonly ns = new Map<string, string>();
  /** Address per host name. */
  readonly addr = new Map<string, string>();
  private bridgeUp = false;

  private constructor(
    readonly runId: string,
    /** The subnet's first three octets, e.g. "10.213.7". */
    readonly prefix: string,
  ) {}

  /** The bridge's own address (in the test's namespace): where relays listen. */
  get gateway(): string {
    return `${this.prefix}.1`;
  }

  get bridge(): string {
    return `dkb${this.runId}`;
  }

  /**
   * Build the lab: sweep stale namespaces, then one namespace per host in `hosts` (at
   * .10, .11, ... in order). On a failure half-way, what was built is removed again.
   */
  static async create(hosts: readonly string[]): Promise<NetnsLab> {
    await requireNetnsPrerequisites();
    await sweepStale();
    const runId = `${process.pid.toString(36)}${(counter++ % 36).toString(36)}`;
    const lab = new NetnsLab(runId, await pickSubnet());
    try {
      await lab.build(hosts);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  private async build(hosts: readonly string[]): Promise<void> {
    await must("ip", ["link", "add", this.bridge, "type", "bridge"]);
    this.bridgeUp = true;
    await must("ip", ["addr", "add", `${this.gateway}/24`, "dev", this.bridge]);
    await must("ip", ["link", "set", this.bridge, "up"]);
    let i = 0;
    for (const host of hosts) {
      const ns = `${PREFIX}${this.runId}-${host}`;
      const addr = `${this.prefix}.${10 + i}`;
      const veth = `dk${this.runId}v${i}`;
      const peer = `dk${this.runId}p${i}`;
      i++;
      await must("ip", ["netns", "add", ns]);
      this.ns.set(host, ns);
      this.addr.set(host, addr);
      await must("ip", ["link", "add", veth, "type", "veth", "peer", "name", peer]);
      await must("ip", ["link", "set", peer, "netns", ns]);
      await must("ip", ["link", "set", veth, "master", this.bridge]);
      await must("ip", ["link", "set", veth, "up"]);
      await this.must(host, "ip", ["link", "set", "lo", "up"]);
      await this.must(host, "ip", ["link", "set", peer, "name", "eth0"]);
      await this.must(host, "ip", ["addr", "add", `${addr}/24`, "dev", "eth0"]);
      await this.must(host, "ip", ["link", "set", "eth0", "up"]);
      await this.must(host, "ip", ["route", "add", "default", "via", this.gateway]);
      this.setHosts(host, {});
    }
  }

  nsOf(host: string): string {
    const ns = this.ns.get(host);
    if (ns === undefined) throw new Error(`no namespace for host ${host}`);
    return ns;
  }

  addrOf(host: string): string {
    const a = this.addr.get(host);
    if (a === undefined) throw new Error(`no address for host ${host}`);
    return a;
  }

  /** Run a command inside `host`'s namespace. */
  exec(host: string, cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return run("ip", ["netns", "exec", this.nsOf(host), cmd, ...args], opts);
  }

  async must(host: string, cmd: string, args: readonly string[], input?: string): Promise<string> {
    const r = await this.exec(host, cmd, args, { input });
    if (r.code !== 0) throw new Error(`[${host}] ${cmd} ${args.join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  /**
   * The hosts file `ip netns exec` shows inside `host`'s namespace as /etc/hosts (it bind-mounts
   * /etc/netns/NSNAME/hosts when that file exists): `names` maps host names to addresses. Every
   * namespace of the lab has one (localhost only until set), and a resolv.conf without a server.
   */
  setHosts(host: string, names: Record<string, string>): void {
    const dir = path.join("/etc/netns", this.nsOf(host));
    mkdirSync(dir, { recursive: true });
    const lines = ["127.0.0.1 localhost", ...Object.entries(names).map(([n, a]) => `${a} ${n}`)];
    writeFileSync(path.join(dir, "hosts"), `${lines.join("\n")}\n`);
    // No DNS server is reachable from the lab: an unknown name fails at once, not after timeouts.
    writeFileSync(path.join(dir, "resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
  }

  /** Every process in the lab's namespaces killed, namespaces, bridge and hosts files removed. */
  async destroy(): Promise<void> {
    const errors: string[] = [];
    for (const ns of this.ns.values()) {
      await killNamespaceProcesses(ns);
      const r = await run("ip", ["netns", "del", ns]);
      if (r.code !== 0) errors.push(r.stderr.trim());
      rmSync(path.join("/etc/netns", ns), { recursive: true, force: true });
    }
    this.ns.clear();
    if (this.bridgeUp) {
      const r = await run("ip", ["link", "del", this.bridge]);
      if (r.code !== 0) errors.push(r.stderr.trim());
      this.bridgeUp = false;
    }
    if (errors.length > 0) throw new Error(`netns lab cleanup: ${errors.join("; ")}`);
  }
}
