/**
 * Helpers for values whose run-time type or shape the static types do not guarantee: arguments
 * from JavaScript callers, thrown values, indexes read from disk.
 */
import { types } from "node:util";

/** String(value), for a value that may be of another type at run time than its static one. */
export function toText(value: unknown): string {
  return String(value);
}

/** A thrown value as an Error: an Error (of any realm) as it is, anything else wrapped in one. */
export function toError(e: unknown): Error {
  return types.isNativeError(e) || e instanceof Error ? e : new Error(toText(e));
}

/** `items[index]`, or undefined when the index names no item (it may come from outside). */
export function itemAt<T>(items: readonly T[], index: number): T | undefined {
  return items[index];
}
