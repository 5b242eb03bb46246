/**
 * The log options of the node bins (`dske-hub`, `dske-client`): `--log-file FILE` (the node writes
 * and rotates it, node-log.ts), `--log-max-size SIZE` (rotate when the file would exceed it:
 * a number with B, K, M or G, e.g. 10M), `--log-max-files N` (rotated files kept) and
 * `--log-level LEVEL`. Checked with zod; an error names the option and the fix.
 */
import { z } from "zod";

export const DEFAULT_LOG_MAX_SIZE = "10M";
export const DEFAULT_LOG_MAX_FILES = 5;
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogConfig {
  /** The log file (absent: JSON lines on stdout/stderr). */
  file?: string;
  /** rotating-file-stream size: digits and a unit (B, K, M, G). */
  maxSize: `${number}${"B" | "K" | "M" | "G"}`;
  /** Rotated files kept (FILE.1 ... FILE.N). */
  maxFiles: number;
  level?: LogLevel;
}

/** Commander option specs (flags, description, default) shared by both bins. */
export const LOG_OPTION_SPECS: readonly (readonly [flags: string, description: string, defaultValue?: string])[] = [
  ["--log-file <file>", "write the log (JSON lines) to this file and rotate it by size (default: JSON lines on stdout)"],
  ["--log-max-size <size>", "with --log-file: rotate when the file reaches this size (B, K, M or G, e.g. 10M)", DEFAULT_LOG_MAX_SIZE],
  ["--log-max-files <n>", "with --log-file: rotated files kept (FILE.1 ... FILE.N)", String(DEFAULT_LOG_MAX_FILES)],
  ["--log-level <level>", `least level logged: ${LOG_LEVELS.join(", ")} (default info, or env DSKE_LOG_LEVEL)`],
];

const sizeSchema = z
  .string()
  .regex(/^[1-9][0-9]{0,9}[BKMG]$/, { error: "expected a size like 10M (a positive integer and B, K, M or G), e.g. --log-max-size 10M" });
const filesSchema = z
  .string()
  .regex(/^[0-9]{1,4}$/, { error: "expected an integer from 1 to 1000, e.g. --log-max-files 5" })
  .transform(Number)
  .refine((n) => n >= 1 && n <= 1000, { error: "expected an integer from 1 to 1000, e.g. --log-max-files 5" });
const levelSchema = z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(", ")}` });

/** The parsed log options; `usage` makes the bin's usage error. */
export function logConfigOf(
  o: { logFile?: string; logMaxSize?: string; logMaxFiles?: string; logLevel?: string },
  usage: (message: string) => Error,
): LogConfig {
  const check = <T>(schema: z.ZodType<T, string>, value: string, option: string): T => {
    const r = schema.safeParse(value);
    if (!r.success) throw usage(`invalid ${option} ${JSON.stringify(value)}: ${r.error.issues[0].message}`);
    return r.data;
  };
  const maxSize = check(sizeSchema, o.logMaxSize ?? DEFAULT_LOG_MAX_SIZE, "--log-max-size") as LogConfig["maxSize"];
  const maxFiles = check(filesSchema, o.logMaxFiles ?? String(DEFAULT_LOG_MAX_FILES), "--log-max-files");
  const level = o.logLevel !== undefined ? check(levelSchema, o.logLevel, "--log-level") : undefined;
  if (o.logFile !== undefined && o.logFile.trim() === "") throw usage("invalid --log-file: expected a file path, e.g. --log-file node.log");
  return { ...(o.logFile !== undefined ? { file: o.logFile } : {}), maxSize, maxFiles, ...(level ? { level } : {}) };
}
