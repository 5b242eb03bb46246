/**
 * The node host (`processes: shared`, built to dist/node-host.js): runs several hubs and clients
 * in one Node process, `node node-host.js SPEC NAME...` (node-host-spec.ts).
 *
 * Why: a Node process costs about 40 MB before it runs a line of dske (the executable's own
 * pages, V8's heap and code space), and a node of the default topology about 80 MB on its own.
 * Ten nodes on one host share one runtime here: its modules, its compiled code and its heap.
 * Each node keeps what makes it a node: its port, its state dir, its log file (JSON lines, rotated
 * as on its own), its metrics registry and its pid file (holding the host's pid).
 *
 * - Start: every node is started as its own bin would (parse its arguments, open its log, start
 *   its server). If one cannot start, the ones that did are stopped and the host exits with code 1;
 *   the reason is in that node's log, where `dske-cli start` reads it.
 * - A node stopped through its management API (`dske-cli stop NAME`) stops alone: the host removes
 *   its pid file and goes on with the others; it exits when the last one stopped.
 * - SIGTERM/SIGINT stop every node, then the host exits 0. An uncaught exception is logged as
 *   `fatal` in every node's log and the host exits 1: all its nodes crash together, which is the
 *   price of sharing a process (the README's "One process per host").
 */
import { openSync, readFileSync, rmSync, writeSync } from "node:fs";
import type { Readable } from "node:stream";
import { openNodeLog, type NodeLog } from "@dske/server";
import { parseHubArgs, startHubServer, CliUsageError } from "@dske/hub";
import { parseClientArgs, pinoLogger, startClientServer } from "@dske/client";
import { checked, readNodeHostSpec, standbyHandoverSchema, type HostedNode, type StandbyHandover } from "./node-host-spec";

interface Running {
  readonly node: HostedNode;
  readonly log: NodeLog;
  stop(): Promise<void>;
  /** Resolves once the node stopped (by stop(), or by its management API). */
  readonly stopped: Promise<void>;
}

/** A node that could not start (its log already says why). */
class StartFailed extends Error {}

/** `clientsListening`: resolves once the host's clients listen (or failed to start); hubs start their local distributor then. */
async function startNode(node: HostedNode, clientsListening: Promise<void>): Promise<Running> {
  if (node.kind === "hub") {
    let config;
    try {
      config = parseHubArgs(node.args);
    } catch (err) {
      throw new StartFailed(`${node.name}: ${err instanceof CliUsageError ? err.message : String(err)}`);
    }
    const log = openNodeLog({ kind: "hub", name: config.name, log: config.log, handleUncaught: false, captureStdio: false });
    let resolveStopped = () => {};
    const stopped = new Promise<void>((r) => (resolveStopped = r));
    try {
      const running = await startHubServer(config, {
        logger: log.logger,
        onStopped: resolveStopped,
        processMetrics: true,
        distributeAfter: clientsListening,
      });
      log.logger.info({ url: running.url, host_pid: process.pid }, "listening");
      const stop = () => running.stop().then(resolveStopped);
      return { node, log, stop, stopped };
    } catch (err) {
      log.logger.fatal({ error: err instanceof Error ? err.message : String(err) }, "cannot start");
      await log.close();
      throw new StartFailed(node.name);
    }
  }
  let config;
  try {
    config = await parseClientArgs(node.args);
  } catch (err) {
    throw new StartFailed(`${node.name}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const log = openNodeLog({ kind: "client", name: config.name, log: config.log, handleUncaught: false, captureStdio: false });
  try {
    const running = await startClientServer(config, { processMetrics: true, logger: pinoLogger(log.logger) });
    log.logger.info({ url: running.url, host_pid: process.pid }, "listening");
    return { node, log, stop: () => running.stop(), stopped: running.stopped };
  } catch (err) {
    log.logger.fatal({ error: err instanceof Error ? err.message : String(err) }, "cannot start");
    await log.close();
    throw new StartFailed(node.name);
  }
}

/** Remove the node's pid file if it still names this process (a later start may have replaced it). */
function releasePidFile(file: string): void {
  try {
    if (Number.parseInt(readFileSync(file, "utf8").trim(), 10) === process.pid) rmSync(file, { force: true });
  } catch {
    // already gone
  }
}

export interface NodeHostOptions {
  /** How the host ends (default process.exit; tests pass their own). */
  exit?: (code: number) => void;
  /** Stop on SIGTERM/SIGINT and log uncaught exceptions (default true; tests turn it off). */
  processHandlers?: boolean;
}

export async function runNodeHost(argv: readonly string[] = process.argv.slice(2), options: NodeHostOptions = {}): Promise<void> {
  const end = options.exit ?? ((code: number) => process.exit(code));
  if (argv.length === 0) {
    process.stderr.write("dske-node-host: usage: node-host.js SPEC_FILE NODE_NAME... (run by dske-cli start with processes: shared)\n");
    process.exitCode = 2;
    return;
  }
  const spec = readNodeHostSpec(argv[0]);
  // Signals from the start on: one that arrives while the nodes start stops them once they have.
  let signalled: string | undefined;
  let onSignal = (signal: string) => {
    signalled ??= signal;
  };
  const handlers = options.processHandlers !== false;
  if (handlers) {
    process.once("SIGTERM", () => onSignal("SIGTERM"));
    process.once("SIGINT", () => onSignal("SIGINT"));
  }
  // Hubs first: a client registers with its hubs as soon as it listens, and one that finds a hub
  // not yet listening retries only after a backoff (clients on their own processes race the same way).
  // The hubs' local distributors start once the clients listen, so that their first reading of a
  // client's PSRD needs finds it (no refused connections, no backoff to wait out).
  let clientsStarted = (): void => undefined;
  const clientsListening = new Promise<void>((resolve) => (clientsStarted = resolve));
  const hubs = await Promise.allSettled(spec.nodes.filter((n) => n.kind === "hub").map((n) => startNode(n, clientsListening)));
  const clients = await Promise.allSettled(spec.nodes.filter((n) => n.kind === "client").map((n) => startNode(n, clientsListening)));
  clientsStarted();
  const results = [...hubs, ...clients];
  const running = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (failed.length > 0) {
    for (const f of failed) process.stderr.write(`dske-node-host: cannot start ${f instanceof Error ? f.message : String(f)}\n`);
    await Promise.all(
      running.map(async (r) => {
        await r.stop();
        await r.log.close();
      }),
    );
    end(1);
    return;
  }
  let left = running.length;
  let exiting = false;
  const exit = (code: number) => {
    if (exiting) return;
    exiting = true;
    void Promise.all(running.map((r) => r.log.close())).finally(() => end(code));
  };
  for (const r of running) {
    void r.stopped.then(() => {
      r.log.logger.info(
        { host_pid: process.pid, nodes_left: left - 1 },
        left > 1 ? "stopped; the node host goes on with the others" : "stopped; the node host exits",
      );
      releasePidFile(r.node.pidFile);
      left -= 1;
      if (left === 0) exit(0);
    });
  }
  onSignal = (signal: string) => {
    for (const r of running) r.log.logger.info({ signal }, "stopping");
    void Promise.all(running.map((r) => r.stop().catch(() => undefined))).then(() => exit(0));
  };
  if (signalled !== undefined) onSignal(signalled);
  if (!handlers) return;
  process.on("uncaughtException", (err, origin) => {
    for (const r of running) r.log.logger.fatal({ err, origin, host_pid: process.pid }, "uncaught exception in the node host");
    setTimeout(() => process.exit(1), 2000).unref();
    void Promise.all(running.map((r) => r.log.close())).finally(() => process.exit(1));
  });
}

/** The handover on `input` (a standby's stdin), or undefined at end of input without one. */
export async function readHandover(input: Readable): Promise<StandbyHandover | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`standby handover: not JSON (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  return checked(standbyHandoverSchema, raw, "standby handover");
}

/** From now on, what is written to `streams` (the host's stdout and stderr) is appended to `file`. */
export function redirectOutput(file: string, streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  const fd = openSync(file, "a", 0o600);
  const write = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
    const data =
      typeof chunk === "string"
        ? Buffer.from(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8")
        : (chunk as Uint8Array);
    try {
      writeSync(fd, data);
    } catch {
      // The log file is gone or full: output is lost, the nodes go on.
    }
    const done = typeof encoding === "function" ? encoding : cb;
    if (typeof done === "function") (done as () => void)();
    return true;
  };
  for (const stream of streams) stream.write = write;
}

/**
 * A standby node host (standby-host.ts): wait for the handover on `input`, then run the nodes it
 * names as a fresh host would (its title, working directory and output file first). At end of
 * input without a handover, return without starting anything.
 */
export async function runStandbyHost(input: Readable = process.stdin, options: NodeHostOptions = {}): Promise<void> {
  const handover = await readHandover(input);
  if (handover === undefined) return;
  redirectOutput(handover.output);
  process.title = handover.title;
  process.chdir(handover.cwd);
  await runNodeHost(handover.argv, options);
}
