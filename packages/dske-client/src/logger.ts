/**
 * Minimal line logger. Log lines name nodes, SAEs, key IDs, hubs, sizes and counts — never key,
 * share or PSRD bytes.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** One line per event on stdout/stderr, ISO timestamp first. */
export function consoleLogger(prefix = ""): Logger {
  const line = (level: string, message: string) => `${new Date().toISOString()} ${level} ${prefix}${message}`;
  return {
    info: (m) => console.log(line("INFO", m)),
    warn: (m) => console.warn(line("WARN", m)),
    error: (m) => console.error(line("ERROR", m)),
  };
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
