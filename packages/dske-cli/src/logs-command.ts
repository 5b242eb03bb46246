/**
 * `dske-cli logs NAME [-n N] [-f] [--json]`: the last N lines of node NAME's log
 * (`<state>/logs/NAME.log`, and its rotated files NAME.log.1 ... when the current one holds fewer),
 * in a human format (log-format.ts) or, with `--json`, as written (JSON lines, for `jq`).
 * With `-f` it then follows the file (polling; across rotations: the rest of the rotated file is
 * read before the new one) until SIGINT/SIGTERM (or `stopSignal`).
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { CliError } from "./errors";
import { humanLogLine } from "./log-format";
import type { Output } from "./output";
import type { StateDir } from "./state-dir";
import type { Topology } from "./topology";
import { untilStopped } from "./until-stopped";

export interface LogsOptions {
  /** Lines printed before following (default 20). */
  lines: number;
  follow: boolean;
  json: boolean;
}

export interface LogsContext {
  topology: Topology;
  state: StateDir;
  out: Output;
  /** The configuration file (named in errors). */
  configFile: string;
  /** Ends `-f` like SIGINT does (tests, in-process callers). */
  stopSignal?: AbortSignal;
  /** Poll interval of `-f` (ms). */
  pollMs?: number;
}

/** Rotated files first (oldest, NAME.log.N, first), the current file last; only those that exist. */
export function logFilesOf(state: StateDir, name: string): string[] {
  const current = state.logFile(name);
  const rotated: string[] = [];
  for (let i = 1; existsSync(`${current}.${i}`); i++) rotated.unshift(`${current}.${i}`);
  return existsSync(current) ? [...rotated, current] : rotated;
}

export async function runLogs(ctx: LogsContext, name: string, opts: LogsOptions): Promise<void> {
  const node = ctx.topology.nodes.find((n) => n.name === name);
  if (node === undefined) {
    const known = ctx.topology.nodes.map((n) => n.name).join(", ");
    throw new CliError(`logs: no node '${name}' in ${ctx.configFile}; expected one of its nodes: ${known}`, 2);
  }
  const current = ctx.state.logFile(name);
  const files = logFilesOf(ctx.state, name);
  if (files.length === 0 && !opts.follow) {
    throw new CliError(`logs: ${node.kind} ${name} has no log yet (${current} does not exist); start it: dske-cli start`);
  }
  const print = (line: string) => ctx.out.line(opts.json ? line : humanLogLine(line));
  // The tail: newest file first, until N lines are collected.
  const tail: string[] = [];
  let followFrom = statOrUndefined(current)?.size ?? 0;
  for (const file of [...files].reverse()) {
    if (tail.length >= opts.lines) break;
    const text = readFileSync(file);
    if (file === current) followFrom = text.length;
    const lines = text
      .toString("utf8")
      .split("\n")
      .filter((l) => l.trim() !== "");
    tail.unshift(...lines.slice(-(opts.lines - tail.length)));
  }
  tail.forEach(print);
  if (!opts.follow) return;
  await follow(current, followFrom, print, ctx.pollMs ?? 200, ctx.stopSignal);
}

/** Print lines appended to `file` from byte `from` on, until stopped; reopens after a rotation. */
async function follow(file: string, from: number, print: (line: string) => void, pollMs: number, stopSignal?: AbortSignal): Promise<void> {
  const state = { stopped: false };
  const stop = untilStopped(stopSignal).then(() => {
    state.stopped = true;
  });
  let fd: number | undefined;
  let pos = from;
  let partial = "";
  const buf = Buffer.alloc(64 * 1024);
  const drain = () => {
    if (fd === undefined) return;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      pos += n;
      partial += buf.toString("utf8", 0, n);
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      lines.filter((l) => l.trim() !== "").forEach(print);
    }
  };
  try {
    while (!state.stopped) {
      if (fd === undefined && existsSync(file)) fd = openSync(file, "r");
      drain();
      if (fd !== undefined) {
        const now = statOrUndefined(file);
        const mine = fstatSync(fd);
        if (now !== undefined && (now.ino !== mine.ino || now.size < pos)) {
          // Rotated (or truncated): finish the old file, then read the new one from its start.
          drain();
          closeSync(fd);
          fd = undefined;
          pos = 0;
          partial = "";
          continue;
        }
      }
      await Promise.race([stop, new Promise((r) => setTimeout(r, pollMs))]);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function statOrUndefined(file: string): { ino: number; size: number } | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}
