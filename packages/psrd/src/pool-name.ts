/** Pool names: every non-empty string of at most 200 characters without control characters. */
import { PsrdArgumentError, PsrdOwnerError } from "./errors.js";
import type { PoolOwner } from "./types.js";

export const MAX_POOL_NAME_LENGTH = 200;

export function checkPoolName(name: string): void {
  // eslint-disable-next-line no-control-regex
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_POOL_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new PsrdArgumentError(`pool name must be 1..${MAX_POOL_NAME_LENGTH} characters without control characters`);
  }
}

/** Throws PsrdOwnerError unless `owner` is "local" or "peer" (JavaScript callers may pass anything). */
export function checkPoolOwner(owner: unknown): asserts owner is PoolOwner {
  if (owner !== "local" && owner !== "peer") throw new PsrdOwnerError(`owner must be "local" or "peer"`);
}

/** Pool name → file-system-safe directory name (reversible): [A-Za-z0-9_-] kept, other bytes %XX. */
export function encodePoolName(name: string): string {
  let out = "";
  for (const byte of Buffer.from(name, "utf8")) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

export function decodePoolName(dirName: string): string | undefined {
  if (!/^([A-Za-z0-9_-]|%[0-9A-F]{2})+$/.test(dirName)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < dirName.length;) {
    if (dirName[i] === "%") {
      bytes.push(parseInt(dirName.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      bytes.push(dirName.charCodeAt(i));
      i++;
    }
  }
  return Buffer.from(bytes).toString("utf8");
}
