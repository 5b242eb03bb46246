/** Pid files of node processes, and a liveness check that does not trust a recycled pid. */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";

export function writePidFile(file: string, pid: number): void {
  writeFileSync(file, `${pid}\n`);
}

/** The pid in the file, or undefined if there is no (valid) pid file. */
export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function removePidFile(file: string): void {
  rmSync(file, { force: true });
}

/**
 * Is `pid` alive and (where /proc exists) still the node process named `nodeName`?
 * A pid recycled by an unrelated program counts as not alive, so we never signal it.
 */
export function isNodeProcessAlive(pid: number, nodeName: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: exists but not ours — certainly not a node we started.
    return false;
  }
  const cmdlineFile = `/proc/${pid}/cmdline`;
  if (!existsSync("/proc/self/cmdline")) return true;
  try {
    // A node host started as a standby shows its title as one string (standby-host.ts): split at
    // spaces too (node names have none).
    const args = readFileSync(cmdlineFile, "utf8").split(/[\0 ]/);
    // A zombie has an empty cmdline: it is dead for our purposes.
    if (args.length === 0 || args[0] === "") return false;
    // A replica (`hank#2`) runs as its hub (`hank`); its own pid file tells it from the others.
    return args.includes(nodeName.replace(/#\d+$/, ""));
  } catch {
    return false;
  }
}

/** What /proc shows of `pid`, for an error message: gone, a zombie, or its command line. */
export function describeProcess(pid: number): string {
  try {
    process.kill(pid, 0);
  } catch {
    return `no process ${pid}`;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    if (state === "Z") return `process ${pid} is a zombie`;
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    return `process ${pid} runs ${cmd === "" ? "(empty command line)" : JSON.stringify(cmd.slice(0, 120))}`;
  } catch {
    return `process ${pid} (no /proc entry)`;
  }
}

/** Send a signal if the process is (still) our node; true if sent. */
export function signalNode(pid: number, nodeName: string, signal: NodeJS.Signals): boolean {
  if (!isNodeProcessAlive(pid, nodeName)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
