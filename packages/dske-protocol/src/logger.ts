/**
 * The one logger interface of hub and client domain code (no express, no pino types): one message
 * per event, with optional structured fields. Log lines name nodes, SAEs, key IDs, hubs, sizes and
 * counts, never key, share or PSRD bytes.
 *
 * Implementations: `silentLogger` and `capturingLogger` (here; the latter for tests), and in @dske/server `pinoLogger(p)` (structured JSON
 * lines through pino, with the node fields and request IDs of `createNodeLogger`) and
 * `consoleLogger(prefix)`.
 */

/** Structured fields of a log line (names, IDs, sizes, counts; never secrets). */
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** Routine events (hidden at the default level); optional: implementations without it drop them. */
  debug?(message: string, fields?: LogFields): void;
}

/** Drops every line. */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/** One line kept by `capturingLogger`. */
export interface CapturedLine {
  level: "info" | "warn" | "error" | "debug";
  message: string;
  fields: LogFields;
}

/** A Logger that keeps every line (level, message, fields) in `lines` (a new array unless given): for tests that assert on fields. */
export function capturingLogger(lines: CapturedLine[] = []): Logger & { readonly lines: CapturedLine[] } {
  const keep =
    (level: CapturedLine["level"]) =>
    (message: string, fields?: LogFields): void => {
      lines.push({ level, message, fields: fields ?? {} });
    };
  return { lines, info: keep("info"), warn: keep("warn"), error: keep("error"), debug: keep("debug") };
}
