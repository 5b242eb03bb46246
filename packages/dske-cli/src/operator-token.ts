/**
 * The topology's operator token: `<state_dir>/operator-token`, 64 lowercase hex characters (32
 * random bytes) and a newline, mode 0600. Commands that start nodes create it when missing and
 * pass its path to every node (`--operator-token-file`); every command that calls management
 * routes (status, stop, the dashboard, start's readiness probes) sends it as
 * `Authorization: Bearer <token>`. The token never appears on a command line or in a log.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import path from "node:path";
import { CliError } from "./errors";

export const OPERATOR_TOKEN_FILE_NAME = "operator-token";

const TOKEN_RE = /^[0-9a-f]{64}$/;

export function operatorTokenPath(stateRoot: string): string {
  return path.join(stateRoot, OPERATOR_TOKEN_FILE_NAME);
}

/**
 * The token in `<stateRoot>/operator-token`, or undefined when the file does not exist (no node
 * was ever started with this state dir). A file readable by group or others, or with other
 * content than a token, is a CliError naming the file and the fix.
 */
export function readOperatorToken(stateRoot: string): string | undefined {
  const file = operatorTokenPath(stateRoot);
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`cannot read the operator token ${file}: ${(err as Error).message}`);
  }
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    throw new CliError(
      `the operator token ${file} is readable by group or others (mode ${(mode & 0o777).toString(8).padStart(3, "0")}): chmod 600 ${file}`,
    );
  }
  const token = readFileSync(file, "utf8").trim();
  if (!TOKEN_RE.test(token)) {
    throw new CliError(
      `the operator token ${file} does not hold 64 lowercase hex characters: delete it and start the topology again to create a new one`,
    );
  }
  return token;
}

/** Read the token, creating the file (mode 0600, exclusively) when it is missing. */
export function ensureOperatorToken(stateRoot: string): { token: string; created: boolean } {
  const existing = readOperatorToken(stateRoot);
  if (existing !== undefined) return { token: existing, created: false };
  mkdirSync(stateRoot, { recursive: true });
  const file = operatorTokenPath(stateRoot);
  const token = randomBytes(32).toString("hex");
  // Written in full to a private temporary file, then linked into place: readers never see a
  // partial file, and link() fails if another command created the token meanwhile.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const fd = openSync(tmp, "wx", 0o600);
    try {
      writeSync(fd, `${token}\n`);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, 0o600); // the umask cannot widen it, but be explicit
    try {
      linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") {
        const raced = readOperatorToken(stateRoot);
        if (raced !== undefined) return { token: raced, created: false };
      }
      throw err;
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot create the operator token ${file}: ${(err as Error).message}`);
  } finally {
    rmSync(tmp, { force: true });
  }
  return { token, created: true };
}
