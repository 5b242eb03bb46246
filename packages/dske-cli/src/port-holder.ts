/**
 * Which program listens on a TCP port: so that `dske-cli start` can say "port 8105 is in use by
 * pid 4242 (python3 -m http.server 8105)" at once instead of waiting for the port to free.
 *
 * Linux: the listening sockets of /proc/net/tcp and /proc/net/tcp6 (their inode), then the
 * process whose /proc/PID/fd holds `socket:[inode]`. Processes of other users are not readable
 * without root: then `ss -ltnp`, else `lsof` (macOS has no /proc), whichever is installed, is
 * asked. Never throws: undefined when the holder cannot be told.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface PortHolder {
  readonly pid: number;
  /** The command line (arguments joined by spaces, shortened), else the process name. */
  readonly command: string;
}

const MAX_COMMAND = 160;

/** `pid 4242 (python3 -m http.server 8105)`. */
export function describeHolder(holder: PortHolder): string {
  return `pid ${holder.pid} (${holder.command})`;
}

/** The process listening on `port` (whatever address), or undefined if it cannot be told. */
export async function findPortHolder(port: number): Promise<PortHolder | undefined> {
  const inodes = listeningInodes(port);
  if (inodes.size > 0) {
    const pid = pidOfSocket(inodes);
    if (pid !== undefined) return { pid, command: commandOf(pid) ?? "?" };
  }
  return (await fromSs(port)) ?? (await fromLsof(port));
}

/** Inodes of the sockets listening on `port` (state 0A) in /proc/net/tcp{,6}. */
export function listeningInodes(port: number, files = ["/proc/net/tcp", "/proc/net/tcp6"]): Set<string> {
  const inodes = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length < 10 || f[3] !== "0A") continue;
      const portHex = f[1].split(":").at(1) ?? "";
      if (Number.parseInt(portHex, 16) === port && f[9] !== "0") inodes.add(f[9]);
    }
  }
  return inodes;
}

/** The first process holding one of the socket inodes (readable /proc/PID/fd only). */
function pidOfSocket(inodes: ReadonlySet<string>): number | undefined {
  const links = new Set([...inodes].map((i) => `socket:[${i}]`));
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or another user's process
    }
    for (const fd of fds) {
      try {
        if (links.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return Number(pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** The command line of a process from /proc (undefined where it cannot be read). */
function commandOf(pid: number): string | undefined {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .filter((a) => a !== "");
    if (args.length > 0) return shorten(args.join(" "));
  } catch {
    // no /proc, or gone
  }
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

function shorten(s: string): string {
  return s.length <= MAX_COMMAND ? s : `${s.slice(0, MAX_COMMAND - 3)}...`;
}

function run(cmd: string, args: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 3000 }, (err, stdout) => resolve(err ? undefined : stdout));
  });
}

/** `ss -Hltnp 'sport = :PORT'`: `LISTEN 0 511 127.0.0.1:8105 0.0.0.0:* users:(("python3",pid=4242,fd=3))`. */
async function fromSs(port: number): Promise<PortHolder | undefined> {
  const text = await run("ss", ["-Hltnp", `sport = :${port}`]);
  const m = text === undefined ? null : /users:\(\("([^"]*)",pid=(\d+)/.exec(text);
  if (m === null) return undefined;
  const pid = Number(m[2]);
  return { pid, command: commandOf(pid) ?? m[1] };
}

/** `lsof -nP -iTCP:PORT -sTCP:LISTEN -Fpc`: lines `p4242` and `cpython3`. */
async function fromLsof(port: number): Promise<PortHolder | undefined> {
  const text = await run("lsof", ["-nP", `-iTCP:${port}`, "-sTCP:LISTEN", "-Fpc"]);
  if (text === undefined) return undefined;
  const pid = /^p(\d+)$/m.exec(text);
  if (pid === null) return undefined;
  const name = /^c(.+)$/m.exec(text);
  return { pid: Number(pid[1]), command: commandOf(Number(pid[1])) ?? name?.[1] ?? "?" };
}
