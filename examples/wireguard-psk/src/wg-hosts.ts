/**
 * Two WireGuard hosts, A and B, each a network namespace of a netns lab (the netns test
 * harness's NetnsLab: one bridge in this namespace, its .1 address the hosts' gateway, each host
 * at its own address on eth0). Each host runs Debian's `wireguard-go` (userspace, over TUN: the
 * kernel module is not needed) on its own interface, configured with `wg`:
 *
 *   host A: tunnel 192.168.77.1/24, peer B at B's eth0 address, UDP 51820, keepalive 10 s
 *   host B: tunnel 192.168.77.2/24, peer A at A's eth0 address, UDP 51820
 *
 * No preshared key at first: the agents set it. Interface names carry the lab's run id
 * (`wgd<run>a`, `wgd<run>b`): wireguard-go's control socket lives in a directory every namespace
 * shares, so two runs must never use the same name.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { NetnsLab, run } from "../../../packages/dske-cli/test/netns/netns-lab.js";

export const WG_PORT = 51820;
export const KEEPALIVE_S = 10;
export const TUNNEL = { a: "192.168.77.1", b: "192.168.77.2" } as const;
export type HostName = keyof typeof TUNNEL;
export const HOSTS: readonly HostName[] = ["a", "b"];
const NS_HOST = { a: "wg-a", b: "wg-b" } as const;
/** What wireguard-go logs (LOG_LEVEL=verbose) once its UAPI socket listens and is watched. */
const UAPI_LISTENING = "UAPI listener started";

/** What `wg show IFACE preshared-keys` shows for the peer, hashed (SHA-256 hex): the key itself is never kept. */
export type PskHash = string;
/** The hash of "(none)": no preshared key set. */
export const NO_PSK_HASH: PskHash = createHash("sha256").update("(none)").digest("hex");

async function must(cmd: string, args: readonly string[], input?: string): Promise<string> {
  const r = await run(cmd, args, { input, timeoutMs: 15_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Fails (never skips) with what to install when wireguard-go, wg or ping is missing. */
export async function requireWireguardTools(): Promise<void> {
  for (const [tool, args, pkg] of [
    ["wireguard-go", ["--version"], "wireguard-go"],
    ["wg", ["--version"], "wireguard-tools"],
    ["ping", ["-V"], "iputils-ping"],
  ] as const) {
    const r = await run(tool, args);
    if (r.code !== 0)
      throw new Error(`the WireGuard example needs \`${tool}\` (Debian ${pkg}): run scripts/install-system-deps.sh as root`);
  }
}

export class WgHosts {
  readonly iface: Record<HostName, string>;
  readonly publicKey: Record<HostName, string> = { a: "", b: "" };
  private readonly daemons = new Map<HostName, ChildProcess>();
  private readonly daemonLog = new Map<HostName, string>();
  private readonly keyDir = mkdtempSync(path.join(tmpdir(), "dske-wg-keys-"));

  private constructor(readonly lab: NetnsLab) {
    this.iface = { a: `wgd${lab.runId}a`, b: `wgd${lab.runId}b` };
  }

  /** Build the lab and both hosts; on a failure half-way, what was built is removed again. */
  static async create(): Promise<WgHosts> {
    await requireWireguardTools();
    const lab = await NetnsLab.create([NS_HOST.a, NS_HOST.b]);
    const hosts = new WgHosts(lab);
    try {
      await hosts.build();
    } catch (err) {
      await hosts.destroy();
      throw err;
    }
    return hosts;
  }

  /** The hosts' gateway (the lab bridge's address in this namespace): where they reach the KMEs. */
  get gateway(): string {
    return this.lab.gateway;
  }

  /** A host's underlay address (its eth0). */
  underlay(h: HostName): string {
    return this.lab.addrOf(NS_HOST[h]);
  }

  /** The namespace of a host. */
  ns(h: HostName): string {
    return this.lab.nsOf(NS_HOST[h]);
  }

  private other(h: HostName): HostName {
    return h === "a" ? "b" : "a";
  }

  private async build(): Promise<void> {
    const privateFile: Record<HostName, string> = { a: "", b: "" };
    for (const h of HOSTS) {
      const priv = await must("wg", ["genkey"]);
      privateFile[h] = path.join(this.keyDir, `${h}.key`);
      writeFileSync(privateFile[h], priv, { mode: 0o600 });
      this.publicKey[h] = (await must("wg", ["pubkey"], priv)).trim();
      await this.startDaemon(h);
    }
    for (const h of HOSTS) {
      const peer = this.other(h);
      const set = ["set", this.iface[h], "private-key", privateFile[h], "listen-port", String(WG_PORT)];
      set.push("peer", this.publicKey[peer], "endpoint", `${this.underlay(peer)}:${WG_PORT}`, "allowed-ips", `${TUNNEL[peer]}/32`);
      if (h === "a") set.push("persistent-keepalive", String(KEEPALIVE_S));
      await this.lab.must(NS_HOST[h], "wg", set);
      await this.lab.must(NS_HOST[h], "ip", ["addr", "add", `${TUNNEL[h]}/24`, "dev", this.iface[h]]);
      await this.lab.must(NS_HOST[h], "ip", ["link", "set", this.iface[h], "up"]);
    }
    // The private keys are in wireguard-go now.
    rmSync(this.keyDir, { recursive: true, force: true });
  }

  /**
   * `wireguard-go IFACE` in the foreground (its daemon mode loses the forked process) inside the
   * host's namespace, ready when it logs that its control (UAPI) socket listens. Not by polling
   * `wg show`: wireguard-go binds the socket, then listens, then watches the file, and a `wg` that
   * connects between bind and listen is refused and unlinks the file as stale, after which
   * wireguard-go exits with "Failed to listen on uapi socket: no such file or directory" (seen once
   * in about ten whole test runs).
   */
  private async startDaemon(h: HostName): Promise<void> {
    const child = spawn("ip", ["netns", "exec", this.ns(h), "wireguard-go", this.iface[h]], {
      env: { ...process.env, WG_PROCESS_FOREGROUND: "1", LOG_LEVEL: "verbose" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.daemons.set(h, child);
    this.daemonLog.set(h, "");
    const uapi = { listening: false };
    // Whole lines: the readiness line is looked for, and only the non-debug ones are kept.
    const partial = { out: "", err: "" };
    const keep = (stream: "out" | "err") => (d: Buffer) => {
      const lines = `${partial[stream]}${d.toString()}`.split("\n");
      partial[stream] = lines.pop() ?? "";
      for (const line of lines) {
        if (line.includes(UAPI_LISTENING)) uapi.listening = true;
        if (!line.startsWith("DEBUG:")) this.daemonLog.set(h, `${this.daemonLog.get(h) ?? ""}${line}\n`.slice(-4000));
      }
    };
    child.stdout.on("data", keep("out"));
    child.stderr.on("data", keep("err"));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (uapi.listening) return;
      if (child.exitCode !== null)
        throw new Error(
          `wireguard-go ${this.iface[h]} exited (${child.exitCode}): ${this.daemonLog.get(h) ?? ""}${partial.out}${partial.err}`,
        );
      if (Date.now() > deadline) throw new Error(`wireguard-go ${this.iface[h]} did not open its control socket in 10 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SHA-256 of the peer's preshared key as `wg show IFACE preshared-keys` prints it on host `h`. */
  async pskHash(h: HostName): Promise<PskHash> {
    const out = await this.lab.must(NS_HOST[h], "wg", ["show", this.iface[h], "preshared-keys"]);
    const line = out.split("\n").find((l) => l.startsWith(this.publicKey[this.other(h)]));
    if (line === undefined) throw new Error(`${this.iface[h]} lists no peer ${this.publicKey[this.other(h)]}`);
    const psk = line.split("\t")[1] ?? "";
    return createHash("sha256").update(psk.trim()).digest("hex");
  }

  /** Unix seconds of the latest handshake with the peer on host `h` (0: none since the peer was (re)added). */
  async latestHandshake(h: HostName): Promise<number> {
    const out = await this.lab.must(NS_HOST[h], "wg", ["show", this.iface[h], "latest-handshakes"]);
    const line = out.split("\n").find((l) => l.startsWith(this.publicKey[this.other(h)]));
    return Number(line?.split("\t")[1] ?? 0);
  }

  /** One ping through the tunnel from host `from` to the other host's tunnel address (1 s to answer). */
  async ping(from: HostName): Promise<boolean> {
    const r = await this.lab.exec(NS_HOST[from], "ping", ["-c", "1", "-W", "1", TUNNEL[this.other(from)]], { timeoutMs: 5_000 });
    return r.code === 0;
  }

  /** Run `wg` on host `h` (for checks and for the wrong-key case). */
  wg(h: HostName, args: readonly string[], input?: string): Promise<string> {
    return this.lab.must(NS_HOST[h], "wg", args, input);
  }

  /** What wireguard-go printed, its debug lines left out, for a failure message. */
  daemonOutput(h: HostName): string {
    return this.daemonLog.get(h) ?? "";
  }

  /** wireguard-go stopped (SIGTERM: it removes its socket; SIGKILL after 5 s), then the lab removed. */
  async destroy(): Promise<void> {
    rmSync(this.keyDir, { recursive: true, force: true });
    await Promise.all([...this.daemons.values()].map((c) => stopProcess(c)));
    this.daemons.clear();
    await this.lab.destroy();
  }
}

/** SIGTERM a child, wait for its exit, SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
