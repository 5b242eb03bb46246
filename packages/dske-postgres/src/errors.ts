/**
 * Errors of @dske/postgres, as subclasses of @dske/psrd's PsrdError so that callers keep mapping
 * by `code`. PostgreSQL being down or unreachable is `PsrdUnavailableError` (code "unavailable"):
 * an HTTP layer answers 503 and retries later; the store recovers by itself once the server is back.
 */
import { PsrdError } from "@dske/psrd";

/** The database cannot be reached (down, restarting, network, too many connections). Retry later. */
export class PsrdUnavailableError extends PsrdError {
  declare readonly code: "unavailable";
  constructor(message: string) {
    super("unavailable", message);
  }
}

/** The key file is missing, unreadable, too open, or does not match the store. */
export class PsrdKeyFileError extends PsrdError {
  declare readonly code: "key_file";
  constructor(message: string) {
    super("key_file", message);
  }
}

/** SQLSTATE classes that mean "the server is not there (now)": connection exceptions, operator
 * intervention (shutdown, crash recovery), insufficient resources. */
const UNAVAILABLE_SQLSTATE = /^(08|57P|53)/;

/**
 * Whether a failed statement leaves its connection usable: the server answered with an error of
 * the statement itself (a RAISE, a constraint, a statement timeout), not one of the connection
 * (no SQLSTATE: reset, terminated, the driver's query timeout; or an "unavailable" SQLSTATE).
 */
export function isStatementError(e: unknown): boolean {
  const state = sqlState(e);
  return state !== undefined && !UNAVAILABLE_SQLSTATE.test(state);
}

/** Whether the server ended the session with this error (an "unavailable" SQLSTATE: 08, 57P, 53). */
export function isSessionEndError(e: unknown): boolean {
  return UNAVAILABLE_SQLSTATE.test(sqlState(e) ?? "");
}

/** SQLSTATEs after which the whole transaction is simply tried again. */
export const RETRY_SQLSTATES = new Set(["40001", "40P01"]);

/** The SQLSTATE of a driver error, if it has one. */
export function sqlState(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Map a driver error: PsrdErrors pass through; connection-level failures (no SQLSTATE: refused,
 * reset, terminated; or an "unavailable" SQLSTATE) become PsrdUnavailableError; the rest pass
 * through unchanged (a bug or a schema problem: not to be hidden as a 503).
 */
export function mapDbError(e: unknown): unknown {
  if (e instanceof PsrdError) return e;
  const state = sqlState(e);
  const message = messageOf(e);
  if (state === undefined || UNAVAILABLE_SQLSTATE.test(state)) {
    if (state !== undefined || isConnectionFailure(e)) return new PsrdUnavailableError(`PostgreSQL is unavailable: ${message}`);
  }
  return e;
}

/** The message of an error from whatever realm it comes (instanceof Error fails across realms). */
function messageOf(e: unknown): string {
  if (typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string")
    return (e as { message: string }).message;
  return "unknown error";
}

function isConnectionFailure(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const errno = (e as { code?: unknown }).code;
  if (typeof errno === "string" && /^E[A-Z]+$/.test(errno)) return true;
  return /connection|terminat|timeout|closed|not queryable|ECONN/i.test(messageOf(e));
}
