/**
 * The one logger interface of hub and client domain code (no express, no pino types): one message
 * per event, with optional structured fields. Log lines name nodes, SAEs, key IDs, hubs, sizes and
 * counts, never key, share or PSRD bytes.
 *
 * Implementations: `silentLogger` (here), and in @dske/server `pinoLogger(p)` (structured JSON
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
