/**
 * The logger interface domain code uses (no express, no pino types): one message per event, with
 * optional structured fields. Log lines name nodes, SAEs, key IDs, hubs, sizes and counts — never
 * key, share or PSRD bytes.
 *
 * Implementations: `pinoLogger(p)` (structured JSON lines through pino; what the standalone server
 * uses, see `createNodeLogger` in @dske/hub for the node fields and request IDs),
 * `consoleLogger(prefix)` (pino JSON lines on stdout) and `silentLogger`.
 */
import { createNodeLogger, type PinoLogger } from "@dske/server";

/** Structured fields of a log line (names, IDs, sizes, counts; never secrets). */
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** A Logger writing through a pino logger (fields become JSON properties, the message `msg`). */
export function pinoLogger(p: PinoLogger): Logger & { readonly pino: PinoLogger } {
  return {
    pino: p,
    info: (m, f) => p.info(f ?? {}, m),
    warn: (m, f) => p.warn(f ?? {}, m),
    error: (m, f) => p.error(f ?? {}, m),
  };
}

/** JSON lines on stdout (pino), the message prefixed with `prefix`. */
export function consoleLogger(prefix = "", name = "client"): Logger {
  const p = createNodeLogger({ kind: "client", name });
  return {
    info: (m, f) => p.info(f ?? {}, prefix + m),
    warn: (m, f) => p.warn(f ?? {}, prefix + m),
    error: (m, f) => p.error(f ?? {}, prefix + m),
  };
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
