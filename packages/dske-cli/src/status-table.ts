/**
 * `dske-cli status` as one compact row per node (in the spirit of `pm2 ls`): name, kind, state,
 * pid, uptime, RSS, restarts, keys/s and PSRD headroom; the same facts as `overview` in
 * `status --json`. States: online (answers), starting (its process runs but does not answer yet),
 * stopped, crashed (its pid file names a process that is gone and `dske-cli stop` did not ask it
 * to stop; or the supervisor gave up), restarting (the supervisor waits out its backoff), remote
 * (placed on another host and answering), unreachable (remote, not answering), external (run by
 * the reference implementation's manager), foreign (its port answers as something else).
 *
 * keys/s (clients): keys issued + delivered per second since the previous `status` of this state
 * dir (if that was 1 s to 10 min ago and the process is the same), else since the node started.
 * PSRD headroom: the smallest available pool of the node (bytes) and the peer it is shared with.
 */
import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { isNodeProcessAlive, readPidFile } from "./pid-file";
import { processRss, processUptimeSeconds } from "./process-info";
import { describeExit } from "./restart-policy";
import type { StatusResult } from "./status-command";
import { blockPoolStats, clientStatusSchema, hubStatusSchema, type PoolStatsView } from "./status-schema";
import type { StateDir } from "./state-dir";
import { readRecord, stopRequested, type NodeRecord } from "./supervisor-state";
import { isExternal, type NodeSpec } from "./topology";

export const NODE_STATES = [
  "online",
  "starting",
  "stopped",
  "crashed",
  "restarting",
  "remote",
  "unreachable",
  "external",
  "foreign",
] as const;
export type NodeState = (typeof NODE_STATES)[number];

export interface NodeOverview {
  readonly state: NodeState;
  readonly pid: number | null;
  readonly uptime_s: number | null;
  readonly rss_bytes: number | null;
  readonly restarts: number;
  readonly keys_per_s: number | null;
  readonly psrd_headroom_bytes: number | null;
  /** The peer (hub of a client, client of a hub) of the smallest pool. */
  readonly psrd_headroom_peer: string | null;
  /** How the last process ended, when the node crashed or restarted. */
  readonly last_exit?: { readonly code: number | null; readonly signal: string | null; readonly known: boolean; readonly at?: string };
  /** One line on a node that is not online, e.g. "killed by SIGKILL; gave up after 2 restarts". */
  readonly note?: string;
  /**
   * With `processes: shared`: how many nodes of this status share the node's process. Its
   * `rss_bytes` is then the process's RSS divided among them (`process_rss_bytes` is the whole).
   */
  readonly process_nodes?: number;
  readonly process_rss_bytes?: number;
}

const sampleSchema = z.object({ t: z.number(), keys: z.number(), pid: z.number().nullable() });
type Sample = z.infer<typeof sampleSchema>;
const samplesSchema = z.record(z.string(), sampleSchema);

function samplesFile(state: StateDir): string {
  return path.join(state.root, "status-samples.json");
}

function readSamples(state: StateDir): Partial<Record<string, Sample>> {
  try {
    const parsed = samplesSchema.safeParse(JSON.parse(readFileSync(samplesFile(state), "utf8")));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

function writeSamples(state: StateDir, samples: Partial<Record<string, Sample>>): void {
  try {
    const tmp = `${samplesFile(state)}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(samples)}\n`);
    renameSync(tmp, samplesFile(state));
  } catch {
    // a read-only or missing state dir: rates fall back to the average since start
  }
}

/** The node's smallest available pool and its peer. */
function headroom(r: StatusResult): { bytes: number; peer: string } | undefined {
  const levels: { bytes: number; peer: string }[] = [];
  const add = (peer: string, p: PoolStatsView | null | undefined) => {
    const avail = p?.available ?? (p?.size !== undefined && p.used !== undefined ? p.size - p.used : undefined);
    if (avail !== undefined) levels.push({ bytes: avail, peer });
  };
  if (r.node.kind === "hub") {
    const s = hubStatusSchema.safeParse(r.status);
    if (!s.success) return undefined;
    for (const c of s.data.peer_clients) {
      add(c.client_name, c.pools?.client_owned ?? blockPoolStats(c.peer_pool));
      add(c.client_name, c.pools?.hub_owned ?? blockPoolStats(c.local_pool));
    }
  } else {
    const s = clientStatusSchema.safeParse(r.status);
    if (!s.success) return undefined;
    for (const h of s.data.peer_hubs) {
      const peer = h.hub_name ?? h.url ?? "?";
      add(peer, h.pools?.client_owned ?? blockPoolStats(h.local_pool));
      add(peer, h.pools?.hub_owned ?? blockPoolStats(h.peer_pool));
    }
  }
  return levels.reduce<{ bytes: number; peer: string } | undefined>((m, l) => (m === undefined || l.bytes < m.bytes ? l : m), undefined);
}

/** Keys issued + delivered as the client's status counts them. */
function keyCount(r: StatusResult): number | undefined {
  if (r.node.kind !== "client" || !r.running) return undefined;
  const keys = (r.status as { keys?: { issued?: unknown; delivered?: unknown } }).keys;
  const n = (x: unknown) => (typeof x === "number" ? x : 0);
  return keys === undefined ? undefined : n(keys.issued) + n(keys.delivered);
}

function lastExit(rec: NodeRecord | undefined): NodeOverview["last_exit"] {
  const e = rec?.last_exit;
  if (e === undefined) return undefined;
  return { code: e.code, signal: e.signal, known: e.unknown !== true, at: new Date(e.at).toISOString() };
}

function exitText(e: NodeOverview["last_exit"]): string {
  return e === undefined || !e.known ? describeExit(undefined) : describeExit(e);
}

/** The overview of each result (reads pid files, /proc, supervisor records; updates the keys/s samples). */
export function overviews(
  results: readonly StatusResult[],
  state: StateDir,
  isLocal: (n: NodeSpec) => boolean,
  now = Date.now(),
): NodeOverview[] {
  const samples = readSamples(state);
  const next: Partial<Record<string, Sample>> = { ...samples };
  const rows = results.map((r): NodeOverview => {
    const node = r.node;
    const local = !isExternal(node) && isLocal(node);
    const pidInFile = local ? readPidFile(state.pidFile(node.name)) : undefined;
    const alive = pidInFile !== undefined && isNodeProcessAlive(pidInFile, node.name);
    const pid = alive ? pidInFile : null;
    const rec = local ? readRecord(state, node.name) : undefined;
    const uptime = pid !== null ? (processUptimeSeconds(pid) ?? null) : null;
    const room = r.running ? headroom(r) : undefined;
    const keys = keyCount(r);
    let rate: number | null = null;
    if (keys !== undefined) {
      const prev = samples[node.name];
      const dt = prev === undefined ? 0 : (now - prev.t) / 1000;
      if (prev !== undefined && prev.pid === pid && dt >= 1 && dt <= 600 && keys >= prev.keys) rate = (keys - prev.keys) / dt;
      else if (uptime !== null && uptime > 0) rate = keys / uptime;
      // Keep the older sample while it is under a second old, so that `watch -n1` gives steady rates.
      if (prev === undefined || dt >= 1 || prev.pid !== pid) next[node.name] = { t: now, keys, pid };
    }
    const base = {
      pid,
      uptime_s: uptime === null ? null : Math.round(uptime),
      rss_bytes: pid !== null ? (processRss(pid) ?? null) : null,
      restarts: rec?.restarts ?? 0,
      keys_per_s: rate === null ? null : Math.round(rate * 100) / 100,
      psrd_headroom_bytes: room?.bytes ?? null,
      psrd_headroom_peer: room?.peer ?? null,
      ...(rec?.last_exit !== undefined ? { last_exit: lastExit(rec) } : {}),
    };
    const as = (st: NodeState, note?: string): NodeOverview => ({ state: st, ...base, ...(note !== undefined ? { note } : {}) });
    if (isExternal(node)) return as("external", r.running ? undefined : `not answering (${r.detail})`);
    if (!local) return r.running ? as("remote") : as("unreachable", r.detail);
    if (r.running) return as("online");
    if (r.foreign) return as("foreign", r.detail);
    if (alive) return as("starting", `process ${pidInFile} runs but does not answer (${r.detail})`);
    // `dske-cli stop` asked it to stop: whatever the supervisor recorded before, it is stopped.
    if (stopRequested(state, node.name)) return as("stopped");
    if (rec?.state === "restarting") {
      const inS = Math.max(0, Math.ceil(((rec.next_restart_at ?? now) - now) / 1000));
      return as("restarting", `${exitText(base.last_exit)}; restart ${rec.restarts + 1} in ${inS} s`);
    }
    if (rec?.state === "exited" && rec.last_exit?.pid === pidInFile) return as("stopped", `ended by itself (${exitText(base.last_exit)})`);
    if (rec?.state === "crashed" || pidInFile !== undefined) {
      const gaveUp = rec?.state === "crashed" ? `; gave up after ${rec.restarts} restart${rec.restarts === 1 ? "" : "s"}` : "";
      const known = rec?.last_exit !== undefined && (rec.last_exit.pid === pidInFile || gaveUp !== "");
      const how = known ? exitText(base.last_exit) : `process ${pidInFile ?? "?"} is gone, not stopped by dske-cli (exit status unknown)`;
      return as("crashed", `${how}${gaveUp}`);
    }
    return as("stopped");
  });
  writeSamples(state, next);
  return shareProcesses(rows, state);
}

/**
 * Nodes in one node host (same pid): each row shows its share of the process's RSS. The nodes
 * sharing a process are counted over every pid file of the state dir, so that a filtered status
 * (`--hub hank status`) divides by the same number as the whole one.
 */
function shareProcesses(rows: NodeOverview[], state: StateDir): NodeOverview[] {
  const count = new Map<number, number>();
  const dir = path.dirname(state.pidFile("x"));
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".pid"));
  } catch {
    // no pid files: nothing runs here
  }
  for (const f of files) {
    const pid = readPidFile(path.join(dir, f));
    if (pid !== undefined && isNodeProcessAlive(pid, f.slice(0, -".pid".length))) count.set(pid, (count.get(pid) ?? 0) + 1);
  }
  return rows.map((r) => {
    const k = r.pid === null ? 1 : (count.get(r.pid) ?? 1);
    if (k < 2 || r.rss_bytes === null) return r;
    return { ...r, rss_bytes: Math.round(r.rss_bytes / k), process_nodes: k, process_rss_bytes: r.rss_bytes };
  });
}

function human(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  const units = ["K", "M", "G", "T"];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)}${units[i]}`;
}

function duration(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, "0")}h`;
}

const COLUMNS = ["NAME", "KIND", "STATE", "PID", "UPTIME", "RSS", "RESTARTS", "KEYS/S", "PSRD MIN"] as const;
/** Right-aligned columns (numbers). */
const RIGHT = new Set(["PID", "UPTIME", "RSS", "RESTARTS", "KEYS/S"]);

/** The table: a header, one row per node, then one indented note per node that is not online. */
export function formatStatusTable(results: readonly StatusResult[], rows: readonly NodeOverview[]): string[] {
  const cells = results.map((r, i) => {
    const o = rows[i];
    const dash = (x: string | null) => x ?? "-";
    return [
      r.node.name,
      r.node.kind,
      o.state,
      dash(o.pid === null ? null : String(o.pid)),
      dash(o.uptime_s === null ? null : duration(o.uptime_s)),
      dash(o.rss_bytes === null ? null : human(o.rss_bytes)),
      String(o.restarts),
      dash(o.keys_per_s === null ? null : o.keys_per_s >= 100 ? String(Math.round(o.keys_per_s)) : o.keys_per_s.toFixed(1)),
      o.psrd_headroom_bytes === null ? "-" : `${human(o.psrd_headroom_bytes)} ${o.psrd_headroom_peer ?? ""}`.trimEnd(),
    ];
  });
  const widths = COLUMNS.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c].length)));
  const line = (row: readonly string[]) =>
    row
      .map((v, c) => (RIGHT.has(COLUMNS[c]) ? v.padStart(widths[c]) : c === row.length - 1 ? v : v.padEnd(widths[c])))
      .join("  ")
      .trimEnd();
  const notes = results.flatMap((r, i) => (rows[i].note !== undefined ? [`  ${r.node.name}: ${rows[i].state}: ${rows[i].note}`] : []));
  // One line per node host: which nodes share it, and its whole RSS (the column shows each one's share).
  const hosts = new Map<number, { names: string[]; nodes: number; rss: number }>();
  results.forEach((r, i) => {
    const o = rows[i];
    if (o.pid === null || o.process_nodes === undefined || o.process_rss_bytes === undefined) return;
    const h = hosts.get(o.pid) ?? { names: [], nodes: o.process_nodes, rss: o.process_rss_bytes };
    h.names.push(r.node.name);
    hosts.set(o.pid, h);
  });
  const hostLines = [...hosts].map(
    ([pid, h]) =>
      // Within 100 columns: the rows' pid column says which nodes (no names here).
      `  pid ${pid}: one process for ${h.nodes} nodes${h.names.length < h.nodes ? ` (${h.names.length} listed)` : ""}, ${human(h.rss)} RSS in all (RSS column: each node's share)`,
  );
  return [line(COLUMNS), ...cells.map(line), ...notes, ...hostLines];
}
