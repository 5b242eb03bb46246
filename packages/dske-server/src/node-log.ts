/**
 * The log of a node process (the `dske-hub` and `dske-client` bins): with `--log-file FILE` the
 * node writes FILE itself, rotated by size, and every line of it is one JSON object.
 *
 * - Lines: pino (createNodeLogger) on a rotating file stream (`rotating-file-stream`, classical
 *   logrotate mode: `FILE` is rotated to `FILE.1` when it would exceed `maxSize`, `FILE.1` to
 *   `FILE.2`, ..., keeping `maxFiles` rotated files). In process, no worker thread (pino's
 *   transports run in one, which costs each node several MB; see the package README).
 * - Whatever else the process writes to stdout or stderr (a library's warning, Node's deprecation
 *   notices) is captured and written as a JSON line `{"level","time","kind","node","stream","msg"}`
 *   (stdio-capture.ts), so the file stays JSON lines.
 * - An uncaught exception is logged as one `fatal` line before the process exits with code 1.
 * - `close()` flushes and closes the file (call it before process.exit).
 *
 * Without a file: pino JSON lines on stdout/stderr as before (createNodeLogger's default).
 */
import { appendFileSync } from "node:fs";
import path from "node:path";
import { createStream } from "rotating-file-stream";
import { createNodeLogger, type NodeLoggerOptions, type PinoLogger } from "./log.js";
import { captureStdio } from "./stdio-capture.js";
import type { LogConfig } from "./log-options.js";

/** The longest a logged line waits before it is written to the log file. */
export const FLUSH_MS = 20;

export interface NodeLog {
  readonly logger: PinoLogger;
  /** Flush and close the log file (no-op without one). */
  close(): Promise<void>;
}

export interface OpenNodeLogOptions {
  kind: NodeLoggerOptions["kind"];
  name: string;
  /** Log file, rotation and level (without a file: JSON lines on stdout/stderr). */
  log?: LogConfig;
  /** With a file: log an uncaught exception as `fatal` and exit 1 (default true; tests turn it off). */
  handleUncaught?: boolean;
  /**
   * With a file: write what the process prints on stdout/stderr into it (default true). A process
   * that hosts several nodes (dske-cli's node host) turns it off: the process's output belongs to
   * none of them.
   */
  captureStdio?: boolean;
}

/** The node's logger, writing to its log file when one is configured. */
export function openNodeLog(options: OpenNodeLogOptions): NodeLog {
  const { kind, name, log } = options;
  const level = log?.level;
  const file = log?.file;
  if (log === undefined || file === undefined) {
    return { logger: createNodeLogger({ kind, name, ...(level ? { level } : {}) }), close: () => Promise.resolve() };
  }
  const base = path.basename(file);
  const stream = createStream((index: number | Date | null) => (typeof index === "number" && index > 0 ? `${base}.${index}` : base), {
    path: path.dirname(path.resolve(file)),
    size: log.maxSize,
    rotate: log.maxFiles,
  });
  let failed = false;
  stream.on("error", (err) => {
    // The log cannot be written (disk full, directory removed): keep serving, say so once on the
    // process's own stderr (no longer captured).
    if (failed) return;
    failed = true;
    restoreStdio();
    process.stderr.write(`dske-${kind} ${name}: cannot write log file ${file}: ${err.message}\n`);
  });
  // Lines go to the stream in chunks, at most one per FLUSH_MS (a chunk costs a Writable pass and
  // a thread-pool write, 30-40 µs of CPU whatever its size; a request line costs about 8 µs to
  // format). A line reaches the file at most FLUSH_MS after it was logged (kill -9 loses at most
  // those); an orderly exit writes what is pending (close, the exit handler below).
  let pending = "";
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending === "" || stream.writableEnded || failed) return;
    const chunk = pending;
    pending = "";
    stream.write(chunk);
  };
  const write = (line: string) => {
    pending += line;
    if (pending.length >= 64 * 1024)
      flush(); // keeps rotation close to the size limit
    else timer ??= setTimeout(flush, FLUSH_MS);
  };
  // A process.exit elsewhere: the lines of this turn still reach the file (best effort, synchronous).
  process.on("exit", () => {
    if (pending === "" || closing !== undefined) return;
    try {
      appendFileSync(file, pending);
    } catch {
      // nothing left to report it to
    }
  });
  const logger = createNodeLogger({ kind, name, destination: { write }, ...(level ? { level } : {}) });
  const restoreStdio = options.captureStdio === false ? () => undefined : captureStdio(write, { kind, node: name });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      restoreStdio();
      flush();
      if (stream.writableFinished || failed) {
        resolve();
        return;
      }
      stream.once("finish", () => resolve());
      stream.once("error", () => resolve());
      stream.end();
    });
    return closing;
  };
  if (options.handleUncaught !== false) {
    process.on("uncaughtException", (err, origin) => {
      logger.fatal({ err, origin }, "uncaught exception");
      const exit = () => process.exit(1);
      setTimeout(exit, 2000).unref();
      void close().then(exit);
    });
  }
  return { logger, close };
}
