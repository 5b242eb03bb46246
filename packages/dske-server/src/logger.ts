/**
 * Adapters from the domain's `Logger` interface (@dske/protocol) to pino.
 *
 * - `pinoLogger(p)`: fields become JSON properties, the message `msg`.
 * - `consoleLogger(prefix, name)`: pino JSON lines on stdout, the message prefixed.
 */
import type { Logger } from "@dske/protocol";
import { createNodeLogger, type NodeLoggerOptions, type PinoLogger } from "./log.js";

/** A Logger writing through a pino logger (fields become JSON properties, the message `msg`). */
export function pinoLogger(p: PinoLogger): Logger & { readonly pino: PinoLogger } {
  return {
    pino: p,
    info: (m, f) => p.info(f ?? {}, m),
    warn: (m, f) => p.warn(f ?? {}, m),
    error: (m, f) => p.error(f ?? {}, m),
    debug: (m, f) => p.debug(f ?? {}, m),
  };
}

/** JSON lines on stdout (pino), the message prefixed with `prefix`. */
export function consoleLogger(prefix = "", name = "client", kind: NodeLoggerOptions["kind"] = "client"): Logger {
  const p = createNodeLogger({ kind, name });
  return {
    info: (m, f) => p.info(f ?? {}, prefix + m),
    warn: (m, f) => p.warn(f ?? {}, prefix + m),
    error: (m, f) => p.error(f ?? {}, prefix + m),
    debug: (m, f) => p.debug(f ?? {}, prefix + m),
  };
}
