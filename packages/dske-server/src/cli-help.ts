/**
 * How the node binaries' `--help` shows option defaults: as typed on the command line
 * (`default: 127.0.0.1`), not as JSON (`default: "127.0.0.1"`), and none for a list that starts
 * empty. For commander's configureHelp: `program.configureHelp({ optionDescription: plainOptionDescription })`.
 */

/** The fields of a commander Option that the description uses. */
export interface HelpOption {
  readonly description: string;
  readonly defaultValue?: unknown;
  readonly defaultValueDescription?: string;
  readonly argChoices?: readonly string[];
  readonly required: boolean;
  readonly optional: boolean;
}

/** A default value as typed; undefined when there is nothing worth showing. */
export function plainDefault(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map((v) => plainDefault(v) ?? "").join(", ");
  if (typeof value === "string") return value === "" ? undefined : value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return value.toString();
  return JSON.stringify(value);
}

/** commander's optionDescription with plain defaults and choices (a boolean flag's default is not shown). */
export function plainOptionDescription(option: HelpOption): string {
  const extra: string[] = [];
  if (option.argChoices) extra.push(`choices: ${option.argChoices.join(", ")}`);
  const takesValue = option.required || option.optional;
  const shown = takesValue ? (option.defaultValueDescription ?? plainDefault(option.defaultValue)) : undefined;
  if (shown !== undefined) extra.push(`default: ${shown}`);
  return extra.length > 0 ? `${option.description} (${extra.join(", ")})` : option.description;
}
