/**
 * zod issues of the command line as messages for a person: `--port: expected an integer from 0 to
 * 65535, got '70000'` instead of zod's `Too big: expected number to be <=65535`. Schemas with their
 * own wording (refinements) keep it; zod's generic wording is replaced by what is expected.
 */
import type { z } from "zod";

/** What a value must be, for zod's generic issue codes; undefined keeps the schema's own message. */
function expected(issue: z.core.$ZodIssue): string | undefined {
  switch (issue.code) {
    case "too_big":
      if (issue.origin === "string") return `expected at most ${String(issue.maximum)} characters`;
      if (issue.origin === "array" || issue.origin === "set") return `expected at most ${String(issue.maximum)} values`;
      return `expected at most ${String(issue.maximum)}`;
    case "too_small":
      if (issue.origin === "string")
        return Number(issue.minimum) <= 1 ? "expected a non-empty value" : `expected at least ${String(issue.minimum)} characters`;
      if (issue.origin === "array" || issue.origin === "set")
        return `expected at least ${String(issue.minimum)} value${Number(issue.minimum) === 1 ? "" : "s"}`;
      return `expected at least ${String(issue.minimum)}`;
    case "invalid_type":
      return issue.expected === "number" || issue.expected === "int" ? "expected an integer" : `expected ${issue.expected}`;
    case "invalid_value":
      return `expected one of ${issue.values.map(String).join(", ")}`;
    default:
      return undefined;
  }
}

const GENERIC = /^(Too big|Too small|Invalid input|Invalid option)/;

/** The message for one issue: the schema's own words, or what is expected and what was given. */
export function usageIssueText(issue: z.core.$ZodIssue, given: unknown): string {
  const own = !GENERIC.test(issue.message);
  const text = own ? issue.message : (expected(issue) ?? issue.message);
  const scalar = (v: unknown): string => (typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : "");
  const shown = Array.isArray(given) ? given.map(scalar).join(",") : scalar(given);
  // Refinements (code "custom") explain themselves; a value out of range or of the wrong kind is quoted back.
  const quote = issue.code !== "custom" && shown !== "";
  return quote ? `${text}, got '${shown}'` : text;
}
