/**
 * How `dske-cli --help` shows option defaults: as the user would type them (`default:
 * dske-config.yaml`, `default: 65536`), not as JSON (`default: "dske-config.yaml"`), and not at all
 * for a repeatable option that starts empty (`default: []`). Passed to commander's configureHelp.
 */
import type { Option } from "commander";

/** A default value as typed on the command line; undefined when there is nothing worth showing. */
export function defaultText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map((v) => defaultText(v) ?? "").join(", ");
  if (typeof value === "string") return value === "" ? undefined : value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return value.toString();
  return JSON.stringify(value);
}

/** commander's optionDescription with plain defaults and choices. */
export function optionDescription(option: Option): string {
  const extra: string[] = [];
  if (option.argChoices) extra.push(`choices: ${option.argChoices.join(", ")}`);
  // A boolean flag's default (false) says nothing to a user.
  const takesValue = option.required || option.optional;
  const shown = takesValue ? (option.defaultValueDescription ?? defaultText(option.defaultValue)) : undefined;
  if (shown !== undefined) extra.push(`default: ${shown}`);
  return extra.length > 0 ? `${option.description} (${extra.join(", ")})` : option.description;
}

/** The help settings every dske-cli command uses. */
export const HELP_CONFIG = { optionDescription };
