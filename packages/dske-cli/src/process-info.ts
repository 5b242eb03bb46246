/**
 * Facts about a local process from /proc (Linux): resident memory and how long it has run.
 * Undefined where /proc is missing or the process is gone.
 */
import { readFileSync } from "node:fs";

/** Resident set size in bytes (VmRSS). */
export function processRss(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Clock ticks per second of /proc/PID/stat (USER_HZ: 100 on every Linux architecture Node supports). */
const USER_HZ = 100;

/** Seconds since the process started. */
export function processUptimeSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may hold spaces) start after the last ')'; starttime is field 22.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const startTicks = Number(fields[19]);
    const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(uptime)) return undefined;
    return Math.max(0, uptime - startTicks / USER_HZ);
  } catch {
    return undefined;
  }
}
