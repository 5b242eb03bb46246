/**
 * The standby node host: `dske-cli start` spawns the node host (node-host.ts) first thing, before
 * it loads its own modules and reads the configuration, and hands it the nodes to run once it knows
 * them. Why: each of the two processes spends about 0.3–0.4 s starting Node and loading its
 * modules (zod, yaml, express...). One after the other, that was a fifth of the default topology's
 * first start; side by side they overlap on a second core (README, "Lean nodes").
 *
 * - bin.ts calls spawnStandbyHost() when its command line may be a `start` that shares a process
 *   (wantsStandbyHost: a guess made before the configuration is read; a wrong one costs a process
 *   that exits as soon as dske-cli does).
 * - The standby loads the node host's modules and waits for one handover (standbyHandoverSchema,
 *   a JSON document on stdin). On end of input without one (dske-cli did not need it: the nodes
 *   run in separate processes, or the start failed before) it exits 0 without a word.
 * - ProcessManager.spawnHost takes it (takeStandbyHost) where it would spawn a host, and hands it
 *   the spec and node names it would have put on the host's command line. It spawns a fresh host
 *   instead when there is no standby, when it is gone, or when the command line does not fit.
 * - The host is known by the node names on its command line (isNodeProcessAlive). The standby's
 *   command line reserves TITLE_ROOM characters; at the handover the host sets process.title to
 *   the command line a fresh host would have had, which Linux shows in /proc/PID/cmdline (as one
 *   string: isNodeProcessAlive splits it at spaces too).
 * - Output: a fresh host's stdout and stderr go to `<state>/logs/host-FIRST.log`. The standby's go
 *   nowhere until the handover names that file; from then on what the host writes to them is
 *   appended there. A message Node's native code writes to stderr as the process dies (V8 out of
 *   memory) is not caught this way; every JavaScript error still reaches the nodes' own logs.
 *
 * Only Node's built-in modules here: bin.ts imports this before anything else.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

/** The standby host's first argument (node-host-bin.ts). */
export const STANDBY_FLAG = "--standby";
/** Characters reserved on the standby's command line for the title it takes at the handover. */
export const TITLE_ROOM = 4096;

/**
 * `<@dske/cli dir>/dist/node-host.js`: the node host of `processes: shared` (node-host.ts). Resolved
 * through the package's own name, so that it is found from the bin, the library and its tests alike.
 */
export function nodeHostScript(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve("@dske/cli/package.json")), "dist", "node-host.js");
}

/**
 * Node flags for every node and node host, from two diagnostic variables: DSKE_CPU_PROF_DIR (each
 * writes a V8 CPU profile there on exit, e.g. for the e2e bench) and DSKE_NODE_FLAGS (extra
 * Node/V8 flags, e.g. "--trace-deopt --perf-basic-prof", which NODE_OPTIONS does not allow).
 */
export function diagnosticNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const prof = env.DSKE_CPU_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${env.DSKE_CPU_PROF_DIR}`] : [];
  const flags = (env.DSKE_NODE_FLAGS ?? "").split(/\s+/).filter((f) => f.startsWith("--"));
  return [...prof, ...flags];
}

/**
 * Whether `dske-cli ARGS` may start nodes in a shared process: `start` is on the command line and
 * neither `--processes separate` nor a restart policy (which runs each node on its own) is.
 * What the configuration file says is not known yet; ProcessManager releases an unneeded standby.
 */
export function wantsStandbyHost(args: readonly string[]): boolean {
  if (!args.includes("start") || args.includes("--help") || args.includes("-h")) return false;
  if (process.env.DSKE_NO_STANDBY_HOST) return false;
  for (const [i, a] of args.entries()) {
    if (a === "--restart" || a.startsWith("--restart=")) return false;
    if (a === "--processes=separate" || (a === "--processes" && args[i + 1] === "separate")) return false;
  }
  return true;
}

let standby: ChildProcess | undefined;

/** Spawn the standby host (detached, like a fresh host); it ends when this process does. */
export function spawnStandbyHost(): void {
  try {
    const child = spawn(process.execPath, [...diagnosticNodeFlags(), nodeHostScript(), STANDBY_FLAG, "_".repeat(TITLE_ROOM)], {
      detached: true,
      stdio: ["pipe", "ignore", "ignore"],
    });
    child.on("error", () => {
      // A failed spawn leaves no standby: spawnHost starts a fresh host.
    });
    child.stdin.on("error", () => {
      // EPIPE: the standby died; spawnHost sees it gone and starts a fresh host.
    });
    child.unref();
    // The pipe to the standby must not keep dske-cli running: its end is the standby's cue to exit.
    // why the cast: stdin of a spawned child is a net.Socket over a pipe, typed as a plain Writable.
    (child.stdin as unknown as { unref(): void }).unref();
    standby = child;
  } catch {
    standby = undefined;
  }
}

/** The standby host if one is still waiting (it is then no longer anyone else's). */
export function takeStandbyHost(): ChildProcess | undefined {
  const child = standby;
  standby = undefined;
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null || child.stdin === null) return undefined;
  return child;
}

/** Let an unneeded standby go now (it exits at the end of its input) rather than when dske-cli ends. */
export function releaseStandbyHost(): void {
  takeStandbyHost()?.stdin?.end();
}
