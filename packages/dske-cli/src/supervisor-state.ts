/**
 * What the supervisor and the CLI share through the state directory:
 *
 *   <state>/supervisor/supervisor.pid     pid of the running `dske-cli supervise` (one per state dir)
 *   <state>/supervisor/nodes/NAME.json    per node: restarts, state, last exit, next restart (NodeRecord)
 *   <state>/pids/NAME.stop-requested      `dske-cli stop` asked NAME to stop: its end is no crash
 *
 * Records are written atomically (write + rename) by the supervisor; `start` resets a node's
 * record when it starts the node. Readers tolerate a missing or unreadable record (zod, tolerant).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { StateDir } from "./state-dir";

export const recordSchema = z.object({
  /** online: supervised and running; restarting: waiting out the backoff; crashed: gave up; exited: ended cleanly. */
  state: z.enum(["online", "restarting", "crashed", "exited"]),
  /** Restarts by the supervisor since the node was last started by `dske-cli start`. */
  restarts: z.number().int().min(0),
  /** Crashes in a row (the backoff series). */
  consecutive: z.number().int().min(0),
  /** The process the record is about. */
  pid: z.number().int().optional(),
  /** When that process was started (ms since the epoch). */
  started_at: z.number().optional(),
  next_restart_at: z.number().optional(),
  last_exit: z
    .object({
      code: z.number().int().nullable(),
      signal: z.string().nullable(),
      /** The exit code or signal is not known (the process was not the supervisor's child). */
      unknown: z.boolean().optional(),
      at: z.number(),
      pid: z.number().int().optional(),
    })
    .optional(),
});
export type NodeRecord = z.infer<typeof recordSchema>;

export function supervisorDir(state: StateDir): string {
  return path.join(state.root, "supervisor");
}

export function supervisorPidFile(state: StateDir): string {
  return path.join(supervisorDir(state), "supervisor.pid");
}

export function supervisorLogFile(state: StateDir): string {
  return path.join(state.root, "logs", "supervisor.log");
}

function recordFile(state: StateDir, name: string): string {
  return path.join(supervisorDir(state), "nodes", `${name}.json`);
}

export function readRecord(state: StateDir, name: string): NodeRecord | undefined {
  try {
    const parsed = recordSchema.safeParse(JSON.parse(readFileSync(recordFile(state, name), "utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function writeRecord(state: StateDir, name: string, record: NodeRecord): void {
  const file = recordFile(state, name);
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record)}\n`);
  renameSync(tmp, file);
}

/** `start` started the node afresh: no restarts, no crash on record. */
export function resetRecord(state: StateDir, name: string): void {
  rmSync(recordFile(state, name), { force: true });
}

function stopFile(state: StateDir, name: string): string {
  return `${state.pidFile(name).replace(/\.pid$/, "")}.stop-requested`;
}

export function markStopRequested(state: StateDir, name: string): void {
  mkdirSync(path.dirname(stopFile(state, name)), { recursive: true });
  writeFileSync(stopFile(state, name), `${Date.now()}\n`);
}

export function clearStopRequested(state: StateDir, name: string): void {
  rmSync(stopFile(state, name), { force: true });
}

export function stopRequested(state: StateDir, name: string): boolean {
  return existsSync(stopFile(state, name));
}
